//! Every SQL statement lives here. Queries use `$n` binds, integer
//! milliseconds for time and text ids, so they run unchanged on SQLite and
//! Postgres through sqlx's `Any` driver.
//!
//! Statements that write and return rows (`… RETURNING`) are read with
//! `fetch_all`, so each runs to completion before its connection goes back
//! to the pool; a half-read SQLite statement would keep its transaction open.

use sqlx::{AnyPool, Row};

use crate::domain::{ChallengeId, Channel, Identifier, SessionToken};

use super::delivery::OutboxEntry;

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

/// A challenge after one attempt was reserved for the caller.
pub struct ReservedAttempt {
    pub destination: String,
    /// The limits row the attempt was counted in (see `failure_key`).
    pub failure_key: String,
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

/// What an audit row records. Stored as its `as_str()` text, which queries
/// and the README's examples use: renaming a variant must keep its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    CodeSent,
    DeliveryFailed,
    RateLimited,
    VerificationFailed,
    ChallengeBurned,
    DestinationLocked,
    SignedIn,
    SignedOut,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::CodeSent => "code_sent",
            AuditKind::DeliveryFailed => "delivery_failed",
            AuditKind::RateLimited => "rate_limited",
            AuditKind::VerificationFailed => "verification_failed",
            AuditKind::ChallengeBurned => "challenge_burned",
            AuditKind::DestinationLocked => "destination_locked",
            AuditKind::SignedIn => "signed_in",
            AuditKind::SignedOut => "signed_out",
        }
    }
}

