//! The audit trail's events. The service fills in the time, the request's
//! facts and the keyed hash of the destination (`AuthService::audit`).

/// What an audit row records. Stored as its `as_str()` text, which queries
/// and the examples in docs/ use: renaming a variant must keep its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    CodeSent,
    DeliveryFailed,
    RateLimited,
    VerificationFailed,
    ChallengeBurned,
    DestinationLocked,
    SignedIn,
    SignedOut,
    /// Signed in, but the access rules keep the account out of an app.
    AccessRefused,
    PasskeyAdded,
    PasskeyRemoved,
    PasskeyRenamed,
    /// A passkey's answer was refused (did not verify, or its counter went
    /// back: perhaps a copied authenticator).
    PasskeyRefused,
    /// A session proved itself again (detail: "passkey" or "code").
    IdentityConfirmed,
    /// A sign-in was approved from another device with the email's link
    /// (the request's facts are the approving device's).
    SignInApproved,
    /// "That wasn't me": a message's sign-in was reported and ended.
    SignInReported,
    /// A code was asked for a reported address by a browser that never
    /// signed in to it: stored, not sent.
    CodeWithheld,
    /// A first step was right and the account's authenticator app was asked
    /// for next (detail: how the first step was made).
    SecondStepAsked,
    /// A wrong authenticator or backup code (detail: tries left).
    SecondStepFailed,
    /// A half-finished sign-in ended after too many wrong answers.
    SecondStepEnded,
    AuthenticatorOn,
    AuthenticatorOff,
    /// New backup codes replaced the old ones.
    BackupCodesMade,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::CodeSent => "code_sent",
            AuditKind::DeliveryFailed => "delivery_failed",
            AuditKind::RateLimited => "rate_limited",
            AuditKind::VerificationFailed => "verification_failed",
            AuditKind::ChallengeBurned => "challenge_burned",
            AuditKind::DestinationLocked => "destination_locked",
            AuditKind::SignedIn => "signed_in",
            AuditKind::SignedOut => "signed_out",
            AuditKind::AccessRefused => "access_refused",
            AuditKind::PasskeyAdded => "passkey_added",
            AuditKind::PasskeyRemoved => "passkey_removed",
            AuditKind::PasskeyRenamed => "passkey_renamed",
            AuditKind::PasskeyRefused => "passkey_refused",
            AuditKind::IdentityConfirmed => "identity_confirmed",
            AuditKind::SignInApproved => "sign_in_approved",
            AuditKind::SignInReported => "sign_in_reported",
            AuditKind::CodeWithheld => "code_withheld",
            AuditKind::SecondStepAsked => "second_step_asked",
            AuditKind::SecondStepFailed => "second_step_failed",
            AuditKind::SecondStepEnded => "second_step_ended",
            AuditKind::AuthenticatorOn => "authenticator_on",
            AuditKind::AuthenticatorOff => "authenticator_off",
            AuditKind::BackupCodesMade => "backup_codes_made",
        }
    }

    pub const ALL: [AuditKind; 23] = [
        AuditKind::CodeSent,
        AuditKind::DeliveryFailed,
        AuditKind::RateLimited,
        AuditKind::VerificationFailed,
        AuditKind::ChallengeBurned,
        AuditKind::DestinationLocked,
        AuditKind::SignedIn,
        AuditKind::SignedOut,
        AuditKind::AccessRefused,
        AuditKind::PasskeyAdded,
        AuditKind::PasskeyRemoved,
        AuditKind::PasskeyRenamed,
        AuditKind::PasskeyRefused,
        AuditKind::IdentityConfirmed,
        AuditKind::SignInApproved,
        AuditKind::SignInReported,
        AuditKind::CodeWithheld,
        AuditKind::SecondStepAsked,
        AuditKind::SecondStepFailed,
        AuditKind::SecondStepEnded,
        AuditKind::AuthenticatorOn,
        AuditKind::AuthenticatorOff,
        AuditKind::BackupCodesMade,
    ];

    /// Sign-ins, what happened to sessions and to the account's passkeys:
    /// the account page lists these apart from the rest, so that a flood of
    /// refused requests can't push an intruder's sign-in (or the passkey an
    /// intruder added) out of sight. (Forward-auth refusals are not among
    /// them: a signed-in person can cause as many as they like.)
    /// Approvals and reports are among them too: only the holder of the
    /// inbox or phone can make either, so a flood can't hide them. So is
    /// a right code that the authenticator app then stood in front of (an
    /// intruder in the inbox shows there), and turning the app on or off.
    pub const SESSION_EVENTS: [AuditKind; 10] = [
        AuditKind::SignedIn,
        AuditKind::SignedOut,
        AuditKind::PasskeyAdded,
        AuditKind::PasskeyRemoved,
        AuditKind::SignInApproved,
        AuditKind::SignInReported,
        AuditKind::SecondStepAsked,
        AuditKind::AuthenticatorOn,
        AuditKind::AuthenticatorOff,
        AuditKind::BackupCodesMade,
    ];

    pub fn is_session_event(self) -> bool {
        Self::SESSION_EVENTS.contains(&self)
    }

    /// The kind stored as `s`. (`ALL` is checked against the variants by a
    /// test below: a kind missing from it could be written but never read.)
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// An event of this kind, to which the caller adds what it knows.
    pub fn note<'a>(self) -> AuditNote<'a> {
        AuditNote { kind: self, destination: None, masked: None, detail: None, user_id: None }
    }
}

