//! Shared per-IP limits: `PASSCODE_REDIS_URL`, `PASSCODE_REDIS_PREFIX` and
//! `PASSCODE_REDIS_TIMEOUT_MS`. Without a URL every instance keeps its own
//! per-IP buckets in memory.

use std::time::Duration;

use super::helpers::ranged;
use super::{ConfigError, Source, err};

#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://[user:password@]host[:port][/db]`. Kept whole for the
    /// client; never logged (it may hold a password).
    pub url: String,
    /// Put before every key (`passcode:send:192.0.2.7/32`), so several
    /// deployments can share one Redis.
    pub prefix: String,
    /// Longest a connect or an answer may take before this instance counts
    /// on its own.
    pub timeout: Duration,
}

impl RedisSettings {
    pub(super) fn read(src: &dyn Source) -> Result<Option<Self>, ConfigError> {
        const VAR: &str = "PASSCODE_REDIS_URL";
        let Some(raw) = src.get(VAR) else { return Ok(None) };
        let url = raw.trim().to_owned();
        let parsed = url::Url::parse(&url).map_err(|_| {
            err(VAR, "expected a URL like redis://127.0.0.1:6379/0 (redis://user:password@host:port/db)")
        })?;
        match parsed.scheme() {
            "redis" => {}
            "rediss" => {
                return Err(err(
                    VAR,
                    "rediss:// (TLS) is not supported: reach Redis over a private network or a local TLS tunnel \
                     and use redis://",
                ));
            }
            other => return Err(err(VAR, format!("expected redis://…, got the scheme {other:?}"))),
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(err(VAR, "names no host: expected redis://HOST:PORT/DB"));
        }
        let db = parsed.path().trim_start_matches('/');
        if !db.is_empty() && db.parse::<u32>().is_err() {
            return Err(err(VAR, format!("the path must be a database number (/0 to /15), got /{db}")));
        }
        let prefix = src.get("PASSCODE_REDIS_PREFIX").unwrap_or_else(|| "passcode:".into());
        if prefix.chars().any(|c| c.is_whitespace() || c.is_control()) || prefix.len() > 64 {
            return Err(err("PASSCODE_REDIS_PREFIX", "at most 64 characters, no spaces"));
        }
        let timeout_ms = ranged(src, "PASSCODE_REDIS_TIMEOUT_MS", 250u64, "milliseconds", 10, 5000)?;
        Ok(Some(Self { url, prefix, timeout: Duration::from_millis(timeout_ms) }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::helpers::source as src;
    use super::*;

    #[test]
    fn off_unless_a_redis_url_is_given_and_that_url_is_checked() {
        assert!(RedisSettings::read(&src(&[])).unwrap().is_none());
        let r = RedisSettings::read(&src(&[("PASSCODE_REDIS_URL", "redis://127.0.0.1:6379/2")])).unwrap().unwrap();
        assert_eq!((r.prefix.as_str(), r.timeout), ("passcode:", Duration::from_millis(250)));
        for (bad, says) in [
            ("127.0.0.1:6379", "redis://"),
            ("rediss://cache.example.com:6380", "TLS"),
            ("http://127.0.0.1:6379", "scheme"),
            ("redis://127.0.0.1:6379/cache", "database number"),
        ] {
            let e = RedisSettings::read(&src(&[("PASSCODE_REDIS_URL", bad)])).unwrap_err();
            assert!(e.var == "PASSCODE_REDIS_URL" && e.message.contains(says), "{bad}: {e}");
        }
        let e = RedisSettings::read(&src(&[
            ("PASSCODE_REDIS_URL", "redis://127.0.0.1"),
            ("PASSCODE_REDIS_TIMEOUT_MS", "0"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "PASSCODE_REDIS_TIMEOUT_MS");
    }
}
