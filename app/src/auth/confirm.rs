//! A signed-in session proving itself again with a new code to the
//! account's own address (the way for accounts without a passkey, or a
//! browser that can't use one). The code is sent and checked under every
//! rule of a sign-in code (limits, attempts, expiry, single use); the
//! session is marked as freshly proved instead of a new one being opened.
//! An account with an authenticator app on also gives the app's code.

use crate::domain::{ChallengeId, SessionToken};

use super::audit::AuditKind;
use super::error::AuthError;
use super::service::{AuthService, Pending, RequestContext};
use super::store::Store;

impl<S: Store> AuthService<S> {
    /// Sends a code to the signed-in account's own address. `ctx.pending`
    /// is the confirmation code this browser asked for before, which the
    /// new one retires.
    pub async fn send_confirmation_code(
        &self,
        token: &SessionToken,
        ctx: &RequestContext,
    ) -> Result<Pending, AuthError> {
        let user = self.current_user(token).await?.ok_or(AuthError::NotSignedIn)?;
        self.send_new_code(user.identifier, ctx).await
    }

    /// Checks a confirmation code and marks the session freshly proved. A
    /// code for another address than the account's (another browser's
    /// sign-in, say) proves nothing here.
    pub async fn confirm_with_code(
        &self,
        token: &SessionToken,
        challenge: &ChallengeId,
        raw_code: &str,
        app_code: &str,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        let user = self.current_user(token).await?.ok_or(AuthError::NotSignedIn)?;
        let view = self.store.challenge_view(challenge).await?.ok_or(AuthError::NoChallenge)?;
        if view.identifier()? != user.identifier {
            return Err(AuthError::NoChallenge);
        }
        // With an authenticator app on, the inbox alone proves no more here
        // than at sign-in: a fresh proof lets a session add a passkey or
        // change the app, so it takes both steps too.
        if self.authenticator_status(&user.id).await?.on_since.is_some() {
            self.require_second_factor(&user, app_code, ctx).await?;
        }
        let destination = self.check_code(challenge, raw_code, ctx).await?;
        if !self.store.consume_as_proof(challenge, &destination, &user.session_id, self.clock.now_ms()).await? {
            return Err(self.why_closed(challenge, self.clock.now_ms()).await?);
        }
        tracing::info!(user = %user.id, "session confirmed with a code");
        self.audit(AuditKind::IdentityConfirmed.note().to(&destination).user(user.id).detail("code"), ctx).await;
        Ok(())
    }
}