/// One row of the audit trail.
#[derive(Debug)]
pub struct AuditEvent {
    pub at: i64,
    pub kind: AuditKind,
    pub destination_hash: Option<String>,
    pub destination_masked: Option<String>,
    pub user_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

/// Which challenge to consume: the one this browser's cookie names (after its
/// code was checked), or the one a sign-in link's token belongs to.
#[derive(Clone, Copy)]
pub enum ChallengeKey<'a> {
    Id(&'a ChallengeId),
    /// SHA-256 of the link token.
    Link(&'a str),
}

pub struct SignedIn {
    pub user_id: String,
    pub destination: String,
}

#[derive(sqlx::FromRow)]
pub struct ChallengeView {
    pub id: String,
    pub destination: String,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub created_at: i64,
    pub expires_at: i64,
    /// `""`, or the device id of the browser that asked (see `send_key`).
    pub lane: String,
    /// "Firefox on Windows": where the code was asked for.
    pub requested_from: Option<String>,
}

/// A challenge to store.
pub struct NewChallenge<'a> {
    pub id: &'a ChallengeId,
    pub to: &'a Identifier,
    pub code_hash: &'a str,
    pub now: i64,
    pub expires_at: i64,
    pub max_attempts: i64,
    pub link_hash: Option<&'a str>,
    pub lane: &'a str,
    pub requested_from: Option<&'a str>,
}

/// Which `destinations` row counts the codes sent for a request: the
/// address's own row for a browser not known to it (lane `""`), or one row
/// shared by every browser that signed in as the address before. A stranger
/// who spends the address's allowance never touches the known browsers' row,
/// and new device ids never multiply it (at most twice the caps per address).
pub fn send_key(destination: &str, lane: &str) -> String {
    if lane.is_empty() { destination.to_owned() } else { format!("trusted:{destination}") }
}

/// Which `destinations` row counts wrong codes: the address's own for an
/// unknown browser, the device's own for a known one, so a device that
/// keeps failing (a stolen cookie) locks only itself.
pub fn failure_key(destination: &str, lane: &str) -> String {
    if lane.is_empty() { destination.to_owned() } else { format!("device:{lane}") }
}

/// The outcome of asking to send one more code to a destination.
pub enum SendClaim {
    /// Go ahead; the next code may follow after `next_send_at`.
    Granted { next_send_at: i64 },
    /// Not now; try again at `retry_at`.
    Refused { retry_at: i64 },
}

/// A reserved verification attempt, or why none could be had.
pub enum Reservation {
    Reserved(ReservedAttempt),
    /// The challenge cannot take attempts (see `challenge_state`).
    ChallengeClosed,
    /// The destination has had too many failures; try again at `retry_at`.
    DestinationLimited {
        retry_at: i64,
    },
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

#[derive(sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub identifier: String,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub created_at: i64,
}

impl ChallengeView {
    /// The destination as the parsed type it was stored from.
    pub fn identifier(&self) -> anyhow::Result<Identifier> {
        use anyhow::Context;
        Identifier::from_stored(self.channel, &self.destination).context("stored destination no longer parses")
    }
}

/// When a sign-in link still works ($1: now, $2: the token's hash): the
/// confirmation page and the button must agree, so both use this.
macro_rules! usable_link {
    () => {
        "link_hash = $2 AND consumed_at IS NULL AND superseded_at IS NULL \
         AND expires_at > $1 AND attempts < max_attempts"
    };
}

/// The columns of a `ChallengeView`.
macro_rules! view_columns {
    () => {
        "id, destination, channel, created_at, expires_at, lane, requested_from"
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

impl Store {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Stores a new challenge and retires every open one for the same
    /// destination in the same lane, in one transaction, so at most one code
    /// per lane is live (a stranger's request never retires the code of a
    /// browser that signed in as the address before).
    pub async fn replace_challenge(&self, c: &NewChallenge<'_>) -> Result<(), sqlx::Error> {
        let NewChallenge { id, to, code_hash, now, expires_at, max_attempts, link_hash, lane, requested_from } = *c;
        let mut tx = self.pool.begin().await?;
        // The write comes first so SQLite takes its write lock at once rather
        // than upgrading a read lock (which would fail under contention).
        sqlx::query(
            "UPDATE challenges SET superseded_at = $1 \
             WHERE destination = $2 AND lane = $3 AND consumed_at IS NULL AND superseded_at IS NULL",
        )
        .bind(now)
        .bind(to.as_ref())
        .bind(lane)
        .execute(&mut *tx)
        .await?;
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

    /// Takes one attempt from an open challenge and one from its
    /// destination's hourly failure allowance, in one transaction of two
    /// conditional UPDATEs. Counting before the code is checked is what
    /// makes the limits exact under concurrency: 50 parallel guesses can
    /// never have more than `max_attempts` (or the destination's remaining
    /// allowance) checked. A right code gives the destination's back.
    pub async fn reserve_attempt(
        &self,
        id: &ChallengeId,
        now: i64,
        failures_per_hour: i64,
        lockout_ms: i64,
    ) -> Result<Reservation, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE challenges SET attempts = attempts + 1 \
             WHERE id = $1 AND consumed_at IS NULL AND superseded_at IS NULL \
               AND expires_at > $2 AND attempts < max_attempts \
             RETURNING destination, code_hash, attempts, max_attempts, lane",
        )
        .bind(id.as_ref())
        .bind(now)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .next();
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(Reservation::ChallengeClosed);
        };
        let destination: String = row.try_get("destination")?;
        let lane: String = row.try_get("lane")?;
        let reserved = ReservedAttempt {
            failure_key: failure_key(&destination, &lane),
            destination,
            code_hash: row.try_get("code_hash")?,
            attempts: row.try_get("attempts")?,
            max_attempts: row.try_get("max_attempts")?,
        };
        // A device's failure row is made on its first attempt (the address's
        // own exists since its code was sent).
        if !lane.is_empty() {
            sqlx::query("INSERT INTO destinations (destination) VALUES ($1) ON CONFLICT (destination) DO NOTHING")
                .bind(&reserved.failure_key)
                .execute(&mut *tx)
                .await?;
        }
        // A window is over when its hour has passed or its lock has run out.
        let allowed = sqlx::query(
            "UPDATE destinations SET \
               fail_count = CASE WHEN fail_start <= $2 - $3 OR (locked_until > 0 AND locked_until <= $2) THEN 1 ELSE fail_count + 1 END, \
               fail_start = CASE WHEN fail_start <= $2 - $3 OR (locked_until > 0 AND locked_until <= $2) THEN $2 ELSE fail_start END, \
               locked_until = CASE WHEN locked_until <= $2 THEN 0 ELSE locked_until END \
             WHERE destination = $1 AND locked_until <= $2 \
               AND (fail_start <= $2 - $3 OR (locked_until > 0 AND locked_until <= $2) OR fail_count < $4) \
             RETURNING fail_count",
        )
        .bind(&reserved.failure_key)
        .bind(now)
        .bind(HOUR_MS)
        .bind(failures_per_hour)
        .fetch_all(&mut *tx).await?.into_iter().next();
        if allowed.is_none() {
            tx.rollback().await?;
            let locked_until: Option<i64> = sqlx::query("SELECT locked_until FROM destinations WHERE destination = $1")
                .bind(&reserved.failure_key)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get("locked_until"))
                .transpose()?;
            // Allowance used up by attempts still being checked: the lock is
            // about to be set, so quote its full length.
            let retry_at = locked_until.filter(|&t| t > now).unwrap_or(now + lockout_ms);
            return Ok(Reservation::DestinationLimited { retry_at });
        }
        tx.commit().await?;
        Ok(Reservation::Reserved(reserved))
    }

