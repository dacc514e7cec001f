//! What the core needs from storage, as traits: one per aggregate
//! (challenges, limit counters, sessions, the audit trail). The SQL that
//! implements them lives in `crate::store`; the core never sees a query.
//!
//! Every method that changes a limit or consumes a challenge is a single
//! atomic step in the implementation (a conditional UPDATE in a
//! transaction), because the rules below depend on it holding across
//! instances.

use std::future::Future;

use crate::domain::{ChallengeId, Channel, Identifier, SessionToken};

use super::audit::AuditEvent;
use super::limits::SendRow;

/// A storage failure. The core never tells a person why storage failed; it
/// fails closed and logs the cause.
#[derive(Debug, thiserror::Error)]
#[error("storage failed: {0:#}")]
pub struct StoreError(pub anyhow::Error);

pub type StoreResult<T> = Result<T, StoreError>;

/// A challenge to store.
pub struct NewChallenge<'a> {
    pub id: &'a ChallengeId,
    pub to: &'a Identifier,
    pub code_hash: &'a str,
    pub now: i64,
    pub expires_at: i64,
    pub max_attempts: i64,
    pub link_hash: Option<&'a str>,
    /// `""`, or the device id of the browser that asked (see
    /// `limits::send_rows`).
    pub lane: &'a str,
    pub requested_from: Option<&'a str>,
    /// The client address that asked, shown where the request is described.
    pub requested_ip: Option<&'a str>,
    /// The two-digit number both devices show during an approval.
    pub pair_number: i64,
    /// SHA-256 of the message's "Not you?" link token (none for a code that
    /// was never sent).
    pub report_hash: Option<&'a str>,
    /// The destination's send allowance key (`Identifier::allowance_key`):
    /// a report ends every open code to the same inbox.
    pub allowance: &'a str,
    /// The language its message is written in (`i18n::tag`).
    pub locale: &'a str,
    /// The code this browser asked for before (its pending cookie): the
    /// only one a new code retires, so that nobody else's request ever
    /// retires the code somebody is about to type.
    pub retires: Option<&'a ChallengeId>,
}

/// Where a challenge's code went, whatever its state.
pub struct ChallengeView {
    pub id: String,
    pub destination: String,
    pub channel: Channel,
    pub created_at: i64,
    pub expires_at: i64,
    /// `""`, or the device id of the browser that asked (see `send_rows`).
    pub lane: String,
    /// "Firefox on Windows": where the code was asked for.
    pub requested_from: Option<String>,
    pub requested_ip: Option<String>,
    /// The two-digit number shown on both devices (0 for older rows).
    pub pair_number: i64,
    /// When its link approved the sign-in from another device.
    pub approved_at: Option<i64>,
    /// When "that wasn't me" ended it.
    pub reported_at: Option<i64>,
}

impl ChallengeView {
    /// The destination as the parsed type it was stored from.
    pub fn identifier(&self) -> anyhow::Result<Identifier> {
        use anyhow::Context;
        Identifier::from_stored(self.channel, &self.destination).context("stored destination no longer parses")
    }
}

/// Why a challenge could not take another attempt.
pub enum ChallengeState {
    Missing,
    Used,
    Superseded,
    Expired,
    Exhausted,
    /// Its link approved the sign-in from another device: the browser that
    /// asked may open the session; the code no longer works.
    Approved,
    /// Ended by "that wasn't me".
    Reported,
    /// Could take an attempt (lost a race, or expired in between).
    Open,
}

