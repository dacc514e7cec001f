//! Signed-in sessions: who a session belongs to, and ending one.

use anyhow::Context;

use crate::domain::{Identifier, SessionToken};

use super::audit::AuditKind;
use super::error::AuthError;
use super::service::{AuthService, RequestContext, SignedInUser};
use super::store::Store;

impl<S: Store> AuthService<S> {
    pub async fn current_user(&self, token: &SessionToken) -> Result<Option<SignedInUser>, AuthError> {
        let Some(row) = self.store.session_user(token, self.clock.now_ms()).await? else { return Ok(None) };
        let identifier =
            Identifier::from_stored(row.channel, &row.identifier).context("stored identifier no longer parses")?;
        Ok(Some(SignedInUser { id: row.id, identifier, since: row.created_at }))
    }

    pub async fn sign_out(&self, token: &SessionToken, ctx: &RequestContext) -> Result<(), AuthError> {
        if let Some(user_id) = self.store.delete_session(token).await? {
            tracing::info!("signed out");
            self.audit(AuditKind::SignedOut.note().user(user_id), ctx).await;
        }
        Ok(())
    }
}
