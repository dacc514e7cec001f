//! The SQL store: every statement the auth core needs, one file per
//! aggregate, implementing the core's storage traits (`crate::auth::store`).
//! Queries use `$n` binds, integer milliseconds for time and text ids, so
//! they run unchanged on SQLite and Postgres through sqlx's `Any` driver.
//!
//! Statements that write and return rows (`… RETURNING`) are read with
//! `fetch_all`, so each runs to completion before its connection goes back
//! to the pool; a half-read SQLite statement would keep its transaction open.
//!
//! One store is not SQL: the per-IP token buckets that instances share
//! through Redis (`redis_buckets`).

/// When a sign-in link still works ($1: now, $2: the token's hash): the
/// confirmation page and its buttons must agree, so all use this. A link
/// that approved a sign-in elsewhere, or whose sign-in was reported, is used.
macro_rules! usable_link {
    () => {
        "link_hash = $2 AND consumed_at IS NULL AND superseded_at IS NULL \
         AND approved_at IS NULL AND reported_at IS NULL \
         AND expires_at > $1 AND attempts < max_attempts"
    };
}

/// The columns of a `ChallengeView`.
macro_rules! view_columns {
    () => {
        "id, destination, channel, created_at, expires_at, lane, requested_from, requested_ip, pair_number, \
         approved_at, reported_at"
    };
}

/// Takes one from a row's hourly window (`hour_start`, `hour_count`) unless
/// it is full; a window an hour old starts again. Binds: $1 now, $2 an hour
/// in ms, $3 the hourly cap; `$row` picks the row (and may use $4).
macro_rules! hourly_claim {
    ($table:literal, $row:literal) => {
        concat!(
            "UPDATE ",
            $table,
            " SET \
               hour_count = CASE WHEN hour_start <= $1 - $2 THEN 1 ELSE hour_count + 1 END, \
               hour_start = CASE WHEN hour_start <= $1 - $2 THEN $1 ELSE hour_start END \
             WHERE ",
            $row,
            " AND (hour_start <= $1 - $2 OR hour_count < $3)"
        )
    };
}

mod audit;
mod authenticators;
mod challenges;
mod limits;
mod maintenance;
mod passkeys;
mod redis_buckets;
mod sessions;

pub use redis_buckets::RedisBuckets;

use sqlx::AnyPool;

use crate::auth::StoreError;

#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    /// Postgres: other instances hear of ended sessions by `NOTIFY`.
    postgres: bool,
}

/// The channel on which instances tell each other that sessions ended
/// (the server listens on it; see `auth::SessionCache`).
pub const SESSIONS_ENDED_CHANNEL: &str = "passcode_sessions_ended";

impl SqlStore {
    pub fn new(pool: AnyPool) -> Self {
        let url = pool.connect_options().database_url.as_str().to_owned();
        let postgres = url.starts_with("postgres:") || url.starts_with("postgresql:");
        Self { pool, postgres }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError(anyhow::Error::new(e))
    }
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
