//! Abuse limits. The ones that stop brute force and SMS flooding live in the
//! database (see `store.rs`) so every instance sees the same counts; the
//! per-IP limits here are in-process (governor) and only slow a single
//! client down.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

#[derive(Debug, Clone)]
pub struct Limits {
    /// Wait after the first code of an hour; doubles with each further code
    /// (30 s, 60 s, 120 s, … up to 16×).
    pub resend_cooldown_ms: i64,
    pub codes_per_hour: i64,
    pub codes_per_day: i64,
    /// Wrong codes per destination within an hour, across all its challenges,
    /// before verification for it is refused for `lockout_ms`.
    pub failures_per_hour: i64,
    pub lockout_ms: i64,
    /// Per client IP: sends per 10 minutes, and how many may come at once.
    pub ip_sends_per_10_min: u32,
    pub ip_send_burst: u32,
    pub ip_verifies_per_10_min: u32,
    pub ip_verify_burst: u32,
    /// All SMS sent by all instances in an hour (a cost guard); 0 = no SMS.
    pub sms_per_hour: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            resend_cooldown_ms: 30_000,
            codes_per_hour: 5,
            codes_per_day: 10,
            failures_per_hour: 10,
            lockout_ms: 15 * 60_000,
            ip_sends_per_10_min: 10,
            ip_send_burst: 3,
            ip_verifies_per_10_min: 30,
            ip_verify_burst: 10,
            sms_per_hour: 500,
        }
    }
}

/// IPv6 clients usually own a whole /64, so that is the unit we count.
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

fn quota(per_10_min: u32, burst: u32) -> Quota {
    let per = per_10_min.max(1);
    let period = Duration::from_millis(600_000 / u64::from(per));
    Quota::with_period(period)
        .expect("period is positive")
        .allow_burst(NonZeroU32::new(burst.max(1)).expect("burst is positive"))
}

/// Keyed token buckets for one kind of request.
pub struct IpLimiter {
    limiter: RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, MonotonicClock, NoOpMiddleware<std::time::Instant>>,
    clock: MonotonicClock,
}

impl IpLimiter {
    pub fn new(per_10_min: u32, burst: u32) -> Self {
        // std's monotonic Instant rather than governor's default (quanta,
        // which reads the TSC and calibrates it on a background thread):
        // plenty precise for minutes-long windows, and one dependency less.
        let clock = MonotonicClock;
        Self { limiter: RateLimiter::dashmap_with_clock(quota(per_10_min, burst), clock.clone()), clock }
    }

    /// `Err(seconds to wait)` when this client is over its limit. A request
    /// without a known peer address (only in-process tests) is not limited.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        let Some(ip) = ip else { return Ok(()) };
        // Forget idle clients now and then so the map cannot grow forever.
        if self.limiter.len() > 100_000 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&ip_key(ip)).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_keyed_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(ip_key(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn limiter_allows_the_burst_then_says_how_long_to_wait() {
        let l = IpLimiter::new(10, 3);
        let ip = Some("192.0.2.1".parse().unwrap());
        for _ in 0..3 {
            assert!(l.check(ip).is_ok());
        }
        let wait = l.check(ip).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(l.check(Some("192.0.2.2".parse().unwrap())).is_ok(), "other clients are unaffected");
        // Same /64, different address: same bucket.
        let l6 = IpLimiter::new(10, 1);
        assert!(l6.check(Some("2001:db8::1".parse().unwrap())).is_ok());
        assert!(l6.check(Some("2001:db8::2".parse().unwrap())).is_err());
    }
}
