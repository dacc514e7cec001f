//! Background jobs. Each instance runs them; they are written so that
//! several instances running them at once is harmless.

use std::sync::Arc;

use app::auth::Clock;
use app::store::SqlStore;

use crate::config::DatabaseSettings;

/// Deletes expired challenges and sessions, old audit rows and stale
/// counters every `PASSCODE_PURGE_INTERVAL_SECS`.
pub fn spawn_purge(store: SqlStore, clock: Arc<dyn Clock>, settings: &DatabaseSettings) {
    let every = settings.purge_interval;
    let audit_keep_ms = i64::try_from(settings.audit_retention.as_millis()).unwrap_or(i64::MAX);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.purge(clock.now_ms(), audit_keep_ms).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "purged expired rows"),
                // The database may be down; the next tick tries again.
                Err(e) => tracing::warn!(error = %e, "purge failed"),
            }
        }
    });
}
