//! Accounts and sessions: signing in (consuming a challenge) and looking a
//! session up.

use sqlx::Row;

use crate::auth::{AuditEvent, ChallengeKey, SessionStore, SignedIn, StoreResult, UserRow, failure_key};
use crate::domain::{Channel, SessionToken};

use super::SqlStore;
use super::audit::insert_audit;

#[derive(sqlx::FromRow)]
struct UserColumns {
    id: String,
    identifier: String,
    #[sqlx(try_from = "String")]
    channel: Channel,
    created_at: i64,
}

impl SessionStore for SqlStore {
    /// Consumes the challenge and opens a session in one transaction. The
    /// conditional UPDATE is the single point that decides who wins: of two
    /// concurrent right answers only one sees a row and gets a session.
    async fn consume_and_sign_in(
        &self,
        key: ChallengeKey<'_>,
        new_user_id: &str,
        token: &SessionToken,
        now: i64,
        session_expires_at: i64,
        audit: impl FnOnce(&str, &str) -> AuditEvent + Send,
    ) -> StoreResult<Option<SignedIn>> {
        let (sql, key) = match key {
            // The code path has already reserved an attempt (which checked
            // expiry and the attempt count) and checked the code.
            ChallengeKey::Id(id) => (
                "UPDATE challenges SET consumed_at = $1 \
                 WHERE id = $2 AND consumed_at IS NULL AND superseded_at IS NULL \
                 RETURNING destination, channel, lane",
                id.as_ref(),
            ),
            // A link is its own proof; the challenge must still be open in
            // every other respect (a burned or expired code's link is dead).
            ChallengeKey::Link(hash) => (
                concat!(
                    "UPDATE challenges SET consumed_at = $1 WHERE ",
                    usable_link!(),
                    " RETURNING destination, channel, lane"
                ),
                hash,
            ),
        };
        let mut tx = self.pool.begin().await?;
        let consumed = sqlx::query(sql).bind(now).bind(key).fetch_all(&mut *tx).await?.into_iter().next();
        let Some(consumed) = consumed else {
            tx.rollback().await?;
            return Ok(None);
        };
        let destination: String = consumed.try_get("destination")?;
        let channel: String = consumed.try_get("channel")?;
        let lane: String = consumed.try_get("lane")?;
        // A success gives its own lane its failure allowance back (never the
        // shared lane's from a device's success: that would hand a stranger
        // guessing there fresh attempts).
        sqlx::query("UPDATE destinations SET fail_count = 0, fail_start = 0 WHERE destination = $1")
            .bind(failure_key(&destination, &lane))
            .execute(&mut *tx)
            .await?;
        // The existing account's id, or the new one's (RETURNING gives the
        // row as it stands after either).
        let user_id: String = sqlx::query(
            "INSERT INTO users (id, identifier, channel, created_at, last_sign_in_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (identifier) DO UPDATE SET last_sign_in_at = $4 RETURNING id",
        )
        .bind(new_user_id)
        .bind(&destination)
        .bind(&channel)
        .bind(now)
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
        // The sign-in's audit row commits with it: no session without its
        // record, and one transaction instead of two.
        insert_audit(&mut *tx, &audit(&destination, &user_id)).await?;
        tx.commit().await?;
        Ok(Some(SignedIn { user_id, destination }))
    }

    /// Looks a session up by the hash of its token: the comparison happens on
    /// a SHA-256 digest, so response time says nothing about the token.
    async fn session_user(&self, token: &SessionToken, now: i64) -> StoreResult<Option<UserRow>> {
        let row: Option<UserColumns> = sqlx::query_as(
            "SELECT u.id, u.identifier, u.channel, u.created_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token.hash())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|u| UserRow { id: u.id, identifier: u.identifier, channel: u.channel, created_at: u.created_at }))
    }

    /// Deletes the session; returns its user when there was one.
    async fn delete_session(&self, token: &SessionToken) -> StoreResult<Option<String>> {
        let rows = sqlx::query("DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id")
            .bind(token.hash())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.first().map(|r| r.try_get("user_id")).transpose()?)
    }
}
