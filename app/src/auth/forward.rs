//! Forward auth: may the browser holding this session open this host? The
//! reverse proxy in front of an app asks on every request, so this is at
//! most one session read (none when the session was looked up a moment ago,
//! see `session_cache`) and a decision in memory; it writes only to keep the
//! idle timeout (at most hourly per session) and to record a refusal (once
//! per session and host in `REFUSAL_AUDIT_WINDOW_MS`).

use crate::domain::{Channel, SessionToken};

use super::access::{DecidedBy, Who};
use super::audit::AuditKind;
use super::error::AuthError;
use super::service::{AuthService, RequestContext};
use super::store::{SessionRow, Store, UserRow};

/// A refused person who keeps asking writes one audit row per host in this
/// window.
pub const REFUSAL_AUDIT_WINDOW_MS: i64 = 10 * 60 * 1000;

/// The signed-in person a proxy is told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visitor {
    /// The account's stable id (`Remote-User`).
    pub user_id: String,
    /// As stored: lower-case email or E.164.
    pub identifier: String,
    pub channel: Channel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No live session: sign in first.
    SignedOut,
    Allowed(Visitor, DecidedBy),
    /// Signed in, but the rules keep this account out of this host.
    Refused(Visitor, DecidedBy),
}

impl<S: Store> AuthService<S> {
    /// The decision for a request to `host` (lower case, no port) from a
    /// browser that sent `token`.
    pub async fn check_access(
        &self,
        token: Option<&SessionToken>,
        host: &str,
        ctx: &RequestContext,
    ) -> Result<Access, AuthError> {
        let Some(token) = token else { return Ok(Access::SignedOut) };
        let Some((session, user)) = self.remembered_session(token).await? else { return Ok(Access::SignedOut) };
        let who = Who { identifier: &user.identifier, channel: user.channel };
        let decision = self.settings.access.decide(host, &who);
        let visitor = Visitor { user_id: user.id, identifier: user.identifier.clone(), channel: user.channel };
        tracing::info!(host, user = %visitor.user_id, allowed = decision.allowed, by = %decision.by, "access decision");
        if decision.allowed {
            return Ok(Access::Allowed(visitor, decision.by));
        }
        if self.refusals.first_in_window(&session.id, host, self.clock.now_ms()) {
            let note = AuditKind::AccessRefused
                .note()
                .user(visitor.user_id.clone())
                .detail(format!("{host} ({})", decision.by));
            self.audit(note, ctx).await;
        }
        Ok(Access::Refused(visitor, decision.by))
    }

    /// The live session a token opens: from the session cache when it was
    /// looked up a moment ago, else from the database (one read, and then
    /// remembered).
    async fn remembered_session(&self, token: &SessionToken) -> Result<Option<(SessionRow, UserRow)>, AuthError> {
        let hash = token.hash();
        let now = self.clock.now_ms();
        if let Some(hit) = self.session_cache.get(&hash, now, self.idle_cutoff(now)) {
            return Ok(Some(hit));
        }
        let since = self.session_cache.generation();
        let found = self.live_session(token).await?;
        if let Some((session, user)) = &found {
            self.session_cache.put(since, hash, session.clone(), user.clone(), now);
        }
        Ok(found)
    }

    /// The hosts the access rules name that this account may open (for the
    /// account page).
    pub fn hosts_for(&self, identifier: &str, channel: Channel) -> Vec<String> {
        self.settings.access.hosts_for(&Who { identifier, channel })
    }
}
