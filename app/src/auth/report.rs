//! "Not you?": every message carries a short link that its recipient can use
//! to say they never asked for it. The link's page shows what was asked and
//! from where, with one button. Pressing it, once: every open code and link
//! to the address ends, the report goes into the audit trail and the
//! account's activity list, and for a day the address gets half its usual
//! codes and only browsers that signed in to it before get any. A stranger
//! asking meanwhile gets the usual answer and no message
//! (`send::send_new_code`), so the report reveals nothing to them.

use crate::domain::{Channel, LinkToken, ReportToken};

use super::audit::AuditKind;
use super::error::AuthError;
use super::service::{AuthService, IpAction, RequestContext, RequestedFrom};
use super::store::{ChallengeView, NewReport, ReportOf, Store};
use super::user_agent::where_from;

/// How long a message's "Not you?" link works, and how long a report keeps
/// the address tightened.
pub const REPORT_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// What the "Not you?" page shows.
#[derive(Debug, Clone)]
pub struct ReportInfo {
    /// "j•••@example.com": the link's holder has the message; nothing more
    /// is needed to recognise it.
    pub masked_destination: String,
    pub channel: Channel,
    pub requested: RequestedFrom,
    /// Reported already (by this link or another of the address's).
    pub already: bool,
}

/// What pressing the button did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// The sign-in was stopped (its code had not been used).
    Now,
    /// Its code had been used already: the session it opened was ended.
    EndedSession,
    /// Reported before: nothing changed.
    Already,
}

impl<S: Store> AuthService<S> {
    /// The message a "Not you?" link belongs to, while it works. Reads only
    /// (mail scanners open links).
    pub async fn report_info(&self, token: &ReportToken) -> Result<Option<ReportInfo>, AuthError> {
        let since = self.clock.now_ms() - REPORT_WINDOW_MS;
        let Some(view) = self.store.report_view(&token.hash(), since).await? else { return Ok(None) };
        let to = view.identifier()?;
        Ok(Some(ReportInfo {
            masked_destination: to.masked(),
            channel: to.channel(),
            requested: RequestedFrom::of(&view),
            already: view.reported_at.is_some(),
        }))
    }

    /// "That wasn't me" from the message's "Not you?" link.
    pub async fn report_not_me(&self, token: &ReportToken, ctx: &RequestContext) -> Result<Reported, AuthError> {
        self.ip_limited(IpAction::Verify, ctx).await?;
        let since = self.clock.now_ms() - REPORT_WINDOW_MS;
        let hash = token.hash();
        let view = self.store.report_view(&hash, since).await?.ok_or(AuthError::ReportUnusable)?;
        if view.reported_at.is_some() {
            return Ok(Reported::Already);
        }
        self.record_report(ReportOf::Token(&hash), &view, ctx).await
    }

    /// "That wasn't me" from the sign-in link's page on another device: the
    /// same as the message's "Not you?" link. `shown`: as for signing in.
    pub async fn report_with_link(
        &self,
        link: &LinkToken,
        shown: &str,
        ctx: &RequestContext,
    ) -> Result<Reported, AuthError> {
        self.ip_limited(IpAction::Verify, ctx).await?;
        let view = self.link_as_shown(link, shown, ctx).await?;
        // Used (approved, signed in with) between the look and the report:
        // too late, as for any dead link.
        match self.record_report(ReportOf::Link(&link.hash()), &view, ctx).await? {
            Reported::Already => Err(AuthError::LinkUnusable),
            done => Ok(done),
        }
    }

    async fn record_report(
        &self,
        of: ReportOf<'_>,
        view: &ChallengeView,
        ctx: &RequestContext,
    ) -> Result<Reported, AuthError> {
        let to = view.identifier()?;
        let now = self.clock.now_ms();
        let report = NewReport {
            of,
            destination: &view.destination,
            allowance: &to.allowance_key(),
            now,
            sent_after: now - REPORT_WINDOW_MS,
            tightened_until: now + REPORT_WINDOW_MS,
        };
        let Some(ended) = self.store.report(&report).await? else { return Ok(Reported::Already) };
        tracing::warn!(to = %to.masked(), ip = ?ctx.client_ip, ended, "a sign-in was reported as not asked for");
        let mut detail = where_from(view.requested_ip.as_deref(), view.requested_from.as_deref())
            .map(|w| format!("asked for from {w}"))
            .unwrap_or_default();
        if ended > 0 {
            detail.push_str("; the session it opened was ended");
            self.sessions_ended().await;
        }
        self.audit(AuditKind::SignInReported.note().to(&view.destination).masked(to.masked()).detail(detail), ctx)
            .await;
        Ok(if ended > 0 { Reported::EndedSession } else { Reported::Now })
    }
}
