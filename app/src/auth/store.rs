//! Every SQL statement lives here. Queries use `$n` binds, integer
//! milliseconds for time and text ids, so they run unchanged on SQLite and
//! Postgres through sqlx's `Any` driver.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::domain::{ChallengeId, Channel, Identifier, SessionToken};

use super::delivery::OutboxEntry;

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

/// A challenge after one attempt was reserved for the caller.
pub struct ReservedAttempt {
    pub code_hash: String,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// Why a challenge could not take another attempt.
pub enum ChallengeState {
    Missing,
    Used,
    Superseded,
    Expired,
    Exhausted,
    /// Could take an attempt (lost a race, or expired in between).
    Open,
}

pub struct ChallengeView {
    pub destination: String,
    pub channel: Channel,
    pub expires_at: i64,
}

pub struct UserRow {
    pub id: String,
    pub identifier: String,
    pub channel: Channel,
    pub created_at: i64,
}

fn channel_of(row: &AnyRow, column: &str) -> Result<Channel, sqlx::Error> {
    let raw: String = row.try_get(column)?;
    Channel::parse(&raw).ok_or_else(|| sqlx::Error::Decode(format!("unknown channel {raw:?}").into()))
}

impl Store {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Stores a new challenge and retires every open one for the same
    /// destination, in one transaction, so at most one code is live.
    #[allow(clippy::too_many_arguments)]
    pub async fn replace_challenge(
        &self,
        id: &ChallengeId,
        to: &Identifier,
        code_hash: &str,
        now: i64,
        expires_at: i64,
        max_attempts: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        // The write comes first so SQLite takes its write lock at once rather
        // than upgrading a read lock (which would fail under contention).
        sqlx::query(
            "UPDATE challenges SET superseded_at = $1 \
             WHERE destination = $2 AND consumed_at IS NULL AND superseded_at IS NULL",
        )
        .bind(now)
        .bind(to.as_ref())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO challenges (id, destination, channel, code_hash, created_at, expires_at, attempts, max_attempts) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
        )
        .bind(id.as_ref())
        .bind(to.as_ref())
        .bind(to.channel().as_str())
        .bind(code_hash)
        .bind(now)
        .bind(expires_at)
        .bind(max_attempts)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Marks a challenge unusable (its message never left).
    pub async fn retire_challenge(&self, id: &ChallengeId, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE challenges SET superseded_at = $1 WHERE id = $2 AND superseded_at IS NULL")
            .bind(now)
            .bind(id.as_ref())
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Takes one attempt from an open challenge in a single statement, so
    /// concurrent guesses can never check more codes than `max_attempts`.
    pub async fn reserve_attempt(&self, id: &ChallengeId, now: i64) -> Result<Option<ReservedAttempt>, sqlx::Error> {
        let row = sqlx::query(
            "UPDATE challenges SET attempts = attempts + 1 \
             WHERE id = $1 AND consumed_at IS NULL AND superseded_at IS NULL \
               AND expires_at > $2 AND attempts < max_attempts \
             RETURNING code_hash, attempts, max_attempts",
        )
        .bind(id.as_ref())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ReservedAttempt {
                code_hash: r.try_get("code_hash")?,
                attempts: r.try_get("attempts")?,
                max_attempts: r.try_get("max_attempts")?,
            })
        })
        .transpose()
    }

    pub async fn challenge_state(&self, id: &ChallengeId, now: i64) -> Result<ChallengeState, sqlx::Error> {
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
    pub async fn challenge_view(&self, id: &ChallengeId) -> Result<Option<ChallengeView>, sqlx::Error> {
        let row = sqlx::query("SELECT destination, channel, expires_at FROM challenges WHERE id = $1")
            .bind(id.as_ref())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(ChallengeView {
                destination: r.try_get("destination")?,
                channel: channel_of(&r, "channel")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Consumes the challenge and opens a session in one transaction. The
    /// conditional UPDATE is the single point that decides who wins: of two
    /// concurrent right answers only one sees a row and gets a session.
    pub async fn consume_and_sign_in(
        &self,
        id: &ChallengeId,
        new_user_id: &str,
        token: &SessionToken,
        now: i64,
        session_expires_at: i64,
    ) -> Result<Option<String>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let consumed = sqlx::query(
            "UPDATE challenges SET consumed_at = $1 \
             WHERE id = $2 AND consumed_at IS NULL AND superseded_at IS NULL \
             RETURNING destination, channel",
        )
        .bind(now)
        .bind(id.as_ref())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(consumed) = consumed else {
            tx.rollback().await?;
            return Ok(None);
        };
        let destination: String = consumed.try_get("destination")?;
        let channel: String = consumed.try_get("channel")?;
        sqlx::query(
            "INSERT INTO users (id, identifier, channel, created_at, last_sign_in_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (identifier) DO UPDATE SET last_sign_in_at = $4",
        )
        .bind(new_user_id)
        .bind(&destination)
        .bind(&channel)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let user_id: String = sqlx::query("SELECT id FROM users WHERE identifier = $1")
            .bind(&destination)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token.hash())
            .bind(&user_id)
            .bind(now)
            .bind(session_expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(user_id))
    }

    /// Looks a session up by the hash of its token: the comparison happens on
    /// a SHA-256 digest, so response time says nothing about the token.
    pub async fn session_user(&self, token: &SessionToken, now: i64) -> Result<Option<UserRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT u.id, u.identifier, u.channel, u.created_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token.hash())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(UserRow {
                id: r.try_get("id")?,
                identifier: r.try_get("identifier")?,
                channel: channel_of(&r, "channel")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    pub async fn delete_session(&self, token: &SessionToken) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token.hash())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn insert_outbox(&self, entry: &OutboxEntry) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO outbox (destination, channel, subject, body, code, sent_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&entry.to)
        .bind(&entry.channel)
        .bind(&entry.subject)
        .bind(&entry.body)
        .bind(&entry.code)
        .bind(entry.sent_at)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// Newest first.
    pub async fn list_outbox(&self, limit: i64) -> Result<Vec<OutboxEntry>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT destination, channel, subject, body, code, sent_at FROM outbox ORDER BY sent_at DESC, seq DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxEntry {
                    to: r.try_get("destination")?,
                    channel: r.try_get("channel")?,
                    subject: r.try_get("subject")?,
                    body: r.try_get("body")?,
                    code: r.try_get("code")?,
                    sent_at: r.try_get("sent_at")?,
                })
            })
            .collect()
    }
}
