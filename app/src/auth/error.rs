use crate::domain::AppError;
use crate::domain::{Channel, CodeError, IdentifierError};

use super::delivery::DeliveryError;
use super::limits::Limit;

/// What can go wrong in the auth core. Expected outcomes are variants;
/// everything else is `Unexpected`, whose cause is logged and never shown.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    InvalidIdentifier(#[from] IdentifierError),
    #[error(transparent)]
    InvalidCode(#[from] CodeError),
    #[error("wrong code, {attempts_left} attempts left")]
    WrongCode { attempts_left: u32 },
    #[error("challenge burned after too many attempts")]
    TooManyAttempts,
    #[error("challenge expired")]
    Expired,
    #[error("challenge already used")]
    Used,
    #[error("challenge superseded by a newer code")]
    Superseded,
    #[error("no such challenge")]
    NoChallenge,
    /// The link approved this sign-in from another device: the code no
    /// longer works, the asking browser finishes with the approval.
    #[error("challenge approved from another device")]
    ApprovedElsewhere,
    #[error("challenge not approved yet")]
    NotApprovedYet,
    /// Ended by "that wasn't me".
    #[error("challenge reported as not asked for")]
    Reported,
    #[error("report link expired or unknown")]
    ReportUnusable,
    #[error("could not deliver to {masked}: {source}")]
    Delivery { masked: String, channel: Channel, source: DeliveryError },
    #[error("not signed in")]
    NotSignedIn,
    #[error("too many codes requested ({}); retry after {retry_after_secs} s", limit.as_str())]
    SendLimited { retry_after_secs: u64, limit: Limit },
    #[error("too many verification attempts ({}); retry after {retry_after_secs} s", limit.as_str())]
    VerifyLimited { retry_after_secs: u64, limit: Limit },
    #[error("no text message now ({})", limit.as_str())]
    SmsUnavailable { limit: Limit },
    #[error("SMS to that country calling code are not allowed")]
    SmsCountryNotAllowed,
    #[error("SMS delivery is switched off")]
    SmsNotOffered,
    #[error("sign-in link expired, used or unknown")]
    LinkUnusable,
    #[error("the sign-in link in this browser is not the one its page showed")]
    LinkChanged,
    /// The action needs a session that proved itself in the last minutes.
    #[error("a fresh proof is needed")]
    ProofNeeded,
    #[error("passkeys are off")]
    PasskeysOff,
    #[error("passkey ceremony expired, used or unknown")]
    PasskeyCeremonyGone,
    #[error("passkey not registered")]
    PasskeyUnknown,
    #[error("passkey answer refused")]
    PasskeyRefused,
    #[error("passkey already registered")]
    PasskeyAlreadyAdded,
    #[error("the account has no passkeys")]
    NoPasskeys,
    #[error("no such passkey")]
    NoSuchPasskey,
    #[error(transparent)]
    InvalidPasskeyName(#[from] crate::domain::PasskeyNameError),
    /// Not six digits and not a backup code: refused before it costs a try.
    #[error("not an authenticator or backup code")]
    AuthenticatorCodeShape,
    /// The half-finished sign-in is gone: expired, out of answers, ended by
    /// a report, or never here.
    #[error("the sign-in waiting for the authenticator app is gone")]
    SecondStepGone,
    /// Out of answers: the half-finished sign-in ended with this one.
    #[error("too many wrong authenticator codes")]
    SecondStepEnded,
    /// No `PASSCODE_TOTP_KEY`: authenticator apps can't be turned on.
    #[error("authenticator apps are off")]
    AuthenticatorsOff,
    /// A secret that can't be opened (its key is not configured any more,
    /// or the row is damaged): fail closed, backup codes still work.
    #[error("the authenticator secret can't be opened: {0}")]
    AuthenticatorSealed(#[from] super::sealing::OpenError),
    /// A wrong app or backup code to change the app (not a sign-in).
    #[error("wrong authenticator code")]
    WrongSecondFactor,
    #[error("not the code the app being set up shows")]
    WrongSetupCode,
    #[error("no authenticator app is being set up")]
    NoAuthenticatorSetup,
    #[error("an authenticator app is on already")]
    AuthenticatorAlreadyOn,
    #[error("no authenticator app is on")]
    NoAuthenticator,
    /// Hashing had to wait longer than its bound.
    #[error("too many codes being hashed")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<super::code_hash::HashError> for AuthError {
    fn from(e: super::code_hash::HashError) -> Self {
        match e {
            super::code_hash::HashError::Busy => AuthError::Busy,
            super::code_hash::HashError::Failed(e) => AuthError::Unexpected(e),
        }
    }
}

impl From<super::store::StoreError> for AuthError {
    fn from(e: super::store::StoreError) -> Self {
        AuthError::Unexpected(e.0.context("database"))
    }
}

/// The one place core errors become what a person sees.
impl From<AuthError> for AppError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidIdentifier(e) => AppError::InvalidIdentifier(e.to_string()),
            AuthError::InvalidCode(e) => AppError::InvalidCode(e.to_string()),
            AuthError::WrongCode { attempts_left } => AppError::WrongCode { attempts_left },
            AuthError::TooManyAttempts => AppError::TooManyAttempts,
            AuthError::Expired => AppError::CodeExpired,
            AuthError::Used => AppError::CodeUsed,
            AuthError::Superseded => AppError::CodeSuperseded,
            AuthError::NoChallenge => AppError::NoChallenge,
            AuthError::ApprovedElsewhere => AppError::ApprovedElsewhere,
            AuthError::NotApprovedYet => AppError::NotApprovedYet,
            // To the browser that asked, a reported sign-in reads like an
            // expired one: nothing tells a stranger that the owner noticed
            // (and that their next codes will be withheld).
            AuthError::Reported => AppError::CodeExpired,
            AuthError::ReportUnusable => AppError::ReportUnusable,
            AuthError::NotSignedIn => AppError::NotSignedIn,
            AuthError::SendLimited { retry_after_secs, .. } => AppError::SendLimited { retry_after_secs },
            AuthError::VerifyLimited { retry_after_secs, .. } => AppError::VerifyLimited { retry_after_secs },
            AuthError::SmsUnavailable { .. } => AppError::SmsUnavailable,
            // A full hashing queue reads like a full delivery queue.
            AuthError::Delivery { source: DeliveryError::Busy, .. } | AuthError::Busy => AppError::DeliveryBusy,
            AuthError::Delivery { masked, channel, source } => {
                tracing::error!(to = %masked, error = %source, "delivery failed");
                AppError::DeliveryFailed { destination: masked, by_sms: channel == Channel::Sms }
            }
            AuthError::SmsCountryNotAllowed => {
                AppError::InvalidIdentifier(crate::i18n::words::SMS_COUNTRY_NOT_ALLOWED.into())
            }
            AuthError::SmsNotOffered => AppError::InvalidIdentifier(crate::i18n::words::SMS_NOT_OFFERED.into()),
            AuthError::LinkUnusable => AppError::LinkUnusable,
            AuthError::LinkChanged => AppError::LinkChanged,
            AuthError::ProofNeeded => AppError::ProofNeeded,
            AuthError::PasskeysOff => AppError::PasskeysUnavailable,
            AuthError::PasskeyCeremonyGone => AppError::PasskeyExpired,
            AuthError::PasskeyUnknown => AppError::PasskeyUnknown,
            AuthError::PasskeyRefused => AppError::PasskeyRefused,
            AuthError::PasskeyAlreadyAdded => AppError::PasskeyAlreadyAdded,
            AuthError::NoPasskeys => AppError::NoPasskeys,
            AuthError::NoSuchPasskey => AppError::NoSuchPasskey,
            AuthError::InvalidPasskeyName(e) => AppError::InvalidPasskeyName(e.to_string()),
            AuthError::AuthenticatorCodeShape => AppError::AuthenticatorCodeShape,
            AuthError::SecondStepGone => AppError::SecondStepGone,
            AuthError::SecondStepEnded => AppError::SecondStepEnded,
            AuthError::AuthenticatorsOff => AppError::AuthenticatorsUnavailable,
            AuthError::AuthenticatorSealed(cause) => {
                tracing::error!(error = %cause, "an authenticator secret could not be opened");
                AppError::AuthenticatorUnavailable
            }
            AuthError::NoAuthenticatorSetup => AppError::AuthenticatorSetupGone,
            AuthError::WrongSetupCode => AppError::WrongSetupCode,
            AuthError::WrongSecondFactor => AppError::WrongSecondFactor,
            AuthError::AuthenticatorAlreadyOn => AppError::AuthenticatorAlreadyOn,
            AuthError::NoAuthenticator => AppError::NoAuthenticator,
            AuthError::Unexpected(cause) => {
                tracing::error!(error = ?cause, "unexpected failure in the auth core");
                AppError::Unavailable
            }
        }
    }
}