    /// After a wrong code: locks the limits row (`failure_key`) if its
    /// allowance is spent. Returns whether this call set the lock.
    pub async fn lock_if_exhausted(
        &self,
        destination: &str,
        now: i64,
        failures_per_hour: i64,
        lockout_ms: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE destinations SET locked_until = $2 + $3 \
             WHERE destination = $1 AND fail_count >= $4 AND locked_until <= $2",
        )
        .bind(destination)
        .bind(now)
        .bind(lockout_ms)
        .bind(failures_per_hour)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Asks for one more code to `destination`. One conditional UPDATE
    /// enforces the cooldown (doubling with each code in the hour, up to
    /// 16×), the hourly and daily caps and any lock, so of 50 concurrent
    /// requests exactly one wins.
    pub async fn claim_send(
        &self,
        destination: &str,
        now: i64,
        cooldown_ms: i64,
        per_hour: i64,
        per_day: i64,
    ) -> Result<SendClaim, sqlx::Error> {
        // One statement: a new address gets its row with this first code
        // counted; a known one is updated only if every limit allows. (The
        // purge job may delete the row between a refusal and the look at its
        // windows below: then go round once more.)
        for _ in 0..3 {
            // In SET, every column of `destinations` on the right-hand side
            // is the old value (SQL standard; SQLite and Postgres agree).
            let row = sqlx::query(
                "INSERT INTO destinations (destination, next_send_at, hour_start, hour_count, day_start, day_count) \
                 VALUES ($1, $2 + $3, $2, 1, $2, 1) \
                 ON CONFLICT (destination) DO UPDATE SET \
                   next_send_at = $2 + $3 * CASE \
                       WHEN destinations.hour_start <= $2 - $4 OR destinations.hour_count <= 0 THEN 1 \
                       WHEN destinations.hour_count = 1 THEN 2 WHEN destinations.hour_count = 2 THEN 4 \
                       WHEN destinations.hour_count = 3 THEN 8 ELSE 16 END, \
                   hour_count = CASE WHEN destinations.hour_start <= $2 - $4 THEN 1 \
                       ELSE destinations.hour_count + 1 END, \
                   hour_start = CASE WHEN destinations.hour_start <= $2 - $4 THEN $2 \
                       ELSE destinations.hour_start END, \
                   day_count = CASE WHEN destinations.day_start <= $2 - $5 THEN 1 \
                       ELSE destinations.day_count + 1 END, \
                   day_start = CASE WHEN destinations.day_start <= $2 - $5 THEN $2 \
                       ELSE destinations.day_start END \
                 WHERE destinations.next_send_at <= $2 AND destinations.locked_until <= $2 \
                   AND (destinations.hour_start <= $2 - $4 OR destinations.hour_count < $6) \
                   AND (destinations.day_start <= $2 - $5 OR destinations.day_count < $7) \
                 RETURNING next_send_at",
            )
            .bind(destination)
            .bind(now)
            .bind(cooldown_ms)
            .bind(HOUR_MS)
            .bind(DAY_MS)
            .bind(per_hour)
            .bind(per_day)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .next();
            if let Some(r) = row {
                return Ok(SendClaim::Granted { next_send_at: r.try_get("next_send_at")? });
            }
            if let Some(at) = self.send_window(destination, now, per_hour, per_day).await? {
                return Ok(SendClaim::Refused { retry_at: at.max(now + 1000) });
            }
        }
        Err(sqlx::Error::Protocol("destination row kept disappearing".into()))
    }

    /// When the next code to `destination` may be sent (`<= now`: now).
    pub async fn next_send_time(
        &self,
        destination: &str,
        now: i64,
        per_hour: i64,
        per_day: i64,
    ) -> Result<i64, sqlx::Error> {
        Ok(self.send_window(destination, now, per_hour, per_day).await?.unwrap_or(now))
    }

