//! The audit trail (`audit_events`).

use crate::auth::{AuditEvent, AuditStore, StoreResult};

use super::SqlStore;

impl AuditStore for SqlStore {
    async fn insert_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        Ok(insert_audit(&self.pool, e).await?)
    }
}

/// One audit row, on the pool or inside a caller's transaction.
pub(super) async fn insert_audit<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    e: &AuditEvent,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (at, kind, destination_hash, destination_masked, user_id, ip, user_agent, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(e.at)
    .bind(e.kind.as_str())
    .bind(e.destination_hash.as_deref())
    .bind(e.destination_masked.as_deref())
    .bind(e.user_id.as_deref())
    .bind(e.ip.as_deref())
    .bind(e.user_agent.as_deref())
    .bind(e.detail.as_deref())
    .execute(conn)
    .await
    .map(|_| ())
}
