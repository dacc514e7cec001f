//! The auth service: its settings, what it holds, and what every rule uses
//! (the audit trail, the per-IP allowance, the device cookie). The rules
//! themselves are in `send`, `verify` and `sessions`.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::{ChallengeId, Channel, CodePolicy, DeviceCookie, DeviceEntry, Identifier, SessionToken};

use super::access::{AccessRules, RecentRefusals};
use super::audit::{AuditEvent, AuditKind, AuditNote};
use super::clock::Clock;
use super::code_hash::CodeHasher;
use super::delivery::Delivery;
use super::error::AuthError;
use super::forward::REFUSAL_AUDIT_WINDOW_MS;
use super::ip_limits::{IpLimits, SharedBuckets};
use super::keys::{constant_time_eq, keyed_hash};
use super::limits::Limits;
use super::refusals::RefusalTally;
use super::session_cache::SessionCache;
use super::store::Store;

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub code: CodePolicy,
    pub code_ttl: Duration,
    pub max_attempts: u32,
    /// The absolute end of a session, however busy.
    pub session_ttl: Duration,
    /// A session unused for this long ends.
    pub session_idle: Duration,
    /// ISO 3166 region for phone numbers typed without a country code.
    pub default_region: Option<String>,
    /// Shown in messages ("Your Passcode sign-in code").
    pub product_name: String,
    /// Scheme, host and port the world reaches us at. Sign-in links are built
    /// from this, never from a request's `Host` header (which an attacker
    /// can set to their own site).
    pub public_url: String,
    /// Host of the public URL, for the SMS origin-bound code line (WebOTP).
    pub public_host: String,
    /// Put the code in the email's subject (off: subjects show on lock
    /// screens and in notification previews).
    pub email_code_in_subject: bool,
    /// Whether codes may go by text message at all.
    pub sms_enabled: bool,
    pub limits: Limits,
    /// Country calling codes SMS may go to (`None`: all). A guard against
    /// SMS pumping to premium-rate ranges.
    pub sms_countries: Option<Vec<u16>>,
    /// Who may open which app behind forward auth (`PASSCODE_ACCESS_FILE`).
    pub access: Arc<AccessRules>,
    /// How long a forward-auth check may reuse a session looked up a moment
    /// ago (`PASSCODE_FORWARD_AUTH_CACHE_MS`; zero: never).
    pub forward_auth_cache: Duration,
    /// Offer passkeys (`PASSCODE_PASSKEYS`); they also need the public URL
    /// to name a domain.
    pub passkeys: bool,
    /// How long a sign-in or a confirmation lets a session remove passkeys
    /// and end other sessions without proving itself again
    /// (`PASSCODE_FRESH_PROOF_SECS`).
    pub fresh_proof: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            code: CodePolicy::default(),
            code_ttl: Duration::from_secs(10 * 60),
            max_attempts: 5,
            session_ttl: Duration::from_secs(30 * 24 * 60 * 60),
            session_idle: Duration::from_secs(7 * 24 * 60 * 60),
            default_region: None,
            product_name: "Passcode".into(),
            public_url: "http://localhost:3000".into(),
            public_host: "localhost".into(),
            email_code_in_subject: false,
            sms_enabled: true,
            limits: Limits::default(),
            sms_countries: None,
            access: Arc::new(AccessRules::anyone_signed_in()),
            forward_auth_cache: Duration::from_secs(1),
            passkeys: true,
            fresh_proof: Duration::from_secs(5 * 60),
        }
    }
}

/// Facts about the request that the core records or limits on. Built by the
/// web layer; the core never looks at headers.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub client_ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
    /// The browser's device cookie, if it sent a well-formed one (its
    /// entries are checked by the core).
    pub device: Option<DeviceCookie>,
    /// The session this browser holds, if any: signing in again ends it.
    pub session: Option<SessionToken>,
    /// The code this browser asked for last (its pending cookie), if any: a
    /// new code from this browser retires it, and nobody else's does.
    pub pending: Option<ChallengeId>,
    /// The language of the page that asked: a code's message is written in
    /// it, and the challenge keeps it.
    pub locale: crate::i18n::Locale,
}

/// A code is on its way; the browser keeps `challenge` in a cookie.
#[derive(Debug, Clone)]
pub struct Pending {
    pub challenge: ChallengeId,
    pub masked_destination: String,
    pub channel: Channel,
    pub expires_at: i64,
    /// When another code to the same destination may be requested.
    pub next_send_at: i64,
    /// The number the link's page shows when the link is opened on another
    /// device (email only: a text message has no link).
    pub pair_number: Option<u8>,
    /// Where an approval from another device stands (`Closed` too when the
    /// code is used, expired or replaced).
    pub approval: super::approve::Approval,
}

