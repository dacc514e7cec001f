//! The `passkeys` and `ceremonies` tables: an account's passkeys, and the
//! state of each WebAuthn ceremony between its start and its finish.

use crate::auth::{CeremonyKind, CeremonyRow, NewCeremony, PasskeyRow, PasskeyStore, StoreResult};

use super::SqlStore;

/// The columns of a `PasskeyRow`.
macro_rules! passkey_columns {
    () => {
        "id, user_id, user_handle, credential_id, passkey, counter, name, created_at, last_used_at"
    };
}

#[derive(sqlx::FromRow)]
struct PasskeyColumns {
    id: String,
    user_id: String,
    user_handle: String,
    credential_id: String,
    passkey: String,
    counter: i64,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl From<PasskeyColumns> for PasskeyRow {
    fn from(c: PasskeyColumns) -> Self {
        let PasskeyColumns {
            id,
            user_id,
            user_handle,
            credential_id,
            passkey,
            counter,
            name,
            created_at,
            last_used_at,
        } = c;
        PasskeyRow { id, user_id, user_handle, credential_id, passkey, counter, name, created_at, last_used_at }
    }
}

#[derive(sqlx::FromRow)]
struct CeremonyColumns {
    user_id: Option<String>,
    session_id: Option<String>,
    state: String,
    expires_at: i64,
}

impl PasskeyStore for SqlStore {
    async fn insert_ceremony(&self, c: &NewCeremony<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO ceremonies (token_hash, kind, user_id, session_id, state, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(c.token_hash)
        .bind(c.kind.as_str())
        .bind(c.user_id)
        .bind(c.session_id)
        .bind(c.state)
        .bind(c.now)
        .bind(c.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One DELETE … RETURNING: the row goes to exactly one caller. An
    /// expired row is deleted too (it is of no use to anyone) but not
    /// returned.
    async fn take_ceremony(&self, token_hash: &str, kind: CeremonyKind, now: i64) -> StoreResult<Option<CeremonyRow>> {
        let rows: Vec<CeremonyColumns> = sqlx::query_as(
            "DELETE FROM ceremonies WHERE token_hash = $1 AND kind = $2 \
             RETURNING user_id, session_id, state, expires_at",
        )
        .bind(token_hash)
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().find(|c| c.expires_at > now).map(|c| CeremonyRow {
            user_id: c.user_id,
            session_id: c.session_id,
            state: c.state,
        }))
    }

    async fn passkeys_of(&self, user_id: &str) -> StoreResult<Vec<PasskeyRow>> {
        let rows: Vec<PasskeyColumns> = sqlx::query_as(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(PasskeyRow::from).collect())
    }

    async fn passkey_by_credential(&self, credential_id: &str) -> StoreResult<Option<PasskeyRow>> {
        let row: Option<PasskeyColumns> =
            sqlx::query_as(concat!("SELECT ", passkey_columns!(), " FROM passkeys WHERE credential_id = $1"))
                .bind(credential_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(PasskeyRow::from))
    }

    async fn add_passkey(&self, p: &PasskeyRow) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO passkeys (id, user_id, user_handle, credential_id, passkey, counter, name, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (credential_id) DO NOTHING",
        )
        .bind(&p.id)
        .bind(&p.user_id)
        .bind(&p.user_handle)
        .bind(&p.credential_id)
        .bind(&p.passkey)
        .bind(p.counter)
        .bind(&p.name)
        .bind(p.created_at)
        .bind(p.last_used_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The counter condition is the single point that decides between two
    /// uses: a counter that did not move past the stored one loses.
    async fn record_passkey_use(
        &self,
        id: &str,
        passkey: &str,
        previous_counter: i64,
        counter: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE passkeys SET passkey = $1, counter = $2, last_used_at = $3 \
             WHERE id = $4 AND counter = $5 AND ($2 > counter OR ($2 = 0 AND counter = 0))",
        )
        .bind(passkey)
        .bind(counter)
        .bind(now)
        .bind(id)
        .bind(previous_counter)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn rename_passkey(&self, user_id: &str, id: &str, name: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
            .bind(name)
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_passkey(&self, user_id: &str, id: &str) -> StoreResult<Option<String>> {
        let rows = sqlx::query_as::<_, (String,)>("DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING name")
            .bind(id)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().next().map(|(name,)| name))
    }
}