/// One row of the audit trail.
#[derive(Debug)]
pub struct AuditEvent {
    pub at: i64,
    pub kind: AuditKind,
    pub destination_hash: Option<String>,
    pub destination_masked: Option<String>,
    pub user_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

/// What a rule knows about an event; see `AuditKind::note`.
#[derive(Debug)]
pub struct AuditNote<'a> {
    pub kind: AuditKind,
    /// In full: only its keyed hash is stored.
    pub destination: Option<&'a str>,
    pub masked: Option<String>,
    pub detail: Option<String>,
    pub user_id: Option<String>,
}

impl<'a> AuditNote<'a> {
    pub fn to(mut self, destination: &'a str) -> Self {
        self.destination = Some(destination);
        self
    }

    /// The destination as people may see it ("j***@example.com").
    pub fn masked(mut self, masked: String) -> Self {
        self.masked = Some(masked);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_in_all_once_and_reads_back() {
        // Adding a variant breaks this match until it is listed here, and
        // the count below until it is in ALL.
        let listed = |k: AuditKind| match k {
            AuditKind::CodeSent
            | AuditKind::DeliveryFailed
            | AuditKind::RateLimited
            | AuditKind::VerificationFailed
            | AuditKind::ChallengeBurned
            | AuditKind::DestinationLocked
            | AuditKind::SignedIn
            | AuditKind::SignedOut
            | AuditKind::AccessRefused
            | AuditKind::PasskeyAdded
            | AuditKind::PasskeyRemoved
            | AuditKind::PasskeyRenamed
            | AuditKind::PasskeyRefused
            | AuditKind::IdentityConfirmed
            | AuditKind::SignInApproved
            | AuditKind::SignInReported
            | AuditKind::CodeWithheld
            | AuditKind::SecondStepAsked
            | AuditKind::SecondStepFailed
            | AuditKind::SecondStepEnded
            | AuditKind::AuthenticatorOn
            | AuditKind::AuthenticatorOff
            | AuditKind::BackupCodesMade => 1,
        };
        assert_eq!(AuditKind::ALL.iter().map(|k| listed(*k)).sum::<i32>(), 23);
        for k in AuditKind::ALL {
            assert_eq!(AuditKind::parse(k.as_str()), Some(k));
            assert_eq!(AuditKind::ALL.iter().filter(|o| o.as_str() == k.as_str()).count(), 1);
        }
    }
}
