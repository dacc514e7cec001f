//! The per-IP token buckets in Redis (`PASSCODE_REDIS_URL`), shared by
//! every instance: GCRA in one Lua script, so taking from a client's bucket
//! and its network's is one atomic step on the server, timed by Redis's own
//! clock (instances' clocks may differ), and each key expires on its own
//! when its bucket is full again.

use std::time::Duration;

use redis::aio::MultiplexedConnection;

use crate::auth::{Bucket, SharedBuckets, SharedBucketsError, TakeFuture};

/// GCRA: a bucket is the time at which it is "theoretically" empty again
/// (`tat`, in microseconds of Redis's clock). A request is let through when
/// `tat + interval - interval × burst <= now`, and then moves `tat` on by
/// one interval. All buckets are checked before any is written: all or none.
/// Returns 0 (taken) or the microseconds to wait.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait = 0
local next_tat = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allowed_at = new_tat - interval * burst
  if allowed_at > now and allowed_at - now > wait then wait = allowed_at - now end
  next_tat[i] = new_tat
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, next_tat[i], 'PX', math.ceil((next_tat[i] - now) / 1000))
end
return 0
";

pub struct RedisBuckets {
    client: redis::Client,
    /// The connection in use; `None` after a failure, so the next try
    /// connects afresh.
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    script: redis::Script,
    /// Put before every key, so several deployments (or tests) can share
    /// one Redis.
    prefix: String,
    /// Longest a connect, or an answer, may take before the instance counts
    /// on its own buckets.
    timeout: Duration,
    described: String,
}

impl RedisBuckets {
    /// Nothing is connected yet: the first request does (an instance starts
    /// even when Redis is down, counting on its own until Redis answers).
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("PASSCODE_REDIS_URL: {e}"))?;
        let info = client.get_connection_info();
        let described = format!("redis {} (keys {prefix}*)", info.addr());
        Ok(Self {
            client,
            connection: tokio::sync::Mutex::new(None),
            script: redis::Script::new(GCRA),
            prefix: prefix.to_owned(),
            timeout,
            described,
        })
    }

    async fn connection(&self) -> Result<MultiplexedConnection, SharedBucketsError> {
        let mut held = self.connection.lock().await;
        if let Some(c) = held.as_ref() {
            return Ok(c.clone());
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| SharedBucketsError(e.to_string()))?;
        *held = Some(c.clone());
        Ok(c)
    }

    /// One try with the connection in hand; a connection that died since
    /// its last use (Redis restarted) gets one more try on a fresh one, so
    /// a restart alone sends nobody to the in-process buckets.
    async fn take_all(&self, buckets: &[Bucket]) -> Result<Option<Duration>, SharedBucketsError> {
        match self.try_take(buckets).await {
            Err(Failure::Dropped(_)) => self.try_take(buckets).await.map_err(Failure::into_error),
            other => other.map_err(Failure::into_error),
        }
    }

    async fn try_take(&self, buckets: &[Bucket]) -> Result<Option<Duration>, Failure> {
        let mut c = self.connection().await.map_err(Failure::Other)?;
        let mut call = self.script.prepare_invoke();
        for b in buckets {
            call.key(format!("{}{}", self.prefix, b.key));
            call.arg(b.interval.as_micros().max(1) as u64).arg(b.burst);
        }
        let answer = tokio::time::timeout(self.timeout, call.invoke_async::<u64>(&mut c)).await;
        let failure = match answer {
            Ok(Ok(0)) => return Ok(None),
            Ok(Ok(wait_us)) => return Ok(Some(Duration::from_micros(wait_us))),
            Ok(Err(e)) if e.is_connection_dropped() || e.is_io_error() => Failure::Dropped(e.to_string()),
            Ok(Err(e)) => Failure::Other(SharedBucketsError(e.to_string())),
            Err(_) => Failure::Other(SharedBucketsError(format!("no answer within {} ms", self.timeout.as_millis()))),
        };
        self.connection.lock().await.take();
        Err(failure)
    }
}

enum Failure {
    /// The connection was closed under us: worth one fresh try.
    Dropped(String),
    Other(SharedBucketsError),
}

impl Failure {
    fn into_error(self) -> SharedBucketsError {
        match self {
            Failure::Dropped(e) => SharedBucketsError(e),
            Failure::Other(e) => e,
        }
    }
}

impl SharedBuckets for RedisBuckets {
    fn take<'a>(&'a self, buckets: &'a [Bucket]) -> TakeFuture<'a> {
        Box::pin(self.take_all(buckets))
    }

    fn describe(&self) -> String {
        self.described.clone()
    }
}
