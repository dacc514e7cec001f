//! Housekeeping that no rule depends on: deleting what nobody needs, and
//! counting what the metrics sample.

use super::{DAY_MS, SqlStore};

impl SqlStore {
    /// Deletes what nobody needs any more. Each DELETE is idempotent, so
    /// several instances may run this at the same time.
    pub async fn purge(&self, now: i64, audit_keep_ms: i64, session_idle_ms: i64) -> Result<u64, sqlx::Error> {
        let statements: [(&str, i64); 11] = [
            // A day after expiry a challenge is no longer worth explaining.
            ("DELETE FROM challenges WHERE expires_at < $1", now - DAY_MS),
            ("DELETE FROM sessions WHERE expires_at < $1", now),
            // Passkey ceremonies started and never finished (or expired).
            ("DELETE FROM ceremonies WHERE expires_at <= $1", now),
            // Idle past the timeout: no lookup accepts it any more.
            ("DELETE FROM sessions WHERE last_seen_at <= $1", now - session_idle_ms),
            ("DELETE FROM audit_events WHERE at < $1", now - audit_keep_ms),
            ("DELETE FROM outbox WHERE sent_at < $1", now - DAY_MS),
            ("DELETE FROM sms_senders WHERE hour_start < $1", now - DAY_MS),
            // Sign-ins that never got their authenticator code.
            ("DELETE FROM second_steps WHERE expires_at <= $1", now),
            // An authenticator app scanned and never confirmed with a code.
            ("DELETE FROM authenticators WHERE enabled_at IS NULL AND created_at < $1", now - DAY_MS),
            // "That wasn't me" tightens an address for a day.
            ("DELETE FROM reported_addresses WHERE reported_until <= $1", now),
            // Counters whose every window is over carry no information.
            (
                "DELETE FROM destinations WHERE day_start < $1 AND hour_start < $1 AND fail_start < $1 AND locked_until < $1 AND next_send_at < $1",
                now - DAY_MS,
            ),
        ];
        let mut removed = 0;
        for (sql, cutoff) in statements {
            removed += sqlx::query(sql).bind(cutoff).execute(&self.pool).await?.rows_affected();
        }
        Ok(removed)
    }

    /// Sessions that still open apps: neither past their end nor idle past
    /// the timeout (what the purge would leave). Sampled for the metrics.
    pub async fn live_sessions(&self, now: i64, session_idle_ms: i64) -> Result<i64, sqlx::Error> {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) AS n FROM sessions WHERE expires_at >= $1 AND last_seen_at > $2")
            .bind(now)
            .bind(now - session_idle_ms)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")
    }
}
