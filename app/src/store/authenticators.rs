//! The `authenticators`, `backup_codes` and `second_steps` tables: an
//! account's authenticator app, its backup codes, and sign-ins waiting for
//! the app's code.

use sqlx::Row;

use crate::auth::{AuthenticatorRow, AuthenticatorStore, SecondStepRow, StoreResult};
use crate::domain::Channel;

use super::SqlStore;

#[derive(sqlx::FromRow)]
struct SecondStepColumns {
    user_id: String,
    destination: String,
    #[sqlx(try_from = "String")]
    channel: Channel,
    method: String,
    failures: i64,
    expires_at: i64,
}

impl From<SecondStepColumns> for SecondStepRow {
    fn from(c: SecondStepColumns) -> Self {
        SecondStepRow {
            user_id: c.user_id,
            destination: c.destination,
            channel: c.channel,
            method: c.method,
            failures: c.failures,
            expires_at: c.expires_at,
        }
    }
}

async fn insert_backup_codes(
    tx: &mut sqlx::AnyConnection,
    user_id: &str,
    hashes: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM backup_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    for hash in hashes {
        sqlx::query("INSERT INTO backup_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

impl AuthenticatorStore for SqlStore {
    async fn authenticator(&self, user_id: &str) -> StoreResult<Option<AuthenticatorRow>> {
        let row =
            sqlx::query("SELECT secret, enabled_at, created_at, setup_session FROM authenticators WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row
            .map(|r| -> Result<_, sqlx::Error> {
                Ok(AuthenticatorRow {
                    secret: r.try_get("secret")?,
                    enabled_at: r.try_get("enabled_at")?,
                    created_at: r.try_get("created_at")?,
                    setup_session: r.try_get("setup_session")?,
                })
            })
            .transpose()?)
    }

    async fn backup_codes_left(&self, user_id: &str) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM backup_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn start_authenticator(&self, user_id: &str, sealed: &str, session_id: &str, now: i64) -> StoreResult<bool> {
        // The WHERE of the upsert keeps an app that is on: a second "Turn
        // on" (another tab, a replayed form) can't swap its secret.
        let done = sqlx::query(
            "INSERT INTO authenticators (user_id, secret, enabled_at, last_step, created_at, setup_session) \
             VALUES ($1, $2, NULL, 0, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET secret = $2, created_at = $3, last_step = 0, setup_session = $4 \
             WHERE authenticators.enabled_at IS NULL",
        )
        .bind(user_id)
        .bind(sealed)
        .bind(now)
        .bind(session_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn enable_authenticator(
        &self,
        user_id: &str,
        sealed: &str,
        session_id: &str,
        step: i64,
        backup_hashes: &[String],
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        // The secret the page showed, still being set up by this session: a
        // set-up started again since (another tab, another browser) is not
        // turned on by this one's code.
        let done = sqlx::query(
            "UPDATE authenticators SET enabled_at = $1, last_step = $2, \
               enabled_by = (SELECT opened_by FROM sessions WHERE id = $5) \
             WHERE user_id = $3 AND secret = $4 AND setup_session = $5 AND enabled_at IS NULL",
        )
        .bind(now)
        .bind(step)
        .bind(user_id)
        .bind(sealed)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_backup_codes(&mut tx, user_id, backup_hashes).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn replace_backup_codes(&self, user_id: &str, backup_hashes: &[String]) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let on = sqlx::query("SELECT 1 AS one FROM authenticators WHERE user_id = $1 AND enabled_at IS NOT NULL")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !on {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_backup_codes(&mut tx, user_id, backup_hashes).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn disable_authenticator(&self, user_id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM authenticators WHERE user_id = $1 AND enabled_at IS NOT NULL")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM backup_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        // A sign-in waiting for the app's code would wait for ever.
        sqlx::query("DELETE FROM second_steps WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn reseal_authenticator(&self, user_id: &str, old: &str, new: &str) -> StoreResult<()> {
        sqlx::query("UPDATE authenticators SET secret = $1 WHERE user_id = $2 AND secret = $3")
            .bind(new)
            .bind(user_id)
            .bind(old)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn claim_authenticator_answer(&self, user_id: &str, now: i64, cap: i64) -> StoreResult<Result<(), i64>> {
        // One statement takes the turn or finds the hour's spent, whichever
        // instance asks. No app on: nothing to guess at, nothing counted.
        let claimed = sqlx::query(concat!(
            hourly_claim!("authenticators", "user_id = $4 AND enabled_at IS NOT NULL"),
            " RETURNING hour_count"
        ))
        .bind(now)
        .bind(super::HOUR_MS)
        .bind(cap)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        if !claimed.is_empty() {
            return Ok(Ok(()));
        }
        let row = sqlx::query("SELECT hour_start FROM authenticators WHERE user_id = $1 AND enabled_at IS NOT NULL")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Err(r.try_get::<i64, _>("hour_start")? + super::HOUR_MS),
            None => Ok(()),
        })
    }

    async fn use_totp_step(&self, user_id: &str, step: i64) -> StoreResult<bool> {
        // One statement decides: of two requests with the same code, one
        // moves `last_step` on and the other finds it there already.
        let done = sqlx::query(
            "UPDATE authenticators SET last_step = $1 \
             WHERE user_id = $2 AND enabled_at IS NOT NULL AND last_step < $1",
        )
        .bind(step)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn use_backup_code(&self, user_id: &str, hash: &str, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE backup_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn second_step(&self, token_hash: &str, now: i64) -> StoreResult<Option<SecondStepRow>> {
        let row: Option<SecondStepColumns> = sqlx::query_as(
            "SELECT s.user_id, s.destination, u.channel, s.method, s.failures, s.expires_at \
             FROM second_steps s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(SecondStepRow::from))
    }

    async fn reserve_second_step(&self, token_hash: &str, now: i64, max: i64) -> StoreResult<Option<SecondStepRow>> {
        // Counted before the answer is checked, so fifty answers at once
        // get `max` checks between them, not fifty.
        let rows: Vec<SecondStepColumns> = sqlx::query_as(
            "UPDATE second_steps SET failures = failures + 1 \
             WHERE token_hash = $1 AND expires_at > $2 AND failures < $3 \
             RETURNING user_id, destination, \
               (SELECT channel FROM users WHERE users.id = second_steps.user_id) AS channel, \
               method, failures, expires_at",
        )
        .bind(token_hash)
        .bind(now)
        .bind(max)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().next().map(SecondStepRow::from))
    }

    async fn end_second_step(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM second_steps WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }
}
