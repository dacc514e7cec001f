use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::domain::{
    ChallengeId, Channel, Code, CodePolicy, DeviceCookie, DeviceEntry, EmailAddress, Identifier, LinkToken,
    SessionToken,
};

use super::clock::Clock;
use super::code_hash::CodeHasher;
use super::delivery::{Delivery, Message};
use super::error::AuthError;
use super::keys::{constant_time_eq, keyed_hash};
use super::limits::{IpLimiter, Limits, ip_key};
use super::store::{
    AuditEvent, AuditKind, ChallengeKey, ChallengeState, NewChallenge, Reservation, SendClaim, Store, send_key,
};

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub code: CodePolicy,
    pub code_ttl: Duration,
    pub max_attempts: u32,
    pub session_ttl: Duration,
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
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            code: CodePolicy::default(),
            code_ttl: Duration::from_secs(10 * 60),
            max_attempts: 5,
            session_ttl: Duration::from_secs(30 * 24 * 60 * 60),
            default_region: None,
            product_name: "Passcode".into(),
            public_url: "http://localhost:3000".into(),
            public_host: "localhost".into(),
            email_code_in_subject: false,
            sms_enabled: true,
            limits: Limits::default(),
            sms_countries: None,
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
}

#[derive(Debug)]
pub struct NewSession {
    pub token: SessionToken,
    pub expires_at: i64,
    /// The browser's device cookie, now naming the address it signed in as.
    pub device: DeviceCookie,
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
}

#[derive(Debug, Clone)]
pub struct RequestedFrom {
    /// "Firefox on Windows", when the request said.
    pub browser: Option<String>,
    pub at_ms: i64,
}

#[derive(Debug, Clone)]
pub struct SignedInUser {
    pub id: String,
    pub identifier: Identifier,
    pub since: i64,
}

pub struct AuthService {
    store: Store,
    hasher: CodeHasher,
    delivery: Arc<dyn Delivery>,
    clock: Arc<dyn Clock>,
    settings: AuthSettings,
    ip_sends: IpLimiter,
    ip_verifies: IpLimiter,
    /// Keys the audit trail's destination hashes (derived from the server
    /// secret, so a leaked audit table cannot be reversed by guessing).
    audit_key: Vec<u8>,
    /// Keys the device cookie's MACs.
    device_key: Vec<u8>,
}

impl AuthService {
    pub fn new(
        store: Store,
        hasher: CodeHasher,
        delivery: Arc<dyn Delivery>,
        clock: Arc<dyn Clock>,
        settings: AuthSettings,
        server_secret: &[u8],
    ) -> Self {
        let l = &settings.limits;
        let ip_sends = IpLimiter::new(l.ip_sends_per_10_min, l.ip_send_burst);
        let ip_verifies = IpLimiter::new(l.ip_verifies_per_10_min, l.ip_verify_burst);
        let audit_key = keyed_hash(server_secret, "passcode audit key").into_bytes();
        let device_key = keyed_hash(server_secret, "passcode device cookie key").into_bytes();
        Self { store, hasher, delivery, clock, settings, ip_sends, ip_verifies, audit_key, device_key }
    }

    fn device_mac(&self, id: &str, destination: &str) -> String {
        keyed_hash(&self.device_key, &format!("{id}\n{destination}"))
    }

    /// The device id of this browser's entry for `destination`, when its
    /// device cookie has a genuine one: then its requests for the address
    /// are counted in that device's own lane.
    fn device_lane(&self, ctx: &RequestContext, destination: &str) -> Option<String> {
        let cookie = ctx.device.as_ref()?;
        cookie
            .entries()
            .iter()
            .find(|e| constant_time_eq(self.device_mac(&e.id, destination).as_bytes(), e.mac.as_bytes()))
            .map(|e| e.id.clone())
    }

