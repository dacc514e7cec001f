//! Approving a sign-in from another device. A person asks for a code on a
//! laptop and opens the email's link on their phone: the phone's page says
//! the request came from elsewhere, shows where from and a two-digit
//! number, and can approve it. The laptop's code page shows the same
//! number; once approved it opens the session there (its pending cookie
//! names the challenge, and only it holds that). The phone gets nothing.
//! Approving uses the link once, and the code stops working with it.

use crate::domain::{ChallengeId, LinkToken};

use super::audit::AuditKind;
use super::authenticator::SignInOutcome;
use super::error::AuthError;
use super::service::{AuthService, IpAction, RequestContext, SignInMethod};
use super::store::{ChallengeKey, ChallengeState, Store};
use super::user_agent::where_from;
use super::verify::closed_because;

/// How long the asking browser has to pick up an approval when its code
/// was about to expire (otherwise the code's own expiry holds).
pub const APPROVAL_PICKUP_MS: i64 = 2 * 60 * 1000;

/// Where a sign-in waiting on another device stands, as the waiting page
/// asks while it polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Neither approved nor ended: keep waiting (the code still works).
    Waiting,
    /// Approved: the asking browser may open its session now.
    Approved,
    /// Used, expired, replaced, reported or burned: nothing to wait for.
    Closed,
}

impl<S: Store> AuthService<S> {
    /// "Approve sign-in on that device", pressed on the link's page in a
    /// browser that did not ask. `shown` names the link the page showed, as
    /// for signing in with it: another link swapped into the cookie since
    /// approves nothing.
    pub async fn approve_with_link(
        &self,
        link: &LinkToken,
        shown: &str,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        self.ip_limited(IpAction::Verify, ctx).await?;
        self.link_as_shown(link, shown, ctx).await?;
        let now = self.clock.now_ms();
        let view = self
            .store
            .approve_link(&link.hash(), now, now + APPROVAL_PICKUP_MS)
            .await?
            .ok_or(AuthError::LinkUnusable)?;
        let to = view.identifier()?;
        tracing::info!(to = %to.masked(), ip = ?ctx.client_ip, "sign-in approved from another device");
        // The row's request facts are the approving device's; the detail
        // names the device that was let in.
        let asked = where_from(view.requested_ip.as_deref(), view.requested_from.as_deref())
            .map(|w| format!("for {w}"))
            .unwrap_or_default();
        self.audit(AuditKind::SignInApproved.note().to(&view.destination).masked(to.masked()).detail(asked), ctx).await;
        Ok(())
    }

    /// Where this browser's sign-in stands (`challenge`: its pending
    /// cookie's). Reads one row; the waiting page polls it with backoff.
    pub async fn approval(&self, challenge: &ChallengeId) -> Result<Approval, AuthError> {
        Ok(match self.store.challenge_state(challenge, self.clock.now_ms()).await? {
            ChallengeState::Open => Approval::Waiting,
            ChallengeState::Approved => Approval::Approved,
            _ => Approval::Closed,
        })
    }

    /// The asking browser opens its session after the approval ("I've
    /// approved it", or the waiting page once its poll says so). Not yet
    /// approved: `NotApprovedYet`, and the code still works.
    pub async fn sign_in_approved(
        &self,
        challenge: &ChallengeId,
        ctx: &RequestContext,
    ) -> Result<SignInOutcome, AuthError> {
        self.ip_limited(IpAction::Verify, ctx).await?;
        if let Some(session) = self.open_session(ChallengeKey::Approved(challenge), SignInMethod::Approved, ctx).await?
        {
            return Ok(session);
        }
        Err(match self.store.challenge_state(challenge, self.clock.now_ms()).await? {
            ChallengeState::Open => AuthError::NotApprovedYet,
            // Approved a moment ago by a race we lost: as good as closed.
            ChallengeState::Approved => AuthError::Used,
            closed => closed_because(closed),
        })
    }
}