#[derive(Debug)]
pub struct NewSession {
    pub token: SessionToken,
    pub expires_at: i64,
    /// The browser's device cookie, now naming the address it signed in as.
    pub device: DeviceCookie,
    /// The account signed in to.
    pub user_id: String,
}

/// What the sign-in link's confirmation page shows.
#[derive(Debug, Clone)]
pub struct LinkInfo {
    /// In full: the person must be able to tell whether it is their own
    /// account (someone may have mailed them a link to theirs).
    pub address: String,
    /// Set when the link is opened in a browser other than the one that
    /// asked for the code.
    pub requested_elsewhere: Option<RequestedFrom>,
    /// The number the asking browser's code page shows beside the code field.
    pub pair_number: u8,
    /// Names this link without revealing it: the page posts it back with
    /// "Sign in", and a link swapped in since (another site can open one in
    /// this browser) is refused instead of signing in to whatever it names.
    pub shown: String,
}

#[derive(Debug, Clone)]
pub struct RequestedFrom {
    /// "Firefox on Windows", when the request said.
    pub browser: Option<String>,
    /// The client address that asked, when known.
    pub ip: Option<String>,
    pub at_ms: i64,
}

impl RequestedFrom {
    pub(super) fn of(view: &super::store::ChallengeView) -> Self {
        Self { browser: view.requested_from.clone(), ip: view.requested_ip.clone(), at_ms: view.created_at }
    }
}

#[derive(Debug, Clone)]
pub struct SignedInUser {
    pub id: String,
    pub identifier: Identifier,
    pub since: i64,
    /// The public handle of the session that proved it.
    pub session_id: String,
    /// When the session last proved who it is (a sign-in, a passkey, a new
    /// code).
    pub proved_at: i64,
}

pub struct AuthService<S> {
    pub(super) store: S,
    pub(super) hasher: CodeHasher,
    pub(super) delivery: Arc<dyn Delivery>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) settings: AuthSettings,
    /// Per client IP: in this process, or shared by every instance.
    pub(super) ip_limits: IpLimits,
    /// Keys the audit trail's destination hashes (derived from the server
    /// secret, so a leaked audit table cannot be reversed by guessing).
    pub(super) audit_key: Vec<u8>,
    /// Keys the device cookie's MACs.
    device_key: Vec<u8>,
    /// Keys what a link's confirmation page posts back (`LinkInfo::shown`).
    pub(super) link_page_key: Vec<u8>,
    /// Forward-auth refusals already audited (see `forward`).
    pub(super) refusals: RecentRefusals,
    /// Sessions forward auth looked up a moment ago.
    pub(super) session_cache: SessionCache,
    /// Refusals by the per-IP limits, not yet written.
    refused: RefusalTally,
    /// The WebAuthn relying party; `None` where passkeys are off (the
    /// public URL is an IP address, or `PASSCODE_PASSKEYS=false`).
    pub(super) webauthn: Option<webauthn_rs::prelude::Webauthn>,
    /// Seals authenticator-app secrets; `None`: authenticator apps can't be
    /// turned on here (no `PASSCODE_TOTP_KEY`). See `with_sealing_keys`.
    pub(super) sealing: Option<super::sealing::SealingKeys>,
    /// Keys the backup codes' stored hashes.
    pub(super) backup_key: Vec<u8>,
    /// Seals backup codes between the post that makes them and the page
    /// that shows them once (derived from the server secret: it works
    /// whatever the authenticator keys are).
    pub(super) flash_keys: super::sealing::SealingKeys,
}

