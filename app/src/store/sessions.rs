//! Accounts and sessions: signing in (consuming a challenge) and looking a
//! session up.

use sqlx::Row;

use crate::auth::{
    AuditEvent, ChallengeKey, NewSecondStep, NewSessionRow, SecondFactorSpend, SessionRow, SessionStore, SignInEvent,
    SignedIn, StoreResult, UserRow, failure_key,
};
use crate::domain::{ChallengeId, Channel, SessionToken};

use super::SqlStore;
use super::audit::insert_audit;

/// The columns of a `SessionRow`, from `sessions s`.
macro_rules! session_columns {
    () => {
        "s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.browser, s.proved_at"
    };
}

#[derive(sqlx::FromRow)]
struct SessionColumns {
    id: String,
    user_id: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    ip: Option<String>,
    browser: Option<String>,
    proved_at: i64,
}

impl From<SessionColumns> for SessionRow {
    fn from(c: SessionColumns) -> Self {
        let SessionColumns { id, user_id, created_at, last_seen_at, expires_at, ip, browser, proved_at } = c;
        SessionRow { id, user_id, created_at, last_seen_at, expires_at, ip, browser, proved_at }
    }
}

/// Gives a challenge's own lane its failure allowance back after it was
/// consumed (never the shared lane's from a device's success: that would
/// hand a stranger guessing there fresh attempts).
async fn reset_failures(tx: &mut sqlx::AnyConnection, destination: &str, lane: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE destinations SET fail_count = 0, fail_start = 0 WHERE destination = $1")
        .bind(failure_key(destination, lane))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Ends the browser's old session (`replaces`) and opens the new one for
/// `user_id`, with their audit rows: the part of a sign-in that every way
/// in shares, inside the caller's transaction.
async fn open_session(
    tx: &mut sqlx::AnyConnection,
    user_id: &str,
    destination: &str,
    opened_by: Option<&str>,
    session: &NewSessionRow<'_>,
    replaces: Option<&SessionToken>,
    audit: impl Fn(SignInEvent<'_>) -> AuditEvent + Send,
) -> Result<(), sqlx::Error> {
    if let Some(old) = replaces {
        let ended = sqlx::query("DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id")
            .bind(old.hash())
            .fetch_all(&mut *tx)
            .await?;
        for row in ended {
            let user_id: String = row.try_get("user_id")?;
            insert_audit(&mut *tx, &audit(SignInEvent::Replaced { user_id: &user_id })).await?;
        }
    }
    // `id` is nullable only because SQLite can't add a NOT NULL column
    // to a table with rows: every insert names it. A sign-in is a proof.
    sqlx::query(
        "INSERT INTO sessions \
           (token_hash, id, user_id, created_at, last_seen_at, expires_at, ip, browser, proved_at, opened_by) \
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $4, $8)",
    )
    .bind(session.token.hash())
    .bind(session.id)
    .bind(user_id)
    .bind(session.now)
    .bind(session.expires_at)
    .bind(session.ip)
    .bind(session.browser)
    .bind(opened_by)
    .execute(&mut *tx)
    .await?;
    // The sign-in's audit row commits with it: no session without its
    // record, and one transaction instead of two.
    insert_audit(&mut *tx, &audit(SignInEvent::SignedIn { destination, user_id })).await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct SessionAndUser {
    #[sqlx(flatten)]
    session: SessionColumns,
    identifier: String,
    #[sqlx(try_from = "String")]
    channel: Channel,
    user_created_at: i64,
}

impl SessionStore for SqlStore {
    /// Consumes the challenge and opens a session in one transaction. The
    /// conditional UPDATE is the single point that decides who wins: of two
    /// concurrent right answers only one sees a row and gets a session.
    async fn consume_and_sign_in(
        &self,
        key: ChallengeKey<'_>,
        new_user_id: &str,
        session: &NewSessionRow<'_>,
        second_step: &NewSecondStep<'_>,
        replaces: Option<&SessionToken>,
        audit: impl Fn(SignInEvent<'_>) -> AuditEvent + Send,
    ) -> StoreResult<Option<SignedIn>> {
        let (sql, key) = match key {
            // The code path has already reserved an attempt (which checked
            // expiry and the attempt count) and checked the code. An approval
            // from another device in between wins: the code stops working
            // the moment the sign-in is approved.
            ChallengeKey::Id(id) => (
                "UPDATE challenges SET consumed_at = $1 \
                 WHERE id = $2 AND consumed_at IS NULL AND superseded_at IS NULL \
                   AND approved_at IS NULL AND reported_at IS NULL \
                 RETURNING id, destination, channel, lane",
                id.as_ref(),
            ),
            // Approved from another device, picked up by the browser that
            // asked, before its (possibly extended) expiry.
            ChallengeKey::Approved(id) => (
                "UPDATE challenges SET consumed_at = $1 \
                 WHERE id = $2 AND approved_at IS NOT NULL AND consumed_at IS NULL AND superseded_at IS NULL \
                   AND reported_at IS NULL AND expires_at > $1 \
                 RETURNING id, destination, channel, lane",
                id.as_ref(),
            ),
            // A link is its own proof; the challenge must still be open in
            // every other respect (a burned or expired code's link is dead).
            ChallengeKey::Link(hash) => (
                concat!(
                    "UPDATE challenges SET consumed_at = $1 WHERE ",
                    usable_link!(),
                    " RETURNING id, destination, channel, lane"
                ),
                hash,
            ),
        };
        let now = session.now;
        let mut tx = self.pool.begin().await?;
        let consumed = sqlx::query(sql).bind(now).bind(key).fetch_all(&mut *tx).await?.into_iter().next();
        let Some(consumed) = consumed else {
            tx.rollback().await?;
            return Ok(None);
        };
        let challenge_id: String = consumed.try_get("id")?;
        let destination: String = consumed.try_get("destination")?;
        let channel: String = consumed.try_get("channel")?;
        let lane: String = consumed.try_get("lane")?;
        reset_failures(&mut tx, &destination, &lane).await?;
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
        // Decided in the same transaction as the consume: an app turned on
        // a moment ago is asked for, never skipped.
        let asks_app = sqlx::query("SELECT 1 AS one FROM authenticators WHERE user_id = $1 AND enabled_at IS NOT NULL")
            .bind(&user_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if asks_app {
            sqlx::query(
                "INSERT INTO second_steps \
                   (token_hash, user_id, destination, challenge_id, method, failures, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
            )
            .bind(second_step.token_hash)
            .bind(&user_id)
            .bind(&destination)
            .bind(&challenge_id)
            .bind(second_step.method)
            .bind(now)
            .bind(second_step.expires_at)
            .execute(&mut *tx)
            .await?;
            insert_audit(
                &mut *tx,
                &audit(SignInEvent::SecondStepAsked { destination: &destination, user_id: &user_id }),
            )
            .await?;
            tx.commit().await?;
            return Ok(Some(SignedIn { user_id, destination, second_step: true }));
        }
        open_session(&mut tx, &user_id, &destination, Some(&challenge_id), session, replaces, audit).await?;
        tx.commit().await?;
        Ok(Some(SignedIn { user_id, destination, second_step: false }))
    }

    async fn finish_second_step(
        &self,
        token_hash: &str,
        spend: &SecondFactorSpend,
        now: i64,
        session: &NewSessionRow<'_>,
        replaces: Option<&SessionToken>,
        audit: impl Fn(SignInEvent<'_>) -> AuditEvent + Send,
    ) -> StoreResult<Option<SignedIn>> {
        let mut tx = self.pool.begin().await?;
        // Taken, not read: of two right answers at once, one opens a session.
        let taken = sqlx::query(
            "DELETE FROM second_steps WHERE token_hash = $1 AND expires_at > $2 \
             RETURNING user_id, destination, challenge_id",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .next();
        let Some(taken) = taken else {
            tx.rollback().await?;
            return Ok(None);
        };
        let user_id: String = taken.try_get("user_id")?;
        let destination: String = taken.try_get("destination")?;
        let challenge_id: Option<String> = taken.try_get("challenge_id")?;
        // The answer is used up with the session it opens, or not at all: a
        // right answer that loses a race (the sign-in expired, another tab
        // finished it) keeps its step or backup code.
        let spent = match spend {
            SecondFactorSpend::Step(step) => sqlx::query(
                "UPDATE authenticators SET last_step = $1 \
                 WHERE user_id = $2 AND enabled_at IS NOT NULL AND last_step < $1",
            )
            .bind(step)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            SecondFactorSpend::Backup(hash) => sqlx::query(
                "UPDATE backup_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
            )
            .bind(now)
            .bind(&user_id)
            .bind(hash)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        };
        if spent == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        open_session(&mut tx, &user_id, &destination, challenge_id.as_deref(), session, replaces, audit).await?;
        tx.commit().await?;
        Ok(Some(SignedIn { user_id, destination, second_step: false }))
    }

    /// Looks a session up by the hash of its token: the comparison happens on
    /// a SHA-256 digest, so response time says nothing about the token.
    async fn current_session(
        &self,
        token: &SessionToken,
        now: i64,
        idle_cutoff: i64,
    ) -> StoreResult<Option<(SessionRow, UserRow)>> {
        let row: Option<SessionAndUser> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            ", u.identifier, u.channel, u.created_at AS user_created_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3"
        ))
        .bind(token.hash())
        .bind(now)
        .bind(idle_cutoff)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| {
            let user = UserRow {
                id: r.session.user_id.clone(),
                identifier: r.identifier,
                channel: r.channel,
                created_at: r.user_created_at,
            };
            (r.session.into(), user)
        }))
    }

    async fn touch_session(&self, id: &str, now: i64, fresh_after: i64) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at <= $3")
            .bind(now)
            .bind(id)
            .bind(fresh_after)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_sessions(&self, user_id: &str, now: i64, idle_cutoff: i64) -> StoreResult<Vec<SessionRow>> {
        let rows: Vec<SessionColumns> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions s WHERE s.user_id = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 \
             ORDER BY s.created_at DESC, s.id"
        ))
        .bind(user_id)
        .bind(now)
        .bind(idle_cutoff)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(SessionRow::from).collect())
    }

    async fn revoke_session(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_other_sessions(&self, user_id: &str, keep: &str) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(user_id)
            .bind(keep)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn sign_in_user(
        &self,
        user_id: &str,
        session: &NewSessionRow<'_>,
        replaces: Option<&SessionToken>,
        audit: impl Fn(SignInEvent<'_>) -> AuditEvent + Send,
    ) -> StoreResult<Option<SignedIn>> {
        let mut tx = self.pool.begin().await?;
        let user = sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2 RETURNING identifier")
            .bind(session.now)
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .next();
        let Some(user) = user else {
            tx.rollback().await?;
            return Ok(None);
        };
        let destination: String = user.try_get("identifier")?;
        open_session(&mut tx, user_id, &destination, None, session, replaces, audit).await?;
        tx.commit().await?;
        Ok(Some(SignedIn { user_id: user_id.to_owned(), destination, second_step: false }))
    }

    async fn mark_proved(&self, session_id: &str, now: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE sessions SET proved_at = $1 WHERE id = $2")
            .bind(now)
            .bind(session_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn consume_as_proof(
        &self,
        challenge: &ChallengeId,
        destination: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        // As for a sign-in by code: the attempt was reserved (expiry and
        // the attempt count checked) and the code checked before this.
        let consumed = sqlx::query(
            "UPDATE challenges SET consumed_at = $1 \
             WHERE id = $2 AND destination = $3 AND consumed_at IS NULL AND superseded_at IS NULL \
               AND approved_at IS NULL RETURNING lane",
        )
        .bind(now)
        .bind(challenge.as_ref())
        .bind(destination)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .next();
        let Some(consumed) = consumed else {
            tx.rollback().await?;
            return Ok(false);
        };
        let lane: String = consumed.try_get("lane")?;
        reset_failures(&mut tx, destination, &lane).await?;
        let proved = sqlx::query("UPDATE sessions SET proved_at = $1 WHERE id = $2")
            .bind(now)
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        if proved.rows_affected() == 0 {
            // The session ended meanwhile: the code stays unused.
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn announce_sessions_ended(&self) -> StoreResult<()> {
        if self.postgres {
            sqlx::query("SELECT 1 AS sent FROM pg_notify($1, '')")
                .bind(super::SESSIONS_ENDED_CHANNEL)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
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