    /// Like `next_send_time`, but `None` when the destination has no row.
    async fn send_window(
        &self,
        destination: &str,
        now: i64,
        per_hour: i64,
        per_day: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT hour_start, hour_count, day_start, day_count, next_send_at, locked_until \
             FROM destinations WHERE destination = $1",
        )
        .bind(destination)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let get = |c: &str| r.try_get::<i64, _>(c);
        let mut at = get("next_send_at")?.max(get("locked_until")?);
        if get("hour_count")? >= per_hour && get("hour_start")? + HOUR_MS > now {
            at = at.max(get("hour_start")? + HOUR_MS);
        }
        if get("day_count")? >= per_day && get("day_start")? + DAY_MS > now {
            at = at.max(get("day_start")? + DAY_MS);
        }
        Ok(Some(at))
    }

    /// Counts one SMS against the hourly budget shared by all instances.
    pub async fn claim_sms(&self, now: i64, per_hour: i64) -> Result<bool, sqlx::Error> {
        self.claim_hourly(hourly_claim!("sms_budget", "id = 1"), None, now, per_hour).await
    }

    /// One conditional UPDATE from `hourly_claim!`: of concurrent claims on
    /// any instance, no more than `per_hour` win in one window.
    async fn claim_hourly(
        &self,
        sql: &'static str,
        key: Option<&str>,
        now: i64,
        per_hour: i64,
    ) -> Result<bool, sqlx::Error> {
        let mut query = sqlx::query(sql).bind(now).bind(HOUR_MS).bind(per_hour);
        if let Some(key) = key {
            query = query.bind(key);
        }
        Ok(query.execute(&self.pool).await?.rows_affected() > 0)
    }

    /// Counts one text message against the client IP's hourly allowance
    /// (`ip` already keyed: IPv6 by /64). `false`: this IP has had its share.
    pub async fn claim_sms_for_ip(&self, ip: &str, now: i64, per_hour: i64) -> Result<bool, sqlx::Error> {
        // A new row starts its window now, so the purge never takes it for
        // an old one between these two statements.
        sqlx::query(
            "INSERT INTO sms_senders (ip, hour_start, hour_count) VALUES ($1, $2, 0) ON CONFLICT (ip) DO NOTHING",
        )
        .bind(ip)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.claim_hourly(hourly_claim!("sms_senders", "ip = $4"), Some(ip), now, per_hour).await
    }

    pub async fn insert_audit(&self, e: &AuditEvent) -> Result<(), sqlx::Error> {
        insert_audit(&self.pool, e).await
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
        sqlx::query_as(concat!("SELECT ", view_columns!(), " FROM challenges WHERE id = $1"))
            .bind(id.as_ref())
            .fetch_optional(&self.pool)
            .await
    }

    /// Consumes the challenge and opens a session in one transaction. The
    /// conditional UPDATE is the single point that decides who wins: of two
    /// concurrent right answers only one sees a row and gets a session.
    pub async fn consume_and_sign_in(
        &self,
        key: ChallengeKey<'_>,
        new_user_id: &str,
        token: &SessionToken,
        now: i64,
        session_expires_at: i64,
        audit: impl FnOnce(&str, &str) -> AuditEvent,
    ) -> Result<Option<SignedIn>, sqlx::Error> {
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

    /// The open challenge a sign-in link belongs to, if any. Reading only:
    /// opening a link must never use it up.
    pub async fn link_view(&self, link_hash: &str, now: i64) -> Result<Option<ChallengeView>, sqlx::Error> {
        sqlx::query_as(concat!("SELECT ", view_columns!(), " FROM challenges WHERE ", usable_link!()))
            .bind(now)
            .bind(link_hash)
            .fetch_optional(&self.pool)
            .await
    }

    /// Looks a session up by the hash of its token: the comparison happens on
    /// a SHA-256 digest, so response time says nothing about the token.
    pub async fn session_user(&self, token: &SessionToken, now: i64) -> Result<Option<UserRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT u.id, u.identifier, u.channel, u.created_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token.hash())
        .bind(now)
        .fetch_optional(&self.pool)
        .await
    }

    /// Deletes the session; returns its user when there was one.
    pub async fn delete_session(&self, token: &SessionToken) -> Result<Option<String>, sqlx::Error> {
        let rows = sqlx::query("DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id")
            .bind(token.hash())
            .fetch_all(&self.pool)
            .await?;
        rows.first().map(|r| r.try_get("user_id")).transpose()
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

    /// Deletes what nobody needs any more. Each DELETE is idempotent, so
    /// several instances may run this at the same time.
    pub async fn purge(&self, now: i64, audit_keep_ms: i64) -> Result<u64, sqlx::Error> {
        let statements: [(&str, i64); 6] = [
            // A day after expiry a challenge is no longer worth explaining.
            ("DELETE FROM challenges WHERE expires_at < $1", now - DAY_MS),
            ("DELETE FROM sessions WHERE expires_at < $1", now),
            ("DELETE FROM audit_events WHERE at < $1", now - audit_keep_ms),
            ("DELETE FROM outbox WHERE sent_at < $1", now - DAY_MS),
            ("DELETE FROM sms_senders WHERE hour_start < $1", now - DAY_MS),
            // Counters whose every window is over carry no information.
            (
                "DELETE FROM destinations WHERE day_start < $1 AND hour_start < $1 AND fail_start < $1 AND locked_until < $1 AND next_send_at < $1",
                now - DAY_MS,
            ),
        ];
        let mut removed = 0;
        for (sql, cutoff) in statements {
            removed += sqlx::query(sql).bind(cutoff).execute(&self.pool).await?.rows_affected();
        }
        Ok(removed)
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

/// One audit row, on the pool or inside a caller's transaction.
async fn insert_audit<'c>(
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