impl<S: Store> AuthService<S> {
    pub fn new(
        store: S,
        hasher: CodeHasher,
        delivery: Arc<dyn Delivery>,
        clock: Arc<dyn Clock>,
        settings: AuthSettings,
        server_secret: &[u8],
    ) -> Self {
        let l = &settings.limits;
        let ip_limits = IpLimits::new(l);
        let audit_key = keyed_hash(server_secret, "passcode audit key").into_bytes();
        let device_key = keyed_hash(server_secret, "passcode device cookie key").into_bytes();
        let link_page_key = keyed_hash(server_secret, "passcode link page key").into_bytes();
        let backup_key = keyed_hash(server_secret, "passcode backup code key").into_bytes();
        let flash_keys = {
            use hmac::{Hmac, Mac};
            let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(server_secret).expect("HMAC takes any key");
            mac.update(b"passcode backup codes shown once");
            let key: [u8; 32] = mac.finalize().into_bytes().into();
            super::sealing::SealingKeys::new(&key, &[])
        };
        let refusals = RecentRefusals::new(REFUSAL_AUDIT_WINDOW_MS);
        let session_cache = SessionCache::new(super::clock::millis(settings.forward_auth_cache), true);
        let webauthn = settings
            .passkeys
            .then(|| {
                super::passkeys::relying_party(&settings.public_url, &settings.public_host, &settings.product_name)
            })
            .flatten();
        Self {
            webauthn,
            store,
            hasher,
            delivery,
            clock,
            settings,
            ip_limits,
            audit_key,
            device_key,
            link_page_key,
            refusals,
            session_cache,
            refused: RefusalTally::default(),
            sealing: None,
            backup_key,
            flash_keys,
        }
    }

    /// Per-IP limits in buckets every instance shares (Redis), this
    /// instance's own standing in while those can't be reached.
    pub fn with_shared_ip_limits(mut self, buckets: std::sync::Arc<dyn SharedBuckets>) -> Self {
        self.ip_limits = self.ip_limits.with_shared(buckets);
        self
    }

    /// Authenticator apps on, their secrets sealed with `keys` (a key apart
    /// from the server secret, so that one leaked opens nothing of the
    /// other).
    pub fn with_sealing_keys(mut self, keys: super::sealing::SealingKeys) -> Self {
        self.sealing = Some(keys);
        self
    }

    fn device_mac(&self, id: &str, destination: &str) -> String {
        keyed_hash(&self.device_key, &format!("{id}\n{destination}"))
    }

    /// The device id of this browser's entry for `destination`, when its
    /// device cookie has a genuine one: then its requests for the address
    /// are counted in that device's own lane.
    pub(super) fn device_lane(&self, ctx: &RequestContext, destination: &str) -> Option<String> {
        let cookie = ctx.device.as_ref()?;
        cookie
            .entries()
            .iter()
            .find(|e| constant_time_eq(self.device_mac(&e.id, destination).as_bytes(), e.mac.as_bytes()))
            .map(|e| e.id.clone())
    }

    /// The device cookie after signing in as `destination`: its entry for the
    /// address (kept if it had one, so its allowance carries on) comes first.
    pub(super) fn remember_device(&self, ctx: &RequestContext, destination: &str) -> DeviceCookie {
        let id = self.device_lane(ctx, destination).unwrap_or_else(|| {
            let mut bytes = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            crate::domain::to_hex(&bytes)
        });
        let entry = DeviceEntry { mac: self.device_mac(&id, destination), id };
        ctx.device.clone().unwrap_or_default().with_first(entry)
    }

    /// Records a security event. A failure to record is logged, not
    /// surfaced: the outcome the person gets has already been decided.
    pub(super) async fn audit(&self, note: AuditNote<'_>, ctx: &RequestContext) {
        let kind = note.kind;
        let event = self.audit_event(note, ctx);
        if let Err(e) = self.store.insert_audit(&event).await {
            tracing::error!(error = %e, kind = kind.as_str(), "could not record an audit event");
        }
    }

    /// The full row: the note plus the time, the request's facts and the
    /// keyed hash of the destination.
    pub(super) fn audit_event(&self, note: AuditNote<'_>, ctx: &RequestContext) -> AuditEvent {
        AuditEvent {
            at: self.clock.now_ms(),
            kind: note.kind,
            destination_hash: note.destination.map(|d| keyed_hash(&self.audit_key, d)),
            destination_masked: note.masked,
            user_id: note.user_id,
            ip: ctx.client_ip.map(|ip| ip.to_string()),
            user_agent: ctx.user_agent.clone(),
            detail: note.detail,
        }
    }

    pub(super) async fn ip_limited(&self, action: IpAction, ctx: &RequestContext) -> Result<(), AuthError> {
        let Err(retry_after_secs) = self.ip_limits.check(action, ctx.client_ip).await else { return Ok(()) };
        // Counted in memory, written as a summary by `flush_refusals`: a
        // flood of refused requests must not become a flood of writes.
        tracing::debug!(ip = ?ctx.client_ip, what = action.as_str(), "client IP over its limit");
        self.refused.note(ctx.client_ip, ctx.user_agent.as_deref(), action, retry_after_secs);
        let limit = super::limits::Limit::PerIp;
        Err(match action {
            IpAction::Send => AuthError::SendLimited { retry_after_secs, limit },
            IpAction::Verify => AuthError::VerifyLimited { retry_after_secs, limit },
        })
    }