/// A challenge after one attempt was reserved for the caller.
pub struct ReservedAttempt {
    pub destination: String,
    /// The limits row the attempt was counted in (see `failure_key`).
    pub failure_key: String,
    pub code_hash: String,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// A reserved verification attempt, or why none could be had.
pub enum Reservation {
    Reserved(ReservedAttempt),
    /// The challenge cannot take attempts (see `challenge_state`).
    ChallengeClosed,
    /// The destination has had too many failures; try again at `retry_at`.
    DestinationLimited {
        retry_at: i64,
    },
}

/// The outcome of asking to send one more code to a destination.
pub enum SendClaim {
    /// Go ahead; the next code may follow after `next_send_at`.
    Granted { next_send_at: i64 },
    /// Not now; try again at `retry_at`, when `limit` (the one that holds
    /// longest) lets go.
    Refused { retry_at: i64, limit: super::limits::Limit },
}

/// Which challenge to consume: the one this browser's cookie names (after its
/// code was checked), or the one a sign-in link's token belongs to.
#[derive(Clone, Copy)]
pub enum ChallengeKey<'a> {
    Id(&'a ChallengeId),
    /// SHA-256 of the link token.
    Link(&'a str),
    /// The challenge this browser's cookie names, approved from another
    /// device with its link (no code is checked: the approval was the
    /// proof, and only the asking browser holds the id).
    Approved(&'a ChallengeId),
}

/// Which message a "that wasn't me" is about: the one whose "Not you?"
/// link was opened (SHA-256 of its token), or the one whose sign-in link
/// was (SHA-256 of the link token, while the link still works).
#[derive(Clone, Copy)]
pub enum ReportOf<'a> {
    Token(&'a str),
    Link(&'a str),
}

/// A report to record.
pub struct NewReport<'a> {
    pub of: ReportOf<'a>,
    /// The reported challenge's destination, as stored.
    pub destination: &'a str,
    /// The address's send allowance key (`Identifier::allowance_key`):
    /// every open code to it ends with the report.
    pub allowance: &'a str,
    pub now: i64,
    /// Only messages sent after this may be reported.
    pub sent_after: i64,
    /// Until when the address's sends stay tightened.
    pub tightened_until: i64,
}

pub struct SignedIn {
    pub user_id: String,
    pub destination: String,
    /// The account has an authenticator app on: no session was opened, a
    /// half-finished sign-in (`NewSecondStep`) waits for its code instead.
    pub second_step: bool,
}

/// A half-finished sign-in to write when the account asks for its
/// authenticator app's code (decided inside the sign-in's transaction).
pub struct NewSecondStep<'a> {
    /// SHA-256 of the HttpOnly cookie's token.
    pub token_hash: &'a str,
    /// How the first step was made (`SignInMethod`), for the audit row.
    pub method: &'a str,
    pub expires_at: i64,
}

/// What a right-looking second-step answer uses up, once.
pub enum SecondFactorSpend {
    /// The app's 30-second step: refused unless later than the last used.
    Step(i64),
    /// A backup code's stored hash.
    Backup(String),
}

/// A half-finished sign-in, as its page and its answer read it.
pub struct SecondStepRow {
    pub user_id: String,
    pub destination: String,
    pub channel: Channel,
    pub method: String,
    /// Answers taken so far, this one included when reserved.
    pub failures: i64,
    pub expires_at: i64,
}

/// An account's authenticator app.
pub struct AuthenticatorRow {
    /// Sealed (see `auth::sealing`).
    pub secret: String,
    /// `None`: being set up.
    pub enabled_at: Option<i64>,
    pub created_at: i64,
    /// The session that started the set-up (only it may finish it).
    pub setup_session: Option<String>,
}

/// The account a session belongs to.
#[derive(Clone)]
pub struct UserRow {
    pub id: String,
    pub identifier: String,
    pub channel: Channel,
    pub created_at: i64,
}

/// A session to open with a sign-in.
pub struct NewSessionRow<'a> {
    pub token: &'a SessionToken,
    /// The public handle pages name the session by (never the token).
    pub id: &'a str,
    pub now: i64,
    /// The absolute end of the session.
    pub expires_at: i64,
    pub ip: Option<&'a str>,
    /// "Firefox on Windows", never the raw User-Agent.
    pub browser: Option<&'a str>,
}

/// One stored session, as the account page lists it.
#[derive(Clone)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub browser: Option<String>,
    /// When the session last proved who it is (see `sessions.proved_at`).
    pub proved_at: i64,
}

