//! The `challenges` table: one row per code sent.

use sqlx::Row;

use crate::auth::{ChallengeState, ChallengeStore, ChallengeView, NewChallenge, NewReport, ReportOf, StoreResult};
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
    requested_ip: Option<String>,
    pair_number: i64,
    approved_at: Option<i64>,
    reported_at: Option<i64>,
}

impl From<ViewRow> for ChallengeView {
    fn from(r: ViewRow) -> Self {
        let ViewRow {
            id,
            destination,
            channel,
            created_at,
            expires_at,
            lane,
            requested_from,
            requested_ip,
            pair_number,
            approved_at,
            reported_at,
        } = r;
        ChallengeView {
            id,
            destination,
            channel,
            created_at,
            expires_at,
            lane,
            requested_from,
            requested_ip,
            pair_number,
            approved_at,
            reported_at,
        }
    }
}

impl ChallengeStore for SqlStore {
    /// Stores a new challenge and retires the code this browser asked for
    /// before (if it is open and for the same destination), in one
    /// transaction. Nobody else's request retires anything: a stranger
    /// asking for codes to an address never takes away the code its owner
    /// is about to type.
    async fn replace_challenge(&self, c: &NewChallenge<'_>) -> StoreResult<()> {
        let NewChallenge {
            id,
            to,
            code_hash,
            now,
            expires_at,
            max_attempts,
            link_hash,
            lane,
            requested_from,
            requested_ip,
            pair_number,
            report_hash,
            allowance,
            locale,
            retires,
        } = *c;
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
                lane, requested_from, requested_ip, pair_number, report_hash, allowance, locale) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
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
        .bind(requested_ip)
        .bind(pair_number)
        .bind(report_hash)
        .bind(allowance)
        .bind(locale)
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
            "SELECT consumed_at, superseded_at, approved_at, reported_at, expires_at, attempts, max_attempts \
             FROM challenges WHERE id = $1",
        )
        .bind(id.as_ref())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(ChallengeState::Missing) };
        let consumed: Option<i64> = row.try_get("consumed_at")?;
        let superseded: Option<i64> = row.try_get("superseded_at")?;
        let approved: Option<i64> = row.try_get("approved_at")?;
        let reported: Option<i64> = row.try_get("reported_at")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let attempts: i64 = row.try_get("attempts")?;
        let max_attempts: i64 = row.try_get("max_attempts")?;
        Ok(if consumed.is_some() {
            ChallengeState::Used
        } else if reported.is_some() {
            ChallengeState::Reported
        } else if superseded.is_some() && approved.is_some() {
            // Approved, then ended by a newer code from the same browser.
            ChallengeState::Superseded
        } else if approved.is_some() {
            if expires_at <= now { ChallengeState::Expired } else { ChallengeState::Approved }
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

    /// One conditional UPDATE decides: of two presses of "Approve" (or one
    /// and a sign-in with the link), one wins.
    async fn approve_link(&self, link_hash: &str, now: i64, pickup_until: i64) -> StoreResult<Option<ChallengeView>> {
        let row: Option<ViewRow> = sqlx::query_as(concat!(
            "UPDATE challenges SET approved_at = $1, \
               expires_at = CASE WHEN expires_at < $3 THEN $3 ELSE expires_at END \
             WHERE ",
            usable_link!(),
            " RETURNING ",
            view_columns!()
        ))
        .bind(now)
        .bind(link_hash)
        .bind(pickup_until)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .next();
        Ok(row.map(ChallengeView::from))
    }

    async fn report_view(&self, report_hash: &str, sent_after: i64) -> StoreResult<Option<ChallengeView>> {
        let row: Option<ViewRow> = sqlx::query_as(concat!(
            "SELECT ",
            view_columns!(),
            " FROM challenges WHERE report_hash = $1 AND created_at > $2"
        ))
        .bind(report_hash)
        .bind(sent_after)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(ChallengeView::from))
    }

    /// The address's row in `reported_addresses` is written first: two
    /// reports for one address then queue on it instead of locking
    /// challenge rows in opposite orders (a deadlock on Postgres). Then one
    /// conditional UPDATE decides: a second press (or a race of two) finds
    /// `reported_at` set, and the whole transaction rolls back.
    async fn report(&self, r: &NewReport<'_>) -> StoreResult<Option<u64>> {
        let mut tx = self.pool.begin().await?;
        // A later report never shortens an earlier one's time.
        sqlx::query(
            "INSERT INTO reported_addresses (allowance, reported_until) VALUES ($1, $2) \
             ON CONFLICT (allowance) DO UPDATE SET reported_until = CASE \
               WHEN reported_addresses.reported_until < $2 THEN $2 ELSE reported_addresses.reported_until END",
        )
        .bind(r.allowance)
        .bind(r.tightened_until)
        .execute(&mut *tx)
        .await?;
        let (sql, key) = match r.of {
            ReportOf::Token(hash) => (
                "UPDATE challenges SET reported_at = $1 \
                 WHERE report_hash = $2 AND destination = $3 AND reported_at IS NULL AND created_at > $4 \
                 RETURNING id, consumed_at",
                hash,
            ),
            ReportOf::Link(hash) => (
                concat!(
                    "UPDATE challenges SET reported_at = $1 WHERE ",
                    usable_link!(),
                    " AND destination = $3 AND created_at > $4 RETURNING id, consumed_at"
                ),
                hash,
            ),
        };
        let reported = sqlx::query(sql)
            .bind(r.now)
            .bind(key)
            .bind(r.destination)
            .bind(r.sent_after)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .next();
        let Some(reported) = reported else {
            tx.rollback().await?;
            return Ok(None);
        };
        // Too late to stop it: the code was used. The session it opened
        // ends (the person reporting says it was not theirs).
        let mut ended = 0;
        if reported.try_get::<Option<i64>, _>("consumed_at")?.is_some() {
            let id: String = reported.try_get("id")?;
            // With an authenticator app on, the sign-in may still be waiting
            // for its code: it ends before it can open a session. First, so
            // that a finish racing this (which deletes the same row) is
            // waited for, and the session it opened is seen below.
            sqlx::query("DELETE FROM second_steps WHERE challenge_id = $1").bind(&id).execute(&mut *tx).await?;
            // An authenticator app the intruder's session turned on would
            // keep the owner out: it goes with that session.
            let stripped = sqlx::query("DELETE FROM authenticators WHERE enabled_by = $1 RETURNING user_id")
                .bind(&id)
                .fetch_all(&mut *tx)
                .await?;
            for row in stripped {
                let user_id: String = row.try_get("user_id")?;
                sqlx::query("DELETE FROM backup_codes WHERE user_id = $1").bind(&user_id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM second_steps WHERE user_id = $1").bind(&user_id).execute(&mut *tx).await?;
            }
            ended = sqlx::query("DELETE FROM sessions WHERE opened_by = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        // Every code and link still open for the address ends: the one in
        // the reported message, and any other a stranger is waiting on
        // (to the same inbox under another plus tag too, and an approved
        // sign-in not yet picked up).
        sqlx::query(
            "UPDATE challenges SET superseded_at = $1, \
               reported_at = CASE WHEN reported_at IS NULL THEN $1 ELSE reported_at END \
             WHERE allowance = $2 AND consumed_at IS NULL AND superseded_at IS NULL",
        )
        .bind(r.now)
        .bind(r.allowance)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(ended))
    }

    async fn is_reported(&self, allowance: &str, now: i64) -> StoreResult<bool> {
        let row =
            sqlx::query("SELECT reported_until FROM reported_addresses WHERE allowance = $1 AND reported_until > $2")
                .bind(allowance)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }
}
