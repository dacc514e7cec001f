//! Signed-in sessions: who a session belongs to, the sessions and recent
//! security events an account can see, and ending sessions. A session ends
//! when unused for `session_idle` or at `session_ttl` after sign-in,
//! whichever comes first; both are checked on every lookup, against the
//! service's clock.

use anyhow::Context;

use crate::domain::{Identifier, SessionToken};

use super::audit::{AuditEvent, AuditKind};
use super::clock::millis;
use super::error::AuthError;
use super::keys::keyed_hash;
use super::passkeys::PasskeySummary;
use super::service::{AuthService, RequestContext, SignedInUser};
use super::store::{SessionRow, Store, UserRow};

/// `last_seen_at` is written at most this often per session (or a quarter
/// of the idle timeout, when that is shorter): the idle timeout is exact to
/// within this, and a busy session costs one write an hour instead of one
/// per request.
pub const LAST_SEEN_EVERY_MS: i64 = 3_600_000;

/// How many security events the account page shows in each of its lists.
pub const ACTIVITY_SHOWN: i64 = 20;

/// Audit details of sign-outs that the person did not make in that browser
/// (the account page words them).
pub const ENDED_ELSEWHERE: &str = "ended from another browser";
pub const REPLACED: &str = "replaced by a new sign-in in the same browser";

/// Whose session `revoke_session` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// Another browser's (or none: ending a session twice is harmless).
    Other,
    /// The asking browser's own: it is signed out.
    ThisBrowser,
}

/// One live session, as its owner sees it.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    pub id: String,
    /// "Firefox on Windows", when the browser said.
    pub browser: Option<String>,
    pub ip: Option<String>,
    pub signed_in_at: i64,
    pub last_seen_at: i64,
    /// The session of the browser asking.
    pub this_browser: bool,
}

/// One security event of the account.
#[derive(Debug, Clone)]
pub struct ActivityEntry {
    pub kind: AuditKind,
    pub at: i64,
    pub ip: Option<String>,
    pub browser: Option<String>,
    pub detail: Option<String>,
}

/// What the account page shows.
#[derive(Debug, Clone)]
pub struct AccountOverview {
    pub user: SignedInUser,
    pub sessions: Vec<SessionSummary>,
    /// Sign-ins and session events, newest first.
    pub sign_ins: Vec<ActivityEntry>,
    /// Every other security event, newest first.
    pub activity: Vec<ActivityEntry>,
    /// The account's passkeys, oldest first (none where passkeys are off).
    pub passkeys: Vec<PasskeySummary>,
    /// Until when this session may remove passkeys and end others without
    /// proving itself again (`None`: it must first).
    pub fresh_until: Option<i64>,
    pub authenticator: super::authenticator::AuthenticatorStatus,
}

impl<S: Store> AuthService<S> {
    pub(super) fn idle_cutoff(&self, now: i64) -> i64 {
        now - millis(self.settings.session_idle)
    }

    /// How stale `last_seen_at` may get before a request writes it again.
    /// Well inside the idle timeout, so a session in use never goes idle.
    fn touch_every(&self) -> i64 {
        (millis(self.settings.session_idle) / 4).clamp(1000, LAST_SEEN_EVERY_MS)
    }

    /// The session a token opens and its account, if the session is live:
    /// one read, and a write only when the session was last marked seen
    /// longer ago than `touch_every` (at most hourly), so a check on every
    /// request of a busy app stays a read.
    pub(super) async fn live_session(&self, token: &SessionToken) -> Result<Option<(SessionRow, UserRow)>, AuthError> {
        let now = self.clock.now_ms();
        let Some((session, user)) = self.store.current_session(token, now, self.idle_cutoff(now)).await? else {
            return Ok(None);
        };
        let fresh_after = now - self.touch_every();
        // A failed write only makes the idle timeout stricter, never looser:
        // the session has checked out, so the request goes on.
        if session.last_seen_at <= fresh_after
            && let Err(e) = self.store.touch_session(&session.id, now, fresh_after).await
        {
            tracing::warn!(error = %e, "could not record that a session was used");
        }
        Ok(Some((session, user)))
    }

