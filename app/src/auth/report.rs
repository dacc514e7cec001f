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
use super::keys::constant_time_eq;
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
    Now,
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
        let hash = link.hash();
        let view = self.store.link_view(&hash, self.clock.now_ms()).await?.ok_or(AuthError::LinkUnusable)?;
        if !constant_time_eq(self.link_shown(link).as_bytes(), shown.as_bytes()) {
            return Err(AuthError::LinkChanged);
        }
        self.record_report(ReportOf::Link(&hash), &view, ctx).await
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
        if !self.store.report(&report).await? {
            return Ok(Reported::Already);
        }
        tracing::warn!(to = %to.masked(), ip = ?ctx.client_ip, "a sign-in was reported as not asked for");
        let asked = where_from(view.requested_ip.as_deref(), view.requested_from.as_deref())
            .map(|w| format!("asked for from {w}"))
            .unwrap_or_default();
        self.audit(AuditKind::SignInReported.note().to(&view.destination).masked(to.masked()).detail(asked), ctx).await;
        Ok(Reported::Now)
    }
}
