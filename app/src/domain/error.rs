//! The one error type that crosses the wire. Every variant is safe to show:
//! none carries a code, a hash, a token or a hint about whether an identifier
//! is known. Server-side causes are logged where they are mapped, not here.

#[cfg(not(feature = "ssr"))]
use leptos::server_fn::codec::JsonEncoding;
#[cfg(not(feature = "ssr"))]
use leptos::server_fn::error::FromServerFnError;
use leptos::server_fn::error::ServerFnErrorErr;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The email address or phone number could not be understood; the text
    /// says what to fix.
    #[error("{0}")]
    InvalidIdentifier(String),
    /// The code is malformed (length or characters); the text says what to fix.
    #[error("{0}")]
    InvalidCode(String),
    #[error("That code isn't right. You have {attempts_left} {} left.", if *attempts_left == 1 { "try" } else { "tries" })]
    WrongCode { attempts_left: u32 },
    #[error("Too many wrong codes. This code no longer works: send a new one.")]
    TooManyAttempts,
    #[error("This code has expired. Send a new one.")]
    CodeExpired,
    #[error("This code has already been used. Send a new one if you need to sign in again.")]
    CodeUsed,
    #[error("A newer code was sent. Use the code from the latest message.")]
    CodeSuperseded,
    #[error("This sign-in was approved on your other device, so the code no longer works. Press “Continue” to finish.")]
    ApprovedElsewhere,
    #[error("Not approved yet. Open the link in the email on your other device and press “Approve”, then try again.")]
    NotApprovedYet,
    #[error("This link has expired or isn't valid. Nothing was changed.")]
    ReportUnusable,
    #[error("There is no sign-in in progress in this browser. Start again with your email address or phone number.")]
    NoChallenge,
    #[error("We couldn't send a code to {destination}. {}", if *by_sms { "Try again or use your email address instead." } else { "Please try again." })]
    DeliveryFailed { destination: String, by_sms: bool },
    /// A full delivery or hashing queue.
    #[error("We're handling a lot of sign-ins right now. Please try again in a few seconds.")]
    DeliveryBusy,
    #[error("You are not signed in.")]
    NotSignedIn,
    /// Too many codes asked for (per destination or per client). The same
    /// answer whatever the reason, so it reveals nothing about the address.
    #[error("You can request a new code in {}.", human_wait(*retry_after_secs))]
    SendLimited { retry_after_secs: u64 },
    #[error("Too many attempts. You can try again in {}.", human_wait(*retry_after_secs))]
    VerifyLimited { retry_after_secs: u64 },
    #[error("We can't send text messages right now. Please use your email address instead.")]
    SmsUnavailable,
    /// Expired, used, replaced by a newer code, or never valid: one answer.
    #[error("This sign-in link has expired or has already been used. Request a new code to sign in.")]
    LinkUnusable,
    /// The link in this browser is not the one the page showed (another
    /// link was opened since, perhaps by another site): nothing happened.
    #[error(
        "The sign-in link in this browser changed since this page was shown. Check the address above: sign in only if it is yours."
    )]
    LinkChanged,
    /// Removing or adding a passkey, or ending other sessions, needs a
    /// session that proved itself in the last few minutes.
    #[error("First confirm it's you: with your passkey, or with a new code.")]
    ProofNeeded,
    #[error("Passkeys aren't available here. Sign in with a code instead.")]
    PasskeysUnavailable,
    #[error("That passkey request expired. Please try again.")]
    PasskeyExpired,
    /// The authenticator offered a credential we don't know (removed, or
    /// made for another site with the same name).
    #[error("This passkey isn't registered with us (it may have been removed). Sign in with a code instead.")]
    PasskeyUnknown,
    /// Did not verify, or its counter went back (a copied authenticator?).
    #[error("We couldn't verify this passkey. Sign in with a code instead.")]
    PasskeyRefused,
    #[error("This passkey is already registered.")]
    PasskeyAlreadyAdded,
    #[error("This account has no passkey yet. Confirm with a code instead.")]
    NoPasskeys,
    #[error("That passkey is no longer on this account.")]
    NoSuchPasskey,
    #[error("{0}")]
    InvalidPasskeyName(String),
    #[error("Enter the 6-digit code from your authenticator app, or one of your backup codes.")]
    AuthenticatorCodeShape,
    #[error("This sign-in has ended or took too long. Start again with your email address or phone number.")]
    SecondStepGone,
    #[error("Too many wrong codes. This sign-in has ended: start again with your email address or phone number.")]
    SecondStepEnded,
    #[error("Authenticator apps aren't available here.")]
    AuthenticatorsUnavailable,
    /// The secret can't be opened (its key is gone from the configuration).
    #[error("We can't check authenticator codes right now. Use one of your backup codes, or try again later.")]
    AuthenticatorUnavailable,
    #[error(
        "That isn't the code your app shows for Passcode. Check you scanned this page's QR code, and type the newest code."
    )]
    WrongSetupCode,
    #[error("That code isn't right. Type the code your authenticator app shows now, or one of your backup codes.")]
    WrongSecondFactor,
    #[error("This set-up has expired. Start again from your account page.")]
    AuthenticatorSetupGone,
    #[error("An authenticator app is already on for this account.")]
    AuthenticatorAlreadyOn,
    #[error("No authenticator app is on for this account.")]
    NoAuthenticator,
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Unavailable,
    /// A fault of ours outside the auth core (Leptos could not serialise an
    /// answer, a server function failed to register): the words of
    /// `Unavailable`, reported as what it is.
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Internal,
    /// Transport-level failures (network down, malformed request).
    #[error("The request could not be completed. Check your connection and try again.")]
    Request(String),
}