pub trait ChallengeStore: Send + Sync + 'static {
    /// Stores a new challenge and retires the one it replaces (`retires`,
    /// when it is open and for the same destination), atomically.
    fn replace_challenge(&self, c: &NewChallenge<'_>) -> impl Future<Output = StoreResult<()>> + Send;
    /// Marks a challenge unusable (its message never left).
    fn retire_challenge(&self, id: &ChallengeId, now: i64) -> impl Future<Output = StoreResult<()>> + Send;
    fn challenge_state(&self, id: &ChallengeId, now: i64) -> impl Future<Output = StoreResult<ChallengeState>> + Send;
    fn challenge_view(&self, id: &ChallengeId) -> impl Future<Output = StoreResult<Option<ChallengeView>>> + Send;
    /// The open challenge a sign-in link belongs to. Reading only: opening a
    /// link must never use it up.
    fn link_view(&self, link_hash: &str, now: i64) -> impl Future<Output = StoreResult<Option<ChallengeView>>> + Send;
    /// Approves the sign-in a still-usable link belongs to, once: the link
    /// and the code stop working, and the asking browser has until
    /// `pickup_until` (or the code's own expiry, if later) to open its
    /// session. `None`: the link no longer works.
    fn approve_link(
        &self,
        link_hash: &str,
        now: i64,
        pickup_until: i64,
    ) -> impl Future<Output = StoreResult<Option<ChallengeView>>> + Send;
    /// The challenge a "Not you?" link belongs to, in any state, if it was
    /// sent after `sent_after`.
    fn report_view(
        &self,
        report_hash: &str,
        sent_after: i64,
    ) -> impl Future<Output = StoreResult<Option<ChallengeView>>> + Send;
    /// Records "that wasn't me", once per message, in one transaction: the
    /// reported challenge and every open one to its address end, a session
    /// the reported code already opened ends, and the address's sends are
    /// tightened until `tightened_until`. `None`: this message was reported
    /// already (or its link no longer works); else the sessions ended.
    fn report(&self, r: &NewReport<'_>) -> impl Future<Output = StoreResult<Option<u64>>> + Send;
    /// Whether the address (its allowance key) was reported and is still
    /// tightened at `now`.
    fn is_reported(&self, allowance: &str, now: i64) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// The counters behind the limits that must hold across instances. Each
/// claim is one atomic step: of any number of concurrent claims, no more win
/// than the limit allows.
pub trait LimitStore: Send + Sync + 'static {
    /// Takes one attempt from an open challenge and one from its failure
    /// row's hourly allowance, before the code is checked.
    fn reserve_attempt(
        &self,
        id: &ChallengeId,
        now: i64,
        failures_per_hour: i64,
        lockout_ms: i64,
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;
    /// After a wrong code: locks the failure row if its allowance is spent.
    /// Returns whether this call set the lock.
    fn lock_if_exhausted(
        &self,
        failure_key: &str,
        now: i64,
        failures_per_hour: i64,
        lockout_ms: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Asks for one more code on every one of `rows` (see
    /// `limits::send_rows`), all or none, atomically: on each, the cooldown
    /// doubling with each code in the hour, the hourly and daily caps, any
    /// lock.
    fn claim_send(&self, rows: &[SendRow], now: i64) -> impl Future<Output = StoreResult<SendClaim>> + Send;
    /// When the next code on `rows` may go (`<= now`: now).
    fn next_send_time(&self, rows: &[SendRow], now: i64) -> impl Future<Output = StoreResult<i64>> + Send;
    /// One SMS from the hourly budget shared by all instances.
    fn claim_sms(&self, now: i64, per_hour: i64) -> impl Future<Output = StoreResult<bool>> + Send;
    /// One SMS from a client's hourly allowance and its network's, both or
    /// neither (keys as `limits::key_text` writes them: `192.0.2.7/32`,
    /// `192.0.2.0/24`, `2001:db8:1:2::/64`, `2001:db8:1::/48`).
    fn claim_sms_for_requester(
        &self,
        client: &str,
        network: &str,
        now: i64,
        client_per_hour: i64,
        network_per_hour: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// An audit row a sign-in writes in its own transaction; the core words it.
pub enum SignInEvent<'a> {
    SignedIn {
        destination: &'a str,
        user_id: &'a str,
    },
    /// The browser's previous session, ended by this sign-in.
    Replaced {
        user_id: &'a str,
    },
    /// The first step is made; the account's authenticator app is asked
    /// for next.
    SecondStepAsked {
        destination: &'a str,
        user_id: &'a str,
    },
}

pub trait SessionStore: Send + Sync + 'static {
    /// Consumes the challenge and opens a session atomically, ending the
    /// session this browser held before (`replaces`), with the audit rows
    /// `audit` makes of each. `None`: somebody else consumed the challenge
    /// first.
    /// When the account has an authenticator app on, `second_step` is
    /// written instead of the session (and `replaces` stays).
    fn consume_and_sign_in(
        &self,
        key: ChallengeKey<'_>,
        new_user_id: &str,
        session: &NewSessionRow<'_>,
        second_step: &NewSecondStep<'_>,
        replaces: Option<&SessionToken>,
        audit: impl Fn(SignInEvent<'_>) -> AuditEvent + Send,
    ) -> impl Future<Output = StoreResult<Option<SignedIn>>> + Send;
    /// Deletes the half-finished sign-in, spends the answer (`spend`) and
    /// opens its session, in one transaction, as `consume_and_sign_in`
    /// would have. `None` (nothing changed): the sign-in was gone (expired,
    /// ended, or finished by a racing request), or the answer was spent
    /// already (a used step, a used backup code).
    fn finish_second_step(
        &self,
        token_hash: &str,
        spend: &SecondFactorSpend,
        now: i64,
        session: &NewSessionRow<'_>,
        replaces: Option<&SessionToken>,
        audit: impl Fn(SignInEvent<'_>) -> AuditEvent + Send,
    ) -> impl Future<Output = StoreResult<Option<SignedIn>>> + Send;
    /// The session a token opens and its account, if the session has been
    /// seen since `idle_cutoff` and has not reached its end.
    fn current_session(
        &self,
        token: &SessionToken,
        now: i64,
        idle_cutoff: i64,
    ) -> impl Future<Output = StoreResult<Option<(SessionRow, UserRow)>>> + Send;
    /// Marks a session seen at `now`, unless it was seen after `fresh_after`
    /// (so a busy session costs one write an hour, not one per request).
    fn touch_session(&self, id: &str, now: i64, fresh_after: i64) -> impl Future<Output = StoreResult<()>> + Send;
    /// The account's live sessions, newest first.
    fn list_sessions(
        &self,
        user_id: &str,
        now: i64,
        idle_cutoff: i64,
    ) -> impl Future<Output = StoreResult<Vec<SessionRow>>> + Send;
    /// Ends one of the account's sessions; whether there was one.
    fn revoke_session(&self, user_id: &str, id: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Ends every session of the account but `keep`; how many ended.
    fn revoke_other_sessions(&self, user_id: &str, keep: &str) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Opens a session for an existing account that proved itself without a
    /// challenge (a passkey), ending the session this browser held before
    /// (`replaces`), with the audit rows `audit` makes, in one transaction.
    /// `None`: the account no longer exists.
    fn sign_in_user(
        &self,
        user_id: &str,
        session: &NewSessionRow<'_>,
        replaces: Option<&SessionToken>,
        audit: impl Fn(SignInEvent<'_>) -> AuditEvent + Send,
    ) -> impl Future<Output = StoreResult<Option<SignedIn>>> + Send;
    /// Records that a session proved itself again at `now`.
    fn mark_proved(&self, session_id: &str, now: i64) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Consumes an open challenge to `destination` whose code was checked
    /// (after `reserve_attempt`), as a fresh proof of `session_id`, and
    /// gives its lane its failure allowance back, in one transaction.
    /// `false`: the challenge was no longer open (a race, or a newer code).
    fn consume_as_proof(
        &self,
        challenge: &ChallengeId,
        destination: &str,
        session_id: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Deletes the session; returns its user when there was one.
    fn delete_session(&self, token: &SessionToken) -> impl Future<Output = StoreResult<Option<String>>> + Send;
    /// Tells other instances that sessions ended, so that what they
    /// remember of sessions for forward auth is dropped (see
    /// `session_cache`). Nothing where there is no one to tell.
    fn announce_sessions_ended(&self) -> impl Future<Output = StoreResult<()>> + Send;
}

pub trait AuditStore: Send + Sync + 'static {
    fn insert_audit(&self, event: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// The latest `limit` events of an account, of the session kinds
    /// (`AuditKind::SESSION_EVENTS`) or of every other: those recorded with
    /// its user id or its destination's keyed hash, newest first.
    fn recent_events(
        &self,
        user_id: &str,
        destination_hash: &str,
        session_events: bool,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Vec<AuditEvent>>> + Send;
}

/// What a WebAuthn ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// Signing in with a passkey (no account known until the finish).
    SignIn,
    /// Adding a passkey to the signed-in account.
    Add,
    /// A signed-in session proving itself again with one of its passkeys.
    Confirm,
}

impl CeremonyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::SignIn => "sign_in",
            CeremonyKind::Add => "add",
            CeremonyKind::Confirm => "confirm",
        }
    }
}

/// A ceremony to store between its start and its finish.
pub struct NewCeremony<'a> {
    /// SHA-256 of the cookie's token.
    pub token_hash: &'a str,
    pub kind: CeremonyKind,
    /// The account and session that started it (adding, confirming).
    pub user_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    /// webauthn-rs's state, as JSON.
    pub state: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

/// A ceremony taken for its finish.
pub struct CeremonyRow {
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub state: String,
}

/// One stored passkey.
#[derive(Clone)]
pub struct PasskeyRow {
    /// The public handle pages name it by.
    pub id: String,
    pub user_id: String,
    pub user_handle: String,
    /// base64url, as the browser sends it.
    pub credential_id: String,
    /// webauthn-rs's `Passkey`, as JSON.
    pub passkey: String,
    pub counter: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub trait PasskeyStore: Send + Sync + 'static {
    fn insert_ceremony(&self, c: &NewCeremony<'_>) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes the ceremony and returns it, if it is of `kind` and has not
    /// expired: of any number of finishes with one cookie, one gets it.
    fn take_ceremony(
        &self,
        token_hash: &str,
        kind: CeremonyKind,
        now: i64,
    ) -> impl Future<Output = StoreResult<Option<CeremonyRow>>> + Send;
    /// The account's passkeys, oldest first.
    fn passkeys_of(&self, user_id: &str) -> impl Future<Output = StoreResult<Vec<PasskeyRow>>> + Send;
    fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> impl Future<Output = StoreResult<Option<PasskeyRow>>> + Send;
    /// `false`: that credential is registered already (to anyone).
    fn add_passkey(&self, row: &PasskeyRow) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Stores the passkey after a use, only if its counter moved on from
    /// `previous_counter` (or neither counts: authenticators that keep no
    /// counter send 0). `false`: another use got there first with the same
    /// or a later counter, so this assertion is stale.
    fn record_passkey_use(
        &self,
        id: &str,
        passkey: &str,
        previous_counter: i64,
        counter: i64,
        now: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    fn rename_passkey(&self, user_id: &str, id: &str, name: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// The removed passkey's name, when the account had it.
    fn remove_passkey(&self, user_id: &str, id: &str) -> impl Future<Output = StoreResult<Option<String>>> + Send;
}

/// Authenticator apps, backup codes and half-finished sign-ins. Every
/// "only once" here is one conditional statement.
pub trait AuthenticatorStore: Send + Sync + 'static {
    fn authenticator(&self, user_id: &str) -> impl Future<Output = StoreResult<Option<AuthenticatorRow>>> + Send;
    fn backup_codes_left(&self, user_id: &str) -> impl Future<Output = StoreResult<i64>> + Send;
    /// Writes a secret being set up, replacing an earlier set-up but never
    /// an app that is on. `false`: one is on.
    fn start_authenticator(
        &self,
        user_id: &str,
        sealed: &str,
        session_id: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Turns on the set-up secret `sealed` (if it is still the one being
    /// set up, by `session_id`) with `step` used and the backup codes'
    /// hashes, in one transaction; remembers the challenge that opened the
    /// session. `false`: the set-up changed or is gone.
    fn enable_authenticator(
        &self,
        user_id: &str,
        sealed: &str,
        session_id: &str,
        step: i64,
        backup_hashes: &[String],
        now: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Replaces the backup codes of an app that is on. `false`: it is off.
    fn replace_backup_codes(
        &self,
        user_id: &str,
        backup_hashes: &[String],
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Turns the app off: secret, backup codes and half-finished sign-ins
    /// go. `false`: it was not on.
    fn disable_authenticator(&self, user_id: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Stores a secret sealed again under the current key, if the row
    /// still holds `old`.
    fn reseal_authenticator(&self, user_id: &str, old: &str, new: &str)
    -> impl Future<Output = StoreResult<()>> + Send;
    /// Takes one of the hour's `cap` answers checked against the account's
    /// app, before the check. `Err(retry_at)`: the hour's are spent.
    fn claim_authenticator_answer(
        &self,
        user_id: &str,
        now: i64,
        cap: i64,
    ) -> impl Future<Output = StoreResult<Result<(), i64>>> + Send;
    /// Records `step` as used, if it is later than the last one used.
    /// `false`: this step (or a later one) was used already.
    fn use_totp_step(&self, user_id: &str, step: i64) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Spends a backup code. `false`: not one of the account's, or spent.
    fn use_backup_code(&self, user_id: &str, hash: &str, now: i64) -> impl Future<Output = StoreResult<bool>> + Send;
    /// The half-finished sign-in, while it lasts (reads only).
    fn second_step(
        &self,
        token_hash: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<Option<SecondStepRow>>> + Send;
    /// Takes one of the half-finished sign-in's `max` answers before the
    /// answer is checked. `None`: gone, expired or out of answers.
    fn reserve_second_step(
        &self,
        token_hash: &str,
        now: i64,
        max: i64,
    ) -> impl Future<Output = StoreResult<Option<SecondStepRow>>> + Send;
    /// Ends a half-finished sign-in (out of answers).
    fn end_second_step(&self, token_hash: &str) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Everything the auth service stores.
pub trait Store: ChallengeStore + LimitStore + SessionStore + AuditStore + PasskeyStore + AuthenticatorStore {}

impl<T: ChallengeStore + LimitStore + SessionStore + AuditStore + PasskeyStore + AuthenticatorStore> Store for T {}