    /// The account a session token opens, if the session is live; marks it
    /// seen (at most hourly).
    pub async fn current_user(&self, token: &SessionToken) -> Result<Option<SignedInUser>, AuthError> {
        let Some((session, user)) = self.live_session(token).await? else { return Ok(None) };
        let identifier =
            Identifier::from_stored(user.channel, &user.identifier).context("stored identifier no longer parses")?;
        Ok(Some(SignedInUser {
            id: user.id,
            identifier,
            since: user.created_at,
            session_id: session.id,
            proved_at: session.proved_at,
        }))
    }

    /// The signed-in account with its live sessions and latest security
    /// events.
    pub async fn account(&self, token: &SessionToken) -> Result<Option<AccountOverview>, AuthError> {
        let Some(user) = self.current_user(token).await? else { return Ok(None) };
        let now = self.clock.now_ms();
        let sessions = self
            .store
            .list_sessions(&user.id, now, self.idle_cutoff(now))
            .await?
            .into_iter()
            .map(|s| SessionSummary {
                this_browser: s.id == user.session_id,
                id: s.id,
                browser: s.browser,
                ip: s.ip,
                signed_in_at: s.created_at,
                last_seen_at: s.last_seen_at,
            })
            .collect();
        let destination_hash = keyed_hash(&self.audit_key, user.identifier.as_ref());
        let entries = |events: Vec<AuditEvent>| -> Vec<ActivityEntry> {
            events
                .into_iter()
                .map(|e| ActivityEntry {
                    kind: e.kind,
                    at: e.at,
                    ip: e.ip,
                    browser: e.user_agent.as_deref().and_then(super::user_agent::describe_user_agent),
                    detail: e.detail,
                })
                .collect()
        };
        // Two lists, each with its own room: refused requests and wrong codes
        // (which anyone can cause) never push a sign-in out of sight.
        let sign_ins = entries(self.store.recent_events(&user.id, &destination_hash, true, ACTIVITY_SHOWN).await?);
        let activity = entries(self.store.recent_events(&user.id, &destination_hash, false, ACTIVITY_SHOWN).await?);
        let passkeys = if self.passkeys_enabled() { self.passkey_summaries(&user.id).await? } else { Vec::new() };
        let fresh_until = Some(user.proved_at + millis(self.settings.fresh_proof)).filter(|until| *until >= now);
        let authenticator = self.authenticator_status(&user.id).await?;
        Ok(Some(AccountOverview { user, sessions, sign_ins, activity, passkeys, fresh_until, authenticator }))
    }

    /// Ends a session of the signed-in account (`id`: its public handle).
    /// Ending this browser's own is signing out: then the answer is
    /// `Revoked::ThisBrowser`, and the caller clears the browser too.
    pub async fn revoke_session(
        &self,
        token: &SessionToken,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<Revoked, AuthError> {
        let user = self.current_user(token).await?.ok_or(AuthError::NotSignedIn)?;
        if id == user.session_id {
            self.sign_out(token, ctx).await?;
            return Ok(Revoked::ThisBrowser);
        }
        // A stolen session must not be able to shut its owner out.
        self.require_fresh(&user)?;
        if self.store.revoke_session(&user.id, id).await? {
            self.sessions_ended().await;
            tracing::info!("ended another session of the account");
            self.audit(AuditKind::SignedOut.note().user(user.id).detail(ENDED_ELSEWHERE), ctx).await;
        }
        Ok(Revoked::Other)
    }

    /// Ends every session of the signed-in account but this browser's.
    pub async fn revoke_other_sessions(&self, token: &SessionToken, ctx: &RequestContext) -> Result<u64, AuthError> {
        let user = self.current_user(token).await?.ok_or(AuthError::NotSignedIn)?;
        self.require_fresh(&user)?;
        let ended = self.store.revoke_other_sessions(&user.id, &user.session_id).await?;
        if ended > 0 {
            self.sessions_ended().await;
            tracing::info!(ended, "ended the account's other sessions");
            let detail = format!("{ended} other {} ended", if ended == 1 { "session" } else { "sessions" });
            self.audit(AuditKind::SignedOut.note().user(user.id).detail(detail), ctx).await;
        }
        Ok(ended)
    }

    pub async fn sign_out(&self, token: &SessionToken, ctx: &RequestContext) -> Result<(), AuthError> {
        if let Some(user_id) = self.store.delete_session(token).await? {
            self.sessions_ended().await;
            tracing::info!("signed out");
            self.audit(AuditKind::SignedOut.note().user(user_id), ctx).await;
        }
        Ok(())
    }
}
