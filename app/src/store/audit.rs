//! The audit trail (`audit_events`).

use crate::auth::{AuditEvent, AuditKind, AuditStore, StoreResult};

use super::SqlStore;

impl AuditStore for SqlStore {
    async fn insert_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        Ok(insert_audit(&self.pool, e).await?)
    }

    async fn recent_events(
        &self,
        user_id: &str,
        destination_hash: &str,
        session_events: bool,
        limit: i64,
    ) -> StoreResult<Vec<AuditEvent>> {
        // The kinds' stored names are fixed strings of ours, never input.
        let kinds: Vec<String> = AuditKind::SESSION_EVENTS.iter().map(|k| format!("'{}'", k.as_str())).collect();
        let sql = format!(
            "SELECT at, kind, destination_hash, destination_masked, user_id, ip, user_agent, detail \
             FROM audit_events WHERE (user_id = $1 OR destination_hash = $2) AND kind {} ({}) \
             ORDER BY at DESC, seq DESC LIMIT $3",
            if session_events { "IN" } else { "NOT IN" },
            kinds.join(", ")
        );
        let rows: Vec<AuditColumns> =
            sqlx::query_as(&sql).bind(user_id).bind(destination_hash).bind(limit).fetch_all(&self.pool).await?;
        // A kind this build doesn't know (written by a newer one) is left out.
        Ok(rows.into_iter().filter_map(AuditColumns::into_event).collect())
    }
}

#[derive(sqlx::FromRow)]
struct AuditColumns {
    at: i64,
    kind: String,
    destination_hash: Option<String>,
    destination_masked: Option<String>,
    user_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: Option<String>,
}

impl AuditColumns {
    fn into_event(self) -> Option<AuditEvent> {
        let AuditColumns { at, kind, destination_hash, destination_masked, user_id, ip, user_agent, detail } = self;
        Some(AuditEvent {
            at,
            kind: AuditKind::parse(&kind)?,
            destination_hash,
            destination_masked,
            user_id,
            ip,
            user_agent,
            detail,
        })
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
