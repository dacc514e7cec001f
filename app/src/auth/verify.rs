//! Proving an address: a code typed on the code page, or the sign-in link
//! from the email. Both end by consuming the challenge and opening a
//! session in one atomic step.

use crate::domain::{ChallengeId, Code, LinkToken, SecondStepToken, SessionToken};

use super::audit::AuditKind;
use super::authenticator::{SECOND_STEP_MS, SignInOutcome};
use super::clock::millis;
use super::error::AuthError;
use super::keys::{constant_time_eq, keyed_hash};
use super::limits::Limit;
use super::service::{
    AuthService, IpAction, LinkInfo, NewSession, RequestContext, RequestedFrom, SignInMethod, secs_until,
};
use super::sessions::REPLACED;
use super::store::{
    ChallengeKey, ChallengeState, ChallengeView, NewSecondStep, NewSessionRow, Reservation, SecondFactorSpend,
    SignInEvent, Store,
};
use super::user_agent::describe_user_agent;

/// What a new session is opened on.
enum Opens<'a> {
    /// A challenge, consumed with it.
    Challenge(ChallengeKey<'a>),
    /// An existing account that proved itself another way.
    User(&'a str),
    /// A half-finished sign-in (its token's hash), taken with the answer
    /// it spends.
    SecondStep(&'a str, &'a SecondFactorSpend),
}

impl<S: Store> AuthService<S> {
    pub async fn verify_code(
        &self,
        challenge: &ChallengeId,
        raw_code: &str,
        ctx: &RequestContext,
    ) -> Result<SignInOutcome, AuthError> {
        let result = self.verify_code_once(challenge, raw_code, ctx).await;
        crate::metrics::verification("code", &result);
        result
    }

    async fn verify_code_once(
        &self,
        challenge: &ChallengeId,
        raw_code: &str,
        ctx: &RequestContext,
    ) -> Result<SignInOutcome, AuthError> {
        self.check_code(challenge, raw_code, ctx).await?;
        match self.open_session(ChallengeKey::Id(challenge), SignInMethod::Code, ctx).await? {
            Some(session) => Ok(session),
            // A right code that lost a race: with a resend (a newer code
            // retired it) or with another sign-in. Say which.
            None => Err(self.why_closed(challenge, self.clock.now_ms()).await?),
        }
    }

    /// Checks a typed code against a challenge: an attempt is reserved
    /// (counted against the challenge and its destination) before the hash
    /// is compared, and a wrong code is recorded and may lock the
    /// destination. Returns the challenge's destination; the caller
    /// consumes the challenge.
    pub(super) async fn check_code(
        &self,
        challenge: &ChallengeId,
        raw_code: &str,
        ctx: &RequestContext,
    ) -> Result<String, AuthError> {
        let code = Code::parse(raw_code, &self.settings.code)?;
        self.ip_limited(IpAction::Verify, ctx).await?;
        // A turn at hashing before an attempt is reserved: a "busy" answer
        // must not cost the person one of their tries.
        let slot = self.hasher.slot().await?;
        let l = &self.settings.limits;
        let now = self.clock.now_ms();
        let reserved = match self.store.reserve_attempt(challenge, now, l.failures_per_hour, millis(l.lockout)).await? {
            Reservation::Reserved(r) => r,
            Reservation::DestinationLimited { retry_at } => {
                let retry_after_secs = secs_until(now, retry_at);
                let detail = format!("verify; retry after {retry_after_secs} s");
                self.audit(AuditKind::RateLimited.note().detail(detail), ctx).await;
                return Err(AuthError::VerifyLimited { retry_after_secs, limit: Limit::Locked });
            }
            Reservation::ChallengeClosed => return Err(self.why_closed(challenge, now).await?),
        };
        let dest = reserved.destination.as_str();
        if !self.hasher.verify(slot, &code, Some(&reserved.code_hash)).await? {
            let left = (reserved.max_attempts - reserved.attempts).max(0) as u32;
            tracing::info!(ip = ?ctx.client_ip, attempts_left = left, "wrong code");
            self.audit(AuditKind::VerificationFailed.note().to(dest).detail(format!("{left} attempts left")), ctx)
                .await;
            if left == 0 {
                self.audit(AuditKind::ChallengeBurned.note().to(dest), ctx).await;
            }
            let now = self.clock.now_ms();
            if self.store.lock_if_exhausted(&reserved.failure_key, now, l.failures_per_hour, millis(l.lockout)).await? {
                tracing::warn!(ip = ?ctx.client_ip, "destination locked after too many wrong codes");
                let detail = format!("{} s", l.lockout.as_secs());
                self.audit(AuditKind::DestinationLocked.note().to(dest).detail(detail), ctx).await;
            }
            return Err(if left == 0 {
                AuthError::TooManyAttempts
            } else {
                AuthError::WrongCode { attempts_left: left }
            });
        }
        Ok(reserved.destination)
    }

    /// Why a challenge can take no more attempts, as the person is told it.
    pub(super) async fn why_closed(&self, challenge: &ChallengeId, now: i64) -> Result<AuthError, AuthError> {
        Ok(closed_because(self.store.challenge_state(challenge, now).await?))
    }

    /// Consumes the challenge and opens a session (or, when the account
    /// has an authenticator app on, a half-finished sign-in that asks for
    /// its code): the last step of every way in by code. `None`: somebody
    /// else consumed it first.
    pub(super) async fn open_session(
        &self,
        key: ChallengeKey<'_>,
        with: SignInMethod,
        ctx: &RequestContext,
    ) -> Result<Option<SignInOutcome>, AuthError> {
        self.open_session_with(Opens::Challenge(key), with, ctx).await
    }

    /// Opens the session of a half-finished sign-in, spending its answer
    /// (`with`: both steps). `None`: it was gone, or the answer was spent.
    pub(super) async fn open_second_step_session(
        &self,
        token: &SecondStepToken,
        spend: &SecondFactorSpend,
        with: SignInMethod,
        ctx: &RequestContext,
    ) -> Result<Option<NewSession>, AuthError> {
        let hash = token.hash();
        let opens = Opens::SecondStep(&hash, spend);
        Ok(self.open_session_with(opens, with, ctx).await?.and_then(SignInOutcome::session))
    }

    /// Opens a session for an account that proved itself without a
    /// challenge (a passkey, which is both steps in one: never asked for
    /// the authenticator app). `None`: the account is gone.
    pub(super) async fn open_session_for_user(
        &self,
        user_id: &str,
        with: SignInMethod,
        ctx: &RequestContext,
    ) -> Result<Option<NewSession>, AuthError> {
        Ok(self.open_session_with(Opens::User(user_id), with, ctx).await?.and_then(SignInOutcome::session))
    }

    /// The one way a session begins, whatever proved it: the same cookie,
    /// the same audit rows, the browser's old session ended. A challenge's
    /// account with an authenticator app on gets a half-finished sign-in
    /// instead, decided in the store's transaction.
    async fn open_session_with(
        &self,
        opens: Opens<'_>,
        with: SignInMethod,
        ctx: &RequestContext,
    ) -> Result<Option<SignInOutcome>, AuthError> {
        let token = SessionToken::generate();
        let now = self.clock.now_ms();
        let expires_at = now + millis(self.settings.session_ttl);
        let new_user_id = crate::domain::random_id();
        let audit = |event: SignInEvent<'_>| match event {
            SignInEvent::SignedIn { destination, user_id } => {
                self.audit_event(AuditKind::SignedIn.note().to(destination).detail(with.as_str()).user(user_id), ctx)
            }
            SignInEvent::Replaced { user_id } => {
                self.audit_event(AuditKind::SignedOut.note().user(user_id).detail(REPLACED), ctx)
            }
            SignInEvent::SecondStepAsked { destination, user_id } => self.audit_event(
                AuditKind::SecondStepAsked.note().to(destination).detail(with.as_str()).user(user_id),
                ctx,
            ),
        };
        let session_id = crate::domain::random_id();
        let ip = ctx.client_ip.map(|ip| ip.to_string());
        let browser = ctx.user_agent.as_deref().and_then(describe_user_agent);
        let session = NewSessionRow {
            token: &token,
            id: &session_id,
            now,
            expires_at,
            ip: ip.as_deref(),
            browser: browser.as_deref(),
        };
        // A browser that signs in again gets a new session; the one it held
        // ends with it, so a session fixed on it beforehand dies here.
        let replaces = ctx.session.as_ref();
        let step_token = SecondStepToken::generate();
        let step_hash = step_token.hash();
        let second_step =
            NewSecondStep { token_hash: &step_hash, method: with.as_str(), expires_at: now + SECOND_STEP_MS };
        let signed_in = match opens {
            Opens::Challenge(key) => {
                self.store.consume_and_sign_in(key, &new_user_id, &session, &second_step, replaces, audit).await?
            }
            Opens::User(user_id) => self.store.sign_in_user(user_id, &session, replaces, audit).await?,
            Opens::SecondStep(hash, spend) => {
                self.store.finish_second_step(hash, spend, now, &session, replaces, audit).await?
            }
        };
        let Some(signed_in) = signed_in else { return Ok(None) };
        if signed_in.second_step {
            tracing::info!(user = %signed_in.user_id, ip = ?ctx.client_ip, with = with.as_str(), "first step made; the authenticator app is asked next");
            return Ok(Some(SignInOutcome::SecondStep { token: step_token, expires_at: second_step.expires_at }));
        }
        if replaces.is_some() {
            // The browser's old session may have ended with this sign-in.
            self.sessions_ended().await;
        }
        tracing::info!(user = %signed_in.user_id, ip = ?ctx.client_ip, with = with.as_str(), "signed in");
        crate::metrics::signed_in(with.as_str());
        let device = self.remember_device(ctx, &signed_in.destination);
        Ok(Some(SignInOutcome::Session(NewSession { token, expires_at, device, user_id: signed_in.user_id })))
    }

    /// Which account a sign-in link signs in to, while the link still works,
    /// and where it was asked for when that was not this browser
    /// (`asked_here`: the challenges this browser asked for, to sign in or
    /// to confirm it's the owner). Only reads: mail
    /// scanners open every link, so opening one must not use it up.
    pub async fn link_info(&self, link: &LinkToken, asked_here: &[ChallengeId]) -> Result<Option<LinkInfo>, AuthError> {
        let Some(view) = self.store.link_view(&link.hash(), self.clock.now_ms()).await? else { return Ok(None) };
        let address = view.identifier()?.as_ref().to_owned();
        let same_browser = asked_here.iter().any(|p| p.as_ref() == view.id);
        let requested_elsewhere = (!same_browser).then(|| RequestedFrom::of(&view));
        let pair_number = view.pair_number.clamp(0, 99) as u8;
        Ok(Some(LinkInfo { address, requested_elsewhere, pair_number, shown: self.link_shown(link) }))
    }

    /// The open challenge of the link in this browser's cookie, when it is
    /// the link its page showed (`shown`): every button on that page (sign
    /// in, approve, report) acts only on the link the person saw. A dead
    /// link reads the same whatever the page showed.
    pub(super) async fn link_as_shown(
        &self,
        link: &LinkToken,
        shown: &str,
        ctx: &RequestContext,
    ) -> Result<ChallengeView, AuthError> {
        let view = self.store.link_view(&link.hash(), self.clock.now_ms()).await?.ok_or(AuthError::LinkUnusable)?;
        if !constant_time_eq(self.link_shown(link).as_bytes(), shown.as_bytes()) {
            tracing::warn!(ip = ?ctx.client_ip, "the sign-in link in the cookie is not the one its page showed");
            return Err(AuthError::LinkChanged);
        }
        Ok(view)
    }

    /// What the confirmation page of `link` posts back: a keyed hash of the
    /// link's own hash, so the page holds nothing that opens the account.
    fn link_shown(&self, link: &LinkToken) -> String {
        keyed_hash(&self.link_page_key, &link.hash())[..32].to_owned()
    }

    /// Signs in with a link's token: the person pressed "Sign in" on the
    /// confirmation page, which showed the link named by `shown`. Another
    /// live link in the cookie now (a site opened one in this browser while
    /// the page was open) signs nobody in: `LinkChanged`, and the page shows
    /// the address the cookie names now. Consumes the challenge, so the code
    /// stops working too. A dead link reads the same whatever the page
    /// showed: expired or used.
    pub async fn sign_in_with_link(
        &self,
        link: &LinkToken,
        shown: &str,
        ctx: &RequestContext,
    ) -> Result<SignInOutcome, AuthError> {
        let result = async {
            self.ip_limited(IpAction::Verify, ctx).await?;
            self.link_as_shown(link, shown, ctx).await?;
            self.open_session(ChallengeKey::Link(&link.hash()), SignInMethod::Link, ctx)
                .await?
                .ok_or(AuthError::LinkUnusable)
        }
        .await;
        crate::metrics::verification("link", &result);
        result
    }
}

/// Why a challenge in `state` can take no more attempts, as the person is
/// told it (`Open`: it expired in between).
pub(super) fn closed_because(state: ChallengeState) -> AuthError {
    match state {
        ChallengeState::Missing => AuthError::NoChallenge,
        ChallengeState::Used => AuthError::Used,
        ChallengeState::Superseded => AuthError::Superseded,
        ChallengeState::Expired | ChallengeState::Open => AuthError::Expired,
        ChallengeState::Exhausted => AuthError::TooManyAttempts,
        ChallengeState::Approved => AuthError::ApprovedElsewhere,
        ChallengeState::Reported => AuthError::Reported,
    }
}