    /// The device cookie after signing in as `destination`: its entry for the
    /// address (kept if it had one, so its allowance carries on) comes first.
    fn remember_device(&self, ctx: &RequestContext, destination: &str) -> DeviceCookie {
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
    async fn audit(
        &self,
        kind: AuditKind,
        to: Option<&str>,
        masked: Option<String>,
        ctx: &RequestContext,
        detail: Option<String>,
        user_id: Option<String>,
    ) {
        let event = self.audit_event(kind, to, masked, ctx, detail, user_id);
        if let Err(e) = self.store.insert_audit(&event).await {
            tracing::error!(error = %e, kind = kind.as_str(), "could not record an audit event");
        }
    }

    fn audit_event(
        &self,
        kind: AuditKind,
        to: Option<&str>,
        masked: Option<String>,
        ctx: &RequestContext,
        detail: Option<String>,
        user_id: Option<String>,
    ) -> AuditEvent {
        AuditEvent {
            at: self.clock.now_ms(),
            kind,
            destination_hash: to.map(|d| keyed_hash(&self.audit_key, d)),
            destination_masked: masked,
            user_id,
            ip: ctx.client_ip.map(|ip| ip.to_string()),
            user_agent: ctx.user_agent.clone(),
            detail,
        }
    }

    async fn ip_limited(&self, action: IpAction, ctx: &RequestContext) -> Result<(), AuthError> {
        let limiter = match action {
            IpAction::Send => &self.ip_sends,
            IpAction::Verify => &self.ip_verifies,
        };
        let Err(retry_after_secs) = limiter.check(ctx.client_ip) else { return Ok(()) };
        let what = action.as_str();
        tracing::info!(ip = ?ctx.client_ip, what, "client IP over its limit");
        self.audit(
            AuditKind::RateLimited,
            None,
            None,
            ctx,
            Some(format!("{what} per IP; retry after {retry_after_secs} s")),
            None,
        )
        .await;
        Err(match action {
            IpAction::Send => AuthError::SendLimited { retry_after_secs },
            IpAction::Verify => AuthError::VerifyLimited { retry_after_secs },
        })
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// The service's clock, for anything (cookie lifetimes) that must agree
    /// with its expiry decisions.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Parses the identifier, stores a hashed code (retiring any older one)
    /// and delivers it. If delivery fails the challenge is retired, so no
    /// usable code exists that nobody received.
    pub async fn request_code(&self, raw_identifier: &str, ctx: &RequestContext) -> Result<Pending, AuthError> {
        let to = Identifier::parse(raw_identifier, self.settings.default_region.as_deref())?;
        self.ip_limited(IpAction::Send, ctx).await?;
        self.send_new_code(to, ctx).await
    }

    /// The same as `request_code`, for a person switching to email on the
    /// code page: only an email address will do.
    pub async fn request_email_code(&self, raw_email: &str, ctx: &RequestContext) -> Result<Pending, AuthError> {
        let to = Identifier::Email(EmailAddress::parse(raw_email)?);
        self.ip_limited(IpAction::Send, ctx).await?;
        self.send_new_code(to, ctx).await
    }

    /// A fresh code for the destination of an earlier challenge of this
    /// browser's, whatever state that challenge is in.
    pub async fn resend_code(&self, previous: &ChallengeId, ctx: &RequestContext) -> Result<Pending, AuthError> {
        let view = self.store.challenge_view(previous).await?.ok_or(AuthError::NoChallenge)?;
        let to = view.identifier()?;
        self.ip_limited(IpAction::Send, ctx).await?;
        self.send_new_code(to, ctx).await
    }

    async fn send_new_code(&self, to: Identifier, ctx: &RequestContext) -> Result<Pending, AuthError> {
        if to.channel() == Channel::Sms && !self.settings.sms_enabled {
            return Err(AuthError::SmsNotOffered);
        }
        if let (Identifier::Phone(phone), Some(allowed)) = (&to, &self.settings.sms_countries)
            && !allowed.contains(&phone.country_code())
        {
            return Err(AuthError::SmsCountryNotAllowed);
        }
        let l = &self.settings.limits;
        let now = self.clock.now_ms();
        let dest = to.as_ref();
        // A turn at hashing first: a "busy" answer then spends nothing.
        let slot = self.hasher.slot().await?;
        // Counted per client IP before anything else, so that a client over
        // its share spends nobody's allowance but its own.
        if to.channel() == Channel::Sms
            && let Some(ip) = ctx.client_ip
            && !self.store.claim_sms_for_ip(&ip_key(ip).to_string(), now, l.sms_per_ip_per_hour).await?
        {
            tracing::info!(ip = ?ctx.client_ip, "client IP over its hourly SMS share (PASSCODE_SMS_PER_IP_PER_HOUR)");
            self.audit(AuditKind::RateLimited, Some(dest), Some(to.masked()), ctx, Some("SMS per IP".into()), None)
                .await;
            return Err(AuthError::SmsUnavailable);
        }
        let lane = self.device_lane(ctx, dest).unwrap_or_default();
        let key = send_key(dest, &lane);
        let next_send_at =
            match self.store.claim_send(&key, now, ms(l.resend_cooldown), l.codes_per_hour, l.codes_per_day).await? {
                SendClaim::Granted { next_send_at } => next_send_at,
                SendClaim::Refused { retry_at } => {
                    let retry_after_secs = secs_until(now, retry_at);
                    self.audit(
                        AuditKind::RateLimited,
                        Some(dest),
                        Some(to.masked()),
                        ctx,
                        Some(format!("send; retry after {retry_after_secs} s")),
                        None,
                    )
                    .await;
                    return Err(AuthError::SendLimited { retry_after_secs });
                }
            };
        if to.channel() == Channel::Sms && !self.store.claim_sms(now, l.sms_per_hour).await? {
            tracing::warn!("hourly SMS budget spent (PASSCODE_SMS_PER_HOUR); refusing SMS until the hour is over");
            self.audit(
                AuditKind::RateLimited,
                Some(dest),
                Some(to.masked()),
                ctx,
                Some("global SMS budget".into()),
                None,
            )
            .await;
            return Err(AuthError::SmsUnavailable);
        }
        let code = Code::generate(&self.settings.code);
        let code_hash = self.hasher.hash(slot, &code).await?;
        let challenge = ChallengeId::generate();
        let now = self.clock.now_ms();
        let expires_at = now + ms(self.settings.code_ttl);
        // Email carries a sign-in link too; a text message stays short.
        let link = (to.channel() == Channel::Email).then(LinkToken::generate);
        let requested_from = ctx.user_agent.as_deref().and_then(super::email::describe_user_agent);
        self.store
            .replace_challenge(&NewChallenge {
                id: &challenge,
                to: &to,
                code_hash: &code_hash,
                now,
                expires_at,
                max_attempts: i64::from(self.settings.max_attempts),
                link_hash: link.as_ref().map(LinkToken::hash).as_deref(),
                lane: &lane,
                requested_from: requested_from.as_deref(),
            })
            .await?;
        let message = self.compose(&to, &code, link.as_ref(), now, expires_at, ctx);
        if let Err(source) = self.delivery.send(&message).await {
            let source = source.masking(dest, &to.masked());
            self.store.retire_challenge(&challenge, self.clock.now_ms()).await?;
            self.audit(AuditKind::DeliveryFailed, Some(dest), Some(to.masked()), ctx, Some(source.to_string()), None)
                .await;
            return Err(AuthError::Delivery { masked: to.masked(), channel: to.channel(), source });
        }
        tracing::info!(to = %to.masked(), channel = to.channel().as_str(), ip = ?ctx.client_ip, "code sent");
        self.audit(AuditKind::CodeSent, Some(dest), Some(to.masked()), ctx, Some(to.channel().as_str().into()), None)
            .await;
        Ok(Pending { challenge, masked_destination: to.masked(), channel: to.channel(), expires_at, next_send_at })
    }

    fn compose(
        &self,
        to: &Identifier,
        code: &Code,
        link: Option<&LinkToken>,
        now: i64,
        expires_at: i64,
        ctx: &RequestContext,
    ) -> Message {
        let name = &self.settings.product_name;
        let (subject, body, html) = match to.channel() {
            Channel::Email => {
                let link = format!(
                    "{}{LINK_PATH}?token={}",
                    self.settings.public_url,
                    link.map(LinkToken::expose).unwrap_or_default()
                );
                let details = super::email::EmailDetails {
                    product_name: name,
                    requested_at: now,
                    expires_at,
                    link: &link,
                    context: ctx,
                    code_in_subject: self.settings.email_code_in_subject,
                };
                let (subject, text, html) = super::email::compose(code, &details);
                (subject, text, Some(html))
            }
            Channel::Sms => {
                let minutes = ((expires_at - now) / 60_000).max(1);
                let body = super::sms::compose(name, code, minutes, &self.settings.public_host);
                ("Your sign-in code".to_owned(), body, None)
            }
        };
        Message { to: to.clone(), subject, body, html, code: code.clone() }
    }

    /// Where this browser's last code went (open or not: after a burned or
    /// expired code the page still offers to send a new one there).
    pub async fn pending(&self, challenge: &ChallengeId) -> Result<Option<Pending>, AuthError> {
        let view = self.store.challenge_view(challenge).await?;
        let l = &self.settings.limits;
        Ok(match view {
            Some(v) => {
                let to = v.identifier()?;
                let key = send_key(&v.destination, &v.lane);
                let next_send_at =
                    self.store.next_send_time(&key, self.clock.now_ms(), l.codes_per_hour, l.codes_per_day).await?;
                Some(Pending {
                    challenge: challenge.clone(),
                    masked_destination: to.masked(),
                    channel: v.channel,
                    expires_at: v.expires_at,
                    next_send_at,
                })
            }
            None => None,
        })
    }

    pub async fn verify_code(
        &self,
        challenge: &ChallengeId,
        raw_code: &str,
        ctx: &RequestContext,
    ) -> Result<NewSession, AuthError> {
        let code = Code::parse(raw_code, &self.settings.code)?;
        self.ip_limited(IpAction::Verify, ctx).await?;
        // A turn at hashing before an attempt is reserved: a "busy" answer
        // must not cost the person one of their tries.
        let slot = self.hasher.slot().await?;
        let l = &self.settings.limits;
        let now = self.clock.now_ms();
        let reserved = match self.store.reserve_attempt(challenge, now, l.failures_per_hour, ms(l.lockout)).await? {
            Reservation::Reserved(r) => r,
            Reservation::DestinationLimited { retry_at } => {
                let retry_after_secs = secs_until(now, retry_at);
                self.audit(
                    AuditKind::RateLimited,
                    None,
                    None,
                    ctx,
                    Some(format!("verify; retry after {retry_after_secs} s")),
                    None,
                )
                .await;
                return Err(AuthError::VerifyLimited { retry_after_secs });
            }
            Reservation::ChallengeClosed => return Err(self.why_closed(challenge, now).await?),
        };
        let dest = reserved.destination.as_str();
        if !self.hasher.verify(slot, &code, Some(&reserved.code_hash)).await? {
            let left = (reserved.max_attempts - reserved.attempts).max(0) as u32;
            tracing::info!(ip = ?ctx.client_ip, attempts_left = left, "wrong code");
            self.audit(
                AuditKind::VerificationFailed,
                Some(dest),
                None,
                ctx,
                Some(format!("{left} attempts left")),
                None,
            )
            .await;
            if left == 0 {
                self.audit(AuditKind::ChallengeBurned, Some(dest), None, ctx, None, None).await;
            }
            let now = self.clock.now_ms();
            if self.store.lock_if_exhausted(&reserved.failure_key, now, l.failures_per_hour, ms(l.lockout)).await? {
                tracing::warn!(ip = ?ctx.client_ip, "destination locked after too many wrong codes");
                self.audit(
                    AuditKind::DestinationLocked,
                    Some(dest),
                    None,
                    ctx,
                    Some(format!("{} s", l.lockout.as_secs())),
                    None,
                )
                .await;
            }
            return Err(if left == 0 {
                AuthError::TooManyAttempts
            } else {
                AuthError::WrongCode { attempts_left: left }
            });
        }
        match self.open_session(ChallengeKey::Id(challenge), SignInMethod::Code, ctx).await? {
            Some(session) => Ok(session),
            // A right code that lost a race: with a resend (a newer code
            // retired it) or with another sign-in. Say which.
            None => Err(self.why_closed(challenge, self.clock.now_ms()).await?),
        }
    }

    /// Why a challenge can take no more attempts, as the person is told it.
    async fn why_closed(&self, challenge: &ChallengeId, now: i64) -> Result<AuthError, AuthError> {
        Ok(match self.store.challenge_state(challenge, now).await? {
            ChallengeState::Missing => AuthError::NoChallenge,
            ChallengeState::Used => AuthError::Used,
            ChallengeState::Superseded => AuthError::Superseded,
            ChallengeState::Expired | ChallengeState::Open => AuthError::Expired,
            ChallengeState::Exhausted => AuthError::TooManyAttempts,
        })
    }

    /// Consumes the challenge and opens a session: the last step of both
    /// ways in. `None`: somebody else consumed it first.
    async fn open_session(
        &self,
        key: ChallengeKey<'_>,
        with: SignInMethod,
        ctx: &RequestContext,
    ) -> Result<Option<NewSession>, AuthError> {
        let token = SessionToken::generate();
        let now = self.clock.now_ms();
        let expires_at = now + ms(self.settings.session_ttl);
        let new_user_id = crate::domain::random_id();
        let audit = |destination: &str, user_id: &str| {
            self.audit_event(
                AuditKind::SignedIn,
                Some(destination),
                None,
                ctx,
                Some(with.as_str().into()),
                Some(user_id.to_owned()),
            )
        };
        let Some(signed_in) = self.store.consume_and_sign_in(key, &new_user_id, &token, now, expires_at, audit).await?
        else {
            return Ok(None);
        };
        tracing::info!(user = %signed_in.user_id, ip = ?ctx.client_ip, with = with.as_str(), "signed in");
        let device = self.remember_device(ctx, &signed_in.destination);
        Ok(Some(NewSession { token, expires_at, device }))
    }

    /// Which account a sign-in link signs in to, while the link still works,
    /// and where it was asked for when that was not this browser (`pending`:
    /// the challenge this browser asked for, if any). Only reads: mail
    /// scanners open every link, so opening one must not use it up.
    pub async fn link_info(
        &self,
        link: &LinkToken,
        pending: Option<&ChallengeId>,
    ) -> Result<Option<LinkInfo>, AuthError> {
        let Some(view) = self.store.link_view(&link.hash(), self.clock.now_ms()).await? else { return Ok(None) };
        let address = view.identifier()?.as_ref().to_owned();
        let same_browser = pending.is_some_and(|p| p.as_ref() == view.id);
        let requested_elsewhere =
            (!same_browser).then(|| RequestedFrom { browser: view.requested_from.clone(), at_ms: view.created_at });
        Ok(Some(LinkInfo { address, requested_elsewhere }))
    }

    /// Signs in with a link's token: the person pressed "Sign in" on the
    /// confirmation page. Consumes the challenge, so the code stops working
    /// too. Any failure reads the same: the link is expired or used.
    pub async fn sign_in_with_link(&self, link: &LinkToken, ctx: &RequestContext) -> Result<NewSession, AuthError> {
        self.ip_limited(IpAction::Verify, ctx).await?;
        self.open_session(ChallengeKey::Link(&link.hash()), SignInMethod::Link, ctx)
            .await?
            .ok_or(AuthError::LinkUnusable)
    }

    pub async fn current_user(&self, token: &SessionToken) -> Result<Option<SignedInUser>, AuthError> {
        let Some(row) = self.store.session_user(token, self.clock.now_ms()).await? else { return Ok(None) };
        let identifier =
            Identifier::from_stored(row.channel, &row.identifier).context("stored identifier no longer parses")?;
        Ok(Some(SignedInUser { id: row.id, identifier, since: row.created_at }))
    }

    pub async fn sign_out(&self, token: &SessionToken, ctx: &RequestContext) -> Result<(), AuthError> {
        if let Some(user_id) = self.store.delete_session(token).await? {
            tracing::info!("signed out");
            self.audit(AuditKind::SignedOut, None, None, ctx, None, Some(user_id)).await;
        }
        Ok(())
    }
}

/// Where a sign-in link points. The server answers it by moving the token
/// into a cookie and showing a confirmation page.
pub const LINK_PATH: &str = "/sign-in/email-link";

/// A length of time as the clock's milliseconds (saturating: settings are
/// checked far below `i64::MAX`).
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn secs_until(now_ms: i64, at_ms: i64) -> u64 {
    let ms = (at_ms - now_ms).max(1000) as u64;
    ms.div_ceil(1000)
}

/// Which per-IP allowance a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IpAction {
    Send,
    Verify,
}

impl IpAction {
    fn as_str(self) -> &'static str {
        match self {
            IpAction::Send => "send",
            IpAction::Verify => "verify",
        }
    }
}

/// How a person proved they hold the address (recorded with the sign-in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignInMethod {
    Code,
    Link,
}

impl SignInMethod {
    fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Code => "code",
            SignInMethod::Link => "link",
        }
    }
}