    /// Writes what the per-IP limits refused since the last call: one
    /// audit row per client and kind of request, with how many. The server
    /// calls it once a minute, off any request's path.
    pub async fn flush_refusals(&self) {
        for s in self.refused.take() {
            let what = s.action.as_str();
            tracing::info!(ip = ?s.ip, what, refused = s.count, "client IP over its limit");
            let detail = format!(
                "{} {what} {} refused per IP; retry after {} s",
                s.count,
                if s.count == 1 { "request" } else { "requests" },
                s.retry_after_secs
            );
            let ctx = RequestContext { client_ip: s.ip, user_agent: s.user_agent, ..Default::default() };
            self.audit(AuditKind::RateLimited.note().detail(detail), &ctx).await;
        }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// What forward auth remembers of sessions; the server turns it off
    /// while it can't hear of sessions ended on other instances.
    pub fn session_cache(&self) -> &SessionCache {
        &self.session_cache
    }

    /// Sessions ended (here): forget every remembered one, and tell the
    /// other instances to do the same. A failure to tell is logged; their
    /// caches still forget within their time limit.
    pub(super) async fn sessions_ended(&self) {
        self.session_cache.clear();
        if let Err(e) = self.store.announce_sessions_ended().await {
            tracing::warn!(error = %e, "could not tell other instances that sessions ended");
        }
    }

    /// The service's clock, for anything (cookie lifetimes) that must agree
    /// with its expiry decisions.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// Where a sign-in link points. The server answers it by moving the token
/// into a cookie and showing a confirmation page.
pub const LINK_PATH: &str = "/sign-in/email-link";

/// Where a message's "Not you?" link points (short: it goes in text
/// messages). The server moves the token into a cookie and shows a page
/// with one button.
pub const REPORT_PATH: &str = "/n";

pub(super) fn secs_until(now_ms: i64, at_ms: i64) -> u64 {
    let ms = (at_ms - now_ms).max(1000) as u64;
    ms.div_ceil(1000)
}

/// Which per-IP allowance a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpAction {
    Send,
    Verify,
}

impl IpAction {
    pub fn as_str(self) -> &'static str {
        match self {
            IpAction::Send => "send",
            IpAction::Verify => "verify",
        }
    }
}

/// How a person proved they hold the address (recorded with the sign-in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SignInMethod {
    Code,
    Link,
    Passkey,
    /// The link approved it from another device.
    Approved,
    /// A first step (code, link or approval), then the authenticator app's
    /// code.
    ThenApp(FirstStep),
    /// A first step, then a backup code.
    ThenBackup(FirstStep),
}

/// The ways in that an authenticator app may be asked after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FirstStep {
    Code,
    Link,
    Approved,
}

impl SignInMethod {
    /// Stored in the audit trail (the activity list words it) and in a
    /// half-finished sign-in's row.
    pub(super) fn as_str(self) -> &'static str {
        use FirstStep as F;
        match self {
            SignInMethod::Code => "code",
            SignInMethod::Link => "link",
            SignInMethod::Passkey => "passkey",
            SignInMethod::Approved => "approved",
            SignInMethod::ThenApp(F::Code) => "code+app",
            SignInMethod::ThenApp(F::Link) => "link+app",
            SignInMethod::ThenApp(F::Approved) => "approved+app",
            SignInMethod::ThenBackup(F::Code) => "code+backup",
            SignInMethod::ThenBackup(F::Link) => "link+backup",
            SignInMethod::ThenBackup(F::Approved) => "approved+backup",
        }
    }

    /// What a second step may follow; `None` for a passkey (both steps in
    /// one) and for what is already two.
    pub(super) fn first_step(self) -> Option<FirstStep> {
        match self {
            SignInMethod::Code => Some(FirstStep::Code),
            SignInMethod::Link => Some(FirstStep::Link),
            SignInMethod::Approved => Some(FirstStep::Approved),
            _ => None,
        }
    }

    /// A half-finished sign-in's stored first step.
    pub(super) fn parse_first(s: &str) -> Option<FirstStep> {
        [SignInMethod::Code, SignInMethod::Link, SignInMethod::Approved]
            .into_iter()
            .find(|m| m.as_str() == s)
            .and_then(SignInMethod::first_step)
    }
}
