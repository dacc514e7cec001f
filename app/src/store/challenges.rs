//! The `challenges` table: one row per code sent.

use sqlx::Row;

use crate::auth::{ChallengeState, ChallengeStore, ChallengeView, NewChallenge, StoreResult};
use crate::domain::{ChallengeId, Channel};

use super::SqlStore;

/// A `ChallengeView` as its columns (`view_columns!`).
#[derive(sqlx::FromRow)]
struct ViewRow {
    id: String,
    destination: String,
    #[sqlx(try_from = "String")]
    channel: Channel,
    created_at: i64,
    expires_at: i64,
    lane: String,
    requested_from: Option<String>,
}

impl From<ViewRow> for ChallengeView {
    fn from(r: ViewRow) -> Self {
        let ViewRow { id, destination, channel, created_at, expires_at, lane, requested_from } = r;
        ChallengeView { id, destination, channel, created_at, expires_at, lane, requested_from }
    }
}

impl ChallengeStore for SqlStore {
    /// Stores a new challenge and retires the code this browser asked for
    /// before (if it is open and for the same destination), in one
    /// transaction. Nobody else's request retires anything: a stranger
    /// asking for codes to an address never takes away the code its owner
    /// is about to type.
    async fn replace_challenge(&self, c: &NewChallenge<'_>) -> StoreResult<()> {
        let NewChallenge { id, to, code_hash, now, expires_at, max_attempts, link_hash, lane, requested_from, retires } =
            *c;
        let mut tx = self.pool.begin().await?;
        // Writes only: SQLite takes its write lock at once rather than
        // upgrading a read lock (which would fail under contention).
        if let Some(previous) = retires {
            sqlx::query(
                "UPDATE challenges SET superseded_at = $1 \
                 WHERE id = $2 AND destination = $3 AND consumed_at IS NULL AND superseded_at IS NULL",
            )
            .bind(now)
            .bind(previous.as_ref())
            .bind(to.as_ref())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO challenges \
               (id, destination, channel, code_hash, created_at, expires_at, attempts, max_attempts, link_hash, \
                lane, requested_from) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10)",
        )
        .bind(id.as_ref())
        .bind(to.as_ref())
        .bind(to.channel().as_str())
        .bind(code_hash)
        .bind(now)
        .bind(expires_at)
        .bind(max_attempts)
        .bind(link_hash)
        .bind(lane)
        .bind(requested_from)
        .execute(&mut *tx)
        .await?;
        Ok(tx.commit().await?)
    }

    /// Marks a challenge unusable (its message never left).
    async fn retire_challenge(&self, id: &ChallengeId, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE challenges SET superseded_at = $1 WHERE id = $2 AND superseded_at IS NULL")
            .bind(now)
            .bind(id.as_ref())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn challenge_state(&self, id: &ChallengeId, now: i64) -> StoreResult<ChallengeState> {
        let row = sqlx::query(
            "SELECT consumed_at, superseded_at, expires_at, attempts, max_attempts FROM challenges WHERE id = $1",
        )
        .bind(id.as_ref())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(ChallengeState::Missing) };
        let consumed: Option<i64> = row.try_get("consumed_at")?;
        let superseded: Option<i64> = row.try_get("superseded_at")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let attempts: i64 = row.try_get("attempts")?;
        let max_attempts: i64 = row.try_get("max_attempts")?;
        Ok(if consumed.is_some() {
            ChallengeState::Used
        } else if attempts >= max_attempts {
            ChallengeState::Exhausted
        } else if superseded.is_some() {
            ChallengeState::Superseded
        } else if expires_at <= now {
            ChallengeState::Expired
        } else {
            ChallengeState::Open
        })
    }

    /// Where a challenge's code went and when it expires, whatever its state.
    async fn challenge_view(&self, id: &ChallengeId) -> StoreResult<Option<ChallengeView>> {
        let row: Option<ViewRow> =
            sqlx::query_as(concat!("SELECT ", view_columns!(), " FROM challenges WHERE id = $1"))
                .bind(id.as_ref())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(ChallengeView::from))
    }

    /// The open challenge a sign-in link belongs to, if any. Reading only:
    /// opening a link must never use it up.
    async fn link_view(&self, link_hash: &str, now: i64) -> StoreResult<Option<ChallengeView>> {
        let row: Option<ViewRow> =
            sqlx::query_as(concat!("SELECT ", view_columns!(), " FROM challenges WHERE ", usable_link!()))
                .bind(now)
                .bind(link_hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(ChallengeView::from))
    }
}
