//! The limit counters: per destination (`destinations`: codes sent,
//! failures, locks), per client IP for SMS (`sms_senders`) and the global SMS
//! budget (`sms_budget`). Each claim is one conditional UPDATE, so the limits
//! hold across instances and under concurrency.

use sqlx::Row;

use crate::auth::{
    Limit, LimitStore, Reservation, ReservedAttempt, SendClaim, SendRow, StoreError, StoreResult, failure_key,
};
use crate::domain::ChallengeId;

use super::{DAY_MS, HOUR_MS, SqlStore};

impl LimitStore for SqlStore {
    /// Takes one attempt from an open challenge and one from its
    /// destination's hourly failure allowance, in one transaction of two
    /// conditional UPDATEs. Counting before the code is checked is what
    /// makes the limits exact under concurrency: 50 parallel guesses can
    /// never have more than `max_attempts` (or the destination's remaining
    /// allowance) checked. A right code gives the destination's back.
    async fn reserve_attempt(
        &self,
        id: &ChallengeId,
        now: i64,
        failures_per_hour: i64,
        lockout_ms: i64,
    ) -> StoreResult<Reservation> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE challenges SET attempts = attempts + 1 \
             WHERE id = $1 AND consumed_at IS NULL AND superseded_at IS NULL \
               AND approved_at IS NULL AND reported_at IS NULL AND expires_at > $2 AND attempts < max_attempts \
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
        // The failure row is made on the first attempt: a device's, or a
        // plus-tagged address's (its codes were counted on its base
        // address's row).
        sqlx::query("INSERT INTO destinations (destination) VALUES ($1) ON CONFLICT (destination) DO NOTHING")
            .bind(&reserved.failure_key)
            .execute(&mut *tx)
            .await?;
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
    async fn lock_if_exhausted(
        &self,
        destination: &str,
        now: i64,
        failures_per_hour: i64,
        lockout_ms: i64,
    ) -> StoreResult<bool> {
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

    /// Asks for one more code on every one of `rows`, in one transaction:
    /// all are counted or none. On each row one conditional upsert enforces
    /// the cooldown (doubling with each code in the hour, up to 16×), the
    /// hourly and daily caps and any lock, so of 50 concurrent requests
    /// exactly as many win as the tightest row allows.
    async fn claim_send(&self, rows: &[SendRow], now: i64) -> StoreResult<SendClaim> {
        // The purge job may delete a row between a refusal and the look at
        // its windows below: then go round once more.
        for _ in 0..3 {
            let mut tx = self.pool.begin().await?;
            let mut next_send_at = now;
            let mut refused = None;
            for row in rows {
                match claim_row(&mut tx, row, now).await? {
                    Some(next) => next_send_at = next_send_at.max(next),
                    None => {
                        refused = Some(row);
                        break;
                    }
                }
            }
            let Some(row) = refused else {
                tx.commit().await?;
                return Ok(SendClaim::Granted { next_send_at });
            };
            tx.rollback().await?;
            if let Some((at, limit)) = self.send_window(&row.key, now, row.per_hour, row.per_day).await? {
                return Ok(SendClaim::Refused { retry_at: at.max(now + 1000), limit });
            }
        }
        Err(StoreError(anyhow::anyhow!("a limits row kept disappearing")))
    }

    /// When the next code on `rows` may be sent (`<= now`: now).
    async fn next_send_time(&self, rows: &[SendRow], now: i64) -> StoreResult<i64> {
        let mut at = now;
        for row in rows {
            if let Some((t, _)) = self.send_window(&row.key, now, row.per_hour, row.per_day).await? {
                at = at.max(t);
            }
        }
        Ok(at)
    }

    /// Counts one SMS against the hourly budget shared by all instances.
    async fn claim_sms(&self, now: i64, per_hour: i64) -> StoreResult<bool> {
        Ok(self.claim_hourly(hourly_claim!("sms_budget", "id = 1"), None, now, per_hour).await?)
    }

    /// Counts one text message against the client's hourly allowance and
    /// its network's, in one transaction: both or neither. `false`: one of
    /// them has had its share.
    async fn claim_sms_for_requester(
        &self,
        client: &str,
        network: &str,
        now: i64,
        client_per_hour: i64,
        network_per_hour: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        for (key, per_hour) in [(network, network_per_hour), (client, client_per_hour)] {
            // A new row starts its window now, so the purge never takes it
            // for an old one between these two statements.
            sqlx::query(
                "INSERT INTO sms_senders (ip, hour_start, hour_count) VALUES ($1, $2, 0) ON CONFLICT (ip) DO NOTHING",
            )
            .bind(key)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let claimed = sqlx::query(hourly_claim!("sms_senders", "ip = $4"))
                .bind(now)
                .bind(HOUR_MS)
                .bind(per_hour)
                .bind(key)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            if !claimed {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// One more code on one row, if every limit on it allows: one statement (a
/// new row is made with this first code counted; a known one is updated
/// only if its cooldown, caps and lock allow). `None`: refused.
async fn claim_row(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    row: &SendRow,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    // In SET, every column of `destinations` on the right-hand side is the
    // old value (SQL standard; SQLite and Postgres agree).
    let claimed = sqlx::query(
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
    .bind(&row.key)
    .bind(now)
    .bind(row.cooldown_ms)
    .bind(HOUR_MS)
    .bind(DAY_MS)
    .bind(row.per_hour)
    .bind(row.per_day)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .next();
    claimed.map(|r| r.try_get("next_send_at")).transpose()
}

impl SqlStore {
    /// Like `next_send_time` for one row, with the limit that holds
    /// longest; `None` when it has no row.
    async fn send_window(
        &self,
        destination: &str,
        now: i64,
        per_hour: i64,
        per_day: i64,
    ) -> Result<Option<(i64, Limit)>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT hour_start, hour_count, day_start, day_count, next_send_at, locked_until \
             FROM destinations WHERE destination = $1",
        )
        .bind(destination)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let get = |c: &str| r.try_get::<i64, _>(c);
        let row = WindowRow {
            next_send_at: get("next_send_at")?,
            locked_until: get("locked_until")?,
            hour_start: get("hour_start")?,
            hour_count: get("hour_count")?,
            day_start: get("day_start")?,
            day_count: get("day_count")?,
        };
        Ok(Some(row.holds_until(now, per_hour, per_day)))
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
}

/// One `destinations` row's send windows, as read back after a refusal.
struct WindowRow {
    next_send_at: i64,
    locked_until: i64,
    hour_start: i64,
    hour_count: i64,
    day_start: i64,
    day_count: i64,
}

impl WindowRow {
    /// When the next code may go on this row (`<= now`: now), and which
    /// limit holds until then: the latest of the cooldown, a lock and a
    /// full hourly or daily cap (a later one wins a tie, so a full day
    /// reads as the daily cap, not the hour inside it).
    fn holds_until(&self, now: i64, per_hour: i64, per_day: i64) -> (i64, Limit) {
        let mut held = (self.next_send_at, Limit::Cooldown);
        let mut consider = |at: i64, limit: Limit| {
            if at >= held.0 {
                held = (at, limit);
            }
        };
        if self.locked_until > now {
            consider(self.locked_until, Limit::Locked);
        }
        if self.hour_count >= per_hour && self.hour_start + HOUR_MS > now {
            consider(self.hour_start + HOUR_MS, Limit::HourlyCap);
        }
        if self.day_count >= per_day && self.day_start + DAY_MS > now {
            consider(self.day_start + DAY_MS, Limit::DailyCap);
        }
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_that_holds_longest_is_the_reason() {
        let now = 10 * DAY_MS;
        let open = WindowRow {
            next_send_at: 0,
            locked_until: 0,
            hour_start: now - 60_000,
            hour_count: 1,
            day_start: now - 60_000,
            day_count: 1,
        };
        let cooling = WindowRow { next_send_at: now + 30_000, ..open };
        assert_eq!(cooling.holds_until(now, 5, 10), (now + 30_000, Limit::Cooldown));
        let hour_full = WindowRow { hour_count: 5, day_count: 5, ..cooling };
        assert_eq!(hour_full.holds_until(now, 5, 10), (now - 60_000 + HOUR_MS, Limit::HourlyCap));
        let day_full = WindowRow { day_count: 10, ..hour_full };
        assert_eq!(day_full.holds_until(now, 5, 10), (now - 60_000 + DAY_MS, Limit::DailyCap));
        let locked = WindowRow { locked_until: now + 2 * DAY_MS, ..day_full };
        assert_eq!(locked.holds_until(now, 5, 10), (now + 2 * DAY_MS, Limit::Locked));
        // A full hour that is over no longer holds.
        let old_hour = WindowRow { hour_start: now - HOUR_MS, hour_count: 5, ..open };
        assert_eq!(old_hour.holds_until(now, 5, 10), (0, Limit::Cooldown));
    }
}
