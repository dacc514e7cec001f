//! What server functions and pages exchange. Compiled into the wasm too.

use serde::{Deserialize, Serialize};

use super::Channel;

/// What the code page shows about the code on its way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingView {
    pub masked_destination: String,
    pub channel: Channel,
    pub code_length: usize,
    pub numeric: bool,
    /// Seconds until a new code may be requested (0: now).
    pub resend_in_secs: u64,
    /// What the last successful post from this page did, shown once.
    #[serde(default)]
    pub notice: Option<Notice>,
    /// Where the person goes after signing in (a checked `rd`), so that
    /// starting over from this page keeps it.
    #[serde(default)]
    pub return_to: Option<String>,
    /// The number the email's link shows when opened on another device
    /// (email only).
    #[serde(default)]
    pub pair_number: Option<u8>,
    /// The sign-in can still be approved on another device: the page polls.
    #[serde(default)]
    pub awaiting_approval: bool,
    /// It was approved there: "Continue" opens the session here.
    #[serde(default)]
    pub approved: bool,
}

/// A word for the code page after a post that succeeded. Each post comes
/// back to a freshly rendered page, so the server function leaves it in a
/// short-lived cookie and the page takes it (never from the URL, where
/// anyone could put it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// Another code was sent to the same place.
    Resent,
    /// A code was sent to an email address instead of the phone.
    Switched,
    /// (Account page) a passkey was added.
    PasskeyAdded,
    /// (Account page) a passkey was removed.
    PasskeyRemoved,
    /// (Account page) the session proved itself again.
    Confirmed,
    /// ("Not you?" page) the report was recorded.
    Reported,
    /// ("Not you?" page) the report was recorded, and the session the
    /// reported code had opened was ended.
    ReportedEndedSession,
    /// ("Not you?" page) it had been reported before; nothing changed.
    AlreadyReported,
    /// (Account page) the authenticator app was turned off.
    AuthenticatorOff,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Resent => "resent",
            Notice::Switched => "switched",
            Notice::PasskeyAdded => "passkey_added",
            Notice::PasskeyRemoved => "passkey_removed",
            Notice::Confirmed => "confirmed",
            Notice::Reported => "reported",
            Notice::ReportedEndedSession => "reported_ended_session",
            Notice::AlreadyReported => "already_reported",
            Notice::AuthenticatorOff => "authenticator_off",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Notice::Resent,
            Notice::Switched,
            Notice::PasskeyAdded,
            Notice::PasskeyRemoved,
            Notice::Confirmed,
            Notice::Reported,
            Notice::ReportedEndedSession,
            Notice::AlreadyReported,
            Notice::AuthenticatorOff,
        ]
        .into_iter()
        .find(|n| n.as_str() == s)
    }
}

/// The account page's authenticator-app section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticatorView {
    /// "2 December 2026, 14:27 UTC"; `None`: off.
    pub on_since: Option<String>,
    pub backup_codes_left: i64,
}

/// The authenticator app's set-up page. Never printed: it holds the
/// secret or the backup codes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticatorPageView {
    /// The QR code (an SVG data URL) and the secret in text, while an app
    /// is being set up.
    pub setup: Option<AuthenticatorSetupView>,
    /// Backup codes made by the last post, shown this once.
    pub backup_codes: Vec<String>,
    /// The app is on.
    pub on: bool,
    pub backup_codes_left: i64,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticatorSetupView {
    pub qr: String,
    pub typed: String,
    pub account: String,
}

impl std::fmt::Debug for AuthenticatorPageView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthenticatorPageView(<redacted>)")
    }
}

impl std::fmt::Debug for AuthenticatorSetupView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthenticatorSetupView(<redacted>)")
    }
}

/// The page that asks for the authenticator app's code after a sign-in's
/// first step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondStepView {
    pub masked_destination: String,
    pub answers_left: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub identifier: String,
    pub channel: Channel,
}

/// What the confirmation page of a sign-in link shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    /// The account's address in full, so nobody signs in to an account that
    /// is not theirs without seeing whose it is.
    pub address: String,
    /// The code was asked for in another browser than this one.
    pub requested_elsewhere: bool,
    /// Names the link this page shows; "Sign in" posts it back.
    #[serde(default)]
    pub shown: String,
    /// Where the request came from, when it was not this browser: "Chrome
    /// on Linux", "203.0.113.7", "2026-12-02 14:22 UTC".
    #[serde(default)]
    pub from_browser: Option<String>,
    #[serde(default)]
    pub from_ip: Option<String>,
    #[serde(default)]
    pub requested_at: String,
    /// The number the asking browser's code page shows.
    #[serde(default)]
    pub pair_number: u8,
}

/// What the "Not you?" page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportView {
    pub masked_destination: String,
    pub by_sms: bool,
    /// "Chrome on Linux", when the request said.
    pub from_browser: Option<String>,
    pub from_ip: Option<String>,
    /// "2026-12-02 14:22 UTC".
    pub requested_at: String,
    /// Reported already: nothing to press.
    pub already: bool,
}

/// What the account page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub user: UserView,
    /// Newest first; the asking browser's own is marked.
    pub sessions: Vec<SessionView>,
    /// The latest sign-ins and session events, newest first.
    pub sign_ins: Vec<ActivityView>,
    /// The latest other security events (codes sent, wrong codes, limits),
    /// newest first.
    pub activity: Vec<ActivityView>,
    /// Apps behind forward auth this account may open (`https://host/`).
    #[serde(default)]
    pub apps: Vec<String>,
    /// The account's passkeys, oldest first.
    #[serde(default)]
    pub passkeys: Vec<PasskeyView>,
    /// Whether this deployment offers passkeys.
    #[serde(default)]
    pub passkeys_enabled: bool,
    /// "until 14:27 UTC" while this session may remove passkeys and end
    /// other sessions without confirming it's the owner again.
    #[serde(default)]
    pub confirmed_until: Option<String>,
    /// What the last post from this page did, shown once.
    #[serde(default)]
    pub notice: Option<Notice>,
    /// `None`: authenticator apps aren't offered here.
    #[serde(default)]
    pub authenticator: Option<AuthenticatorView>,
}

/// One of the account's passkeys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyView {
    /// The public handle to rename or remove it by.
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: Option<String>,
}

/// What the "confirm it's you" page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmView {
    /// Where a confirmation code goes ("j***@example.com").
    pub masked_destination: String,
    pub channel: Channel,
    /// The account has passkeys (and this deployment offers them).
    pub has_passkeys: bool,
    /// A confirmation code was sent and may be typed.
    pub code_sent: bool,
    pub code_length: usize,
    pub numeric: bool,
    /// The account has an authenticator app on: a code confirms only with
    /// the app's code (or a backup code) beside it.
    #[serde(default)]
    pub asks_app: bool,
}

/// One live session of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// The public handle to end it by (never the token).
    pub id: String,
    /// "Firefox on Windows", or "Unknown browser".
    pub browser: String,
    pub ip: Option<String>,
    /// "2026-11-25 14:22 UTC".
    pub signed_in: String,
    pub last_seen: String,
    pub this_browser: bool,
}

/// One security event, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityView {
    pub what: String,
    pub when: String,
    /// "203.0.113.7 (Firefox on Windows)", as much as is known.
    pub from: Option<String>,
}
