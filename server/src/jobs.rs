//! Background jobs. Each instance runs them; they are written so that
//! several instances running them at once is harmless.

use std::sync::Arc;
use std::time::Duration;

use app::auth::{Clock, millis};
use app::store::SqlStore;

use crate::config::DatabaseSettings;

/// Deletes expired challenges and sessions (past their end or idle past
/// `session_idle`), old audit rows and stale counters every
/// `PASSCODE_PURGE_INTERVAL_SECS`.
pub fn spawn_purge(store: SqlStore, clock: Arc<dyn Clock>, settings: &DatabaseSettings, session_idle: Duration) {
    let every = settings.purge_interval;
    let (audit_keep_ms, session_idle_ms) = (millis(settings.audit_retention), millis(session_idle));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.purge(clock.now_ms(), audit_keep_ms, session_idle_ms).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "purged expired rows"),
                // The database may be down; the next tick tries again.
                Err(e) => tracing::warn!(error = %e, "purge failed"),
            }
        }
    });
}
