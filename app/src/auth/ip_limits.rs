//! Per-IP limits: how many sends and checks one client (an IPv4 address,
//! an IPv6 /64) and its network (a /24, a /48) may make, as token buckets.
//!
//! Without shared buckets every instance keeps its own (`IpLimiter`, in
//! memory), so behind N instances a client gets up to N times its
//! allowance. With shared buckets (Redis, `PASSCODE_REDIS_URL`) every
//! instance draws on the same ones. When they can't be reached the instance
//! falls back to its own buckets at once (limits stay on, never off), says
//! so in its log and its metrics, and tries the shared ones again a second
//! later, so it picks them up on its own when they are back.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::limits::{IpLimiter, Limits, client_key, key_text, network_key};
use super::service::IpAction;

/// How long an instance keeps to its own buckets after the shared ones
/// failed, before one request tries them again.
pub const SHARED_RETRY: Duration = Duration::from_secs(1);

/// One token bucket to take a request from: its key (`send:192.0.2.7/32`),
/// one request's worth of time (`interval`) and how many may come at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub key: String,
    pub interval: Duration,
    pub burst: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("shared per-IP limits unreachable: {0}")]
pub struct SharedBucketsError(pub String);

pub type TakeFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<Duration>, SharedBucketsError>> + Send + 'a>>;

/// Token buckets every instance shares (the Redis adapter in
/// `crate::store::redis_buckets`).
pub trait SharedBuckets: Send + Sync + 'static {
    /// Takes one request from every one of `buckets`, all or none, in one
    /// atomic step. `Ok(None)`: taken; `Ok(Some(wait))`: refused, try again
    /// after `wait`; `Err`: the buckets can't be reached.
    fn take<'a>(&'a self, buckets: &'a [Bucket]) -> TakeFuture<'a>;
    /// Shown in logs at start-up (no password).
    fn describe(&self) -> String;
}

/// The quota of one kind of request, as the buckets see it.
#[derive(Debug, Clone, Copy)]
struct Quota {
    per_10_min: u32,
    burst: u32,
}

impl Quota {
    fn interval(self) -> Duration {
        super::limits::period(self.per_10_min)
    }
}

pub struct IpLimits {
    sends: (IpLimiter, Quota),
    verifies: (IpLimiter, Quota),
    network_factor: u32,
    shared: Option<Shared>,
}

struct Shared {
    buckets: Arc<dyn SharedBuckets>,
    started: Instant,
    /// Milliseconds after `started` before which the shared buckets are not
    /// asked (0: ask).
    skip_until_ms: AtomicU64,
    /// Whether the last answer from the shared buckets was a failure.
    down: AtomicBool,
}

impl IpLimits {
    pub fn new(l: &Limits) -> Self {
        let f = l.ip_network_factor;
        let sends = Quota { per_10_min: l.ip_sends_per_10_min, burst: l.ip_send_burst };
        let verifies = Quota { per_10_min: l.ip_verifies_per_10_min, burst: l.ip_verify_burst };
        Self {
            sends: (IpLimiter::new(sends.per_10_min, sends.burst, f), sends),
            verifies: (IpLimiter::new(verifies.per_10_min, verifies.burst, f), verifies),
            network_factor: f.max(1),
            shared: None,
        }
    }

    pub fn with_shared(mut self, buckets: Arc<dyn SharedBuckets>) -> Self {
        crate::metrics::ip_limits_shared(true);
        self.shared = Some(Shared {
            buckets,
            started: Instant::now(),
            skip_until_ms: AtomicU64::new(0),
            down: AtomicBool::new(false),
        });
        self
    }

    /// The in-process buckets of one kind.
    fn local(&self, action: IpAction) -> &IpLimiter {
        match action {
            IpAction::Send => &self.sends.0,
            IpAction::Verify => &self.verifies.0,
        }
    }

    /// The shared buckets a request from `ip` draws on: its own and its
    /// network's, which has `network_factor` clients' worth.
    pub fn buckets(&self, action: IpAction, ip: IpAddr) -> [Bucket; 2] {
        let q = match action {
            IpAction::Send => self.sends.1,
            IpAction::Verify => self.verifies.1,
        };
        let f = self.network_factor;
        let network = Quota { per_10_min: q.per_10_min.saturating_mul(f), burst: q.burst.saturating_mul(f) };
        let what = action.as_str();
        [
            Bucket {
                key: format!("{what}:{}", key_text(client_key(ip))),
                interval: q.interval(),
                burst: q.burst.max(1),
            },
            Bucket {
                key: format!("{what}:{}", key_text(network_key(ip))),
                interval: network.interval(),
                burst: network.burst.max(1),
            },
        ]
    }

    /// `Err(seconds to wait)` when this client, or its network, is over its
    /// limit. A request without a known peer address (only in-process
    /// tests) is not limited.
    pub async fn check(&self, action: IpAction, ip: Option<IpAddr>) -> Result<(), u64> {
        let Some(ip) = ip else { return Ok(()) };
        if let Some(shared) = &self.shared
            && let Some(decided) = shared.check(&self.buckets(action, ip)).await
        {
            return decided;
        }
        self.local(action).check(Some(ip))
    }
}

impl Shared {
    /// The shared buckets' answer, or `None` when they can't give one (the
    /// caller asks its own buckets).
    async fn check(&self, buckets: &[Bucket]) -> Option<Result<(), u64>> {
        let now_ms = self.started.elapsed().as_millis() as u64;
        let skip_until = self.skip_until_ms.load(Ordering::Relaxed);
        if now_ms < skip_until {
            crate::metrics::ip_limits_fallback();
            return None;
        }
        // While they are down, one request at a time tries them again.
        if self.down.load(Ordering::Relaxed)
            && self
                .skip_until_ms
                .compare_exchange(
                    skip_until,
                    now_ms + SHARED_RETRY.as_millis() as u64,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            crate::metrics::ip_limits_fallback();
            return None;
        }
        match self.buckets.take(buckets).await {
            Ok(wait) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    self.skip_until_ms.store(0, Ordering::Relaxed);
                    crate::metrics::ip_limits_shared(true);
                    tracing::info!(buckets = %self.buckets.describe(), "per-IP limits shared again: the shared buckets answer");
                }
                Some(match wait {
                    None => Ok(()),
                    Some(wait) => Err(super::limits::whole_secs(wait)),
                })
            }
            Err(e) => {
                let retry_at = self.started.elapsed().as_millis() as u64 + SHARED_RETRY.as_millis() as u64;
                self.skip_until_ms.store(retry_at, Ordering::Relaxed);
                if !self.down.swap(true, Ordering::Relaxed) {
                    crate::metrics::ip_limits_shared(false);
                    tracing::warn!(
                        error = %e,
                        "per-IP limits: the shared buckets can't be reached; this instance counts on its own \
                         until they are back (limits stay on; tried again every second)"
                    );
                }
                crate::metrics::ip_limits_fallback();
                None
            }
        }
    }
}