impl AppError {
    /// Status for clients that are not plain browser form posts.
    pub fn status(&self) -> u16 {
        match self {
            AppError::InvalidIdentifier(_) | AppError::InvalidCode(_) => 422,
            AppError::WrongCode { .. } => 401,
            AppError::TooManyAttempts | AppError::CodeExpired | AppError::CodeUsed | AppError::CodeSuperseded => 410,
            AppError::NoChallenge => 404,
            AppError::ApprovedElsewhere | AppError::ReportUnusable => 410,
            AppError::NotApprovedYet => 409,
            AppError::LinkUnusable => 410,
            AppError::LinkChanged => 409,
            AppError::ProofNeeded => 403,
            AppError::PasskeysUnavailable => 404,
            AppError::PasskeyExpired => 410,
            AppError::PasskeyUnknown | AppError::PasskeyRefused => 401,
            AppError::PasskeyAlreadyAdded => 409,
            AppError::NoPasskeys | AppError::NoSuchPasskey => 404,
            AppError::InvalidPasskeyName(_) => 422,
            AppError::AuthenticatorCodeShape => 422,
            AppError::WrongSetupCode | AppError::WrongSecondFactor => 401,
            AppError::SecondStepGone | AppError::SecondStepEnded | AppError::AuthenticatorSetupGone => 410,
            AppError::AuthenticatorsUnavailable | AppError::NoAuthenticator => 404,
            AppError::AuthenticatorUnavailable => 503,
            AppError::AuthenticatorAlreadyOn => 409,
            AppError::NotSignedIn => 401,
            AppError::SendLimited { .. } | AppError::VerifyLimited { .. } => 429,
            AppError::SmsUnavailable => 503,
            // The provider or the relay failed us: "unavailable, try again",
            // never a 502, which a proxy in front says of us.
            AppError::DeliveryFailed { .. } => 503,
            AppError::DeliveryBusy => 503,
            AppError::Unavailable => 503,
            AppError::Internal => 500,
            AppError::Request(_) => 400,
        }
    }

    /// Which form field the message belongs next to.
    pub fn field(&self) -> Field {
        match self {
            AppError::InvalidIdentifier(_)
            | AppError::DeliveryFailed { .. }
            | AppError::SendLimited { .. }
            | AppError::SmsUnavailable => Field::Identifier,
            AppError::InvalidCode(_)
            | AppError::WrongCode { .. }
            | AppError::TooManyAttempts
            | AppError::CodeExpired
            | AppError::CodeUsed
            | AppError::CodeSuperseded
            | AppError::ApprovedElsewhere
            | AppError::AuthenticatorCodeShape
            | AppError::WrongSetupCode
            | AppError::WrongSecondFactor
            | AppError::SecondStepEnded
            | AppError::AuthenticatorUnavailable
            | AppError::VerifyLimited { .. } => Field::Code,
            _ => Field::Form,
        }
    }

    /// The text message could not go: the page offers email instead.
    pub fn suggests_email(&self) -> bool {
        matches!(self, AppError::DeliveryFailed { by_sms: true, .. } | AppError::SmsUnavailable)
    }

    /// Seconds to wait before trying again, for `Retry-After`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::SendLimited { retry_after_secs } | AppError::VerifyLimited { retry_after_secs } => {
                Some(*retry_after_secs)
            }
            AppError::DeliveryBusy => Some(5),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Identifier,
    Code,
    Form,
}

impl AppError {
    /// Failures around a server function rather than in it. One mapping:
    /// a request that can't be read as the function's arguments is the
    /// client's fault (400); what goes wrong on our side is ours (500).
    pub fn from_framework(value: &ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_)
            | ServerFnErrorErr::UnsupportedRequestMethod(_)
            // In a browser: the network failed before an answer came.
            | ServerFnErrorErr::Request(_) => AppError::Request(value.to_string()),
            _ => AppError::Internal,
        }
    }
}

/// In the browser. The server's own (which also logs and sets the status)
/// is in `crate::web::state`.
#[cfg(not(feature = "ssr"))]
impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::from_framework(&value)
    }
}

/// "24 seconds", "2 minutes", "1 hour": how a wait is put to a person.
pub fn human_wait(secs: u64) -> String {
    let secs = secs.max(1);
    let (n, unit) = if secs < 90 {
        (secs, "second")
    } else if secs < 90 * 60 {
        (secs.div_ceil(60), "minute")
    } else {
        (secs.div_ceil(3600), "hour")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_naturally() {
        assert_eq!(human_wait(1), "1 second");
        assert_eq!(human_wait(24), "24 seconds");
        assert_eq!(human_wait(120), "2 minutes");
        assert_eq!(human_wait(900), "15 minutes");
        assert_eq!(human_wait(3600), "60 minutes");
        assert_eq!(human_wait(7200), "2 hours");
    }
}
