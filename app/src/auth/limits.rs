//! Abuse limits: where they are decided. The ones that stop brute force and
//! SMS flooding are counted in the database (`crate::store::limits`, through
//! `LimitStore`) so every instance sees the same counts; which row counts
//! what is decided here (`send_rows`, `failure_key`); the
//! per-IP limits here are in-process (governor) and only slow a single
//! client down.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock as _, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::{Quota, RateLimiter};

/// Which limit refused a request. Carried by the refusal itself, so the
/// metrics (`passcode_codes_refused_total{reason}`) say which limit spoke
/// without reading the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The in-process (or shared) per-IP bucket.
    PerIp,
    /// The wait between codes to one address.
    Cooldown,
    HourlyCap,
    DailyCap,
    /// Too many wrong codes for the address or device: locked for a while.
    Locked,
    /// A client IP's (or its network's) hourly share of text messages.
    SmsPerIp,
    /// Every instance's hourly SMS budget.
    SmsBudget,
    /// An account's hourly answers to the authenticator step.
    AppAnswers,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::PerIp => "per_ip",
            Limit::Cooldown => "cooldown",
            Limit::HourlyCap => "hourly_cap",
            Limit::DailyCap => "daily_cap",
            Limit::Locked => "locked",
            Limit::SmsPerIp => "sms_per_ip",
            Limit::SmsBudget => "sms_budget",
            Limit::AppAnswers => "app_answers",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Wait after the first code of an hour; doubles with each further code
    /// (30 s, 60 s, 120 s, … up to 16×).
    pub resend_cooldown: Duration,
    pub codes_per_hour: i64,
    pub codes_per_day: i64,
    /// Wrong codes per destination within an hour, across all its challenges,
    /// before verification for it is refused for `lockout`.
    pub failures_per_hour: i64,
    pub lockout: Duration,
    /// Per client IP: sends per 10 minutes, and how many may come at once.
    pub ip_sends_per_10_min: u32,
    pub ip_send_burst: u32,
    pub ip_verifies_per_10_min: u32,
    pub ip_verify_burst: u32,
    /// All SMS sent by all instances in an hour (a cost guard); 0 = no SMS.
    pub sms_per_hour: i64,
    /// SMS asked for per client IP (IPv6: per /64) in an hour, counted in the
    /// database: draining the global budget then takes many addresses.
    pub sms_per_ip_per_hour: i64,
    /// A client's network (IPv4 /24, IPv6 /48) gets this many clients'
    /// allowance of every per-IP limit, counted beside each client's own.
    pub ip_network_factor: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            resend_cooldown: Duration::from_secs(30),
            codes_per_hour: 5,
            codes_per_day: 10,
            failures_per_hour: 10,
            lockout: Duration::from_secs(15 * 60),
            ip_sends_per_10_min: 10,
            ip_send_burst: 3,
            ip_verifies_per_10_min: 30,
            ip_verify_burst: 10,
            sms_per_hour: 500,
            sms_per_ip_per_hour: 10,
            ip_network_factor: 4,
        }
    }
}

impl Limits {
    /// The limits for an address whose owner said "that wasn't me" in the
    /// last day: half the codes an hour and a day (at least one each).
    pub fn halved(&self) -> Limits {
        Limits {
            codes_per_hour: (self.codes_per_hour / 2).max(1),
            codes_per_day: (self.codes_per_day / 2).max(1),
            ..self.clone()
        }
    }
}

/// One `destinations` row a code request draws on, with its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRow {
    pub key: String,
    /// The wait after the first code of an hour (doubling with each more);
    /// 0: none.
    pub cooldown_ms: i64,
    pub per_hour: i64,
    pub per_day: i64,
}

/// The rows a code request draws on, all or none (`allowance`: the address
/// whose allowance it is, an email without its plus tag):
/// - from a browser known to the address (`lane`: its device id), the one
///   row every such browser shares, `trusted:<allowance>`, with the
///   cooldown and the caps: a stranger who spends the rest never touches it,
///   and new device ids never multiply it;
/// - from any other, the address's own row `<allowance>` with the caps,
///   and the requesting network's row `from:<network>:<allowance>` with the
///   cooldown and its share of the caps: one client network (an IPv4 /24,
///   an IPv6 /48) can spend all of what an address gets in an hour or a day
///   but a quarter (rounded down, at least one code), which stays for
///   everyone else, and never starts a cooldown for anyone else. So a
///   stranger in one network can delay an owner's first sign-in but not
///   keep it out; one spread over several networks can spend the rest too,
///   and then only the owner's known browsers get codes until the window
///   ends.
pub fn send_rows(allowance: &str, lane: &str, requester: Option<IpAddr>, l: &Limits) -> Vec<SendRow> {
    let cooldown_ms = super::clock::millis(l.resend_cooldown);
    if !lane.is_empty() {
        return vec![SendRow {
            key: format!("trusted:{allowance}"),
            cooldown_ms,
            per_hour: l.codes_per_hour,
            per_day: l.codes_per_day,
        }];
    }
    let network = requester.map_or_else(|| "unknown".to_owned(), |ip| key_text(network_key(ip)));
    vec![
        SendRow {
            key: format!("from:{network}:{allowance}"),
            cooldown_ms,
            per_hour: share(l.codes_per_hour),
            per_day: share(l.codes_per_day),
        },
        SendRow { key: allowance.to_owned(), cooldown_ms: 0, per_hour: l.codes_per_hour, per_day: l.codes_per_day },
    ]
}

/// One requesting network's share of an address's allowance: all but a
/// quarter, rounded down and at least one (5 → 4, 10 → 8), and at least one.
fn share(cap: i64) -> i64 {
    (cap - (cap / 4).max(1)).max(1)
}

/// Which `destinations` row counts wrong codes: the address's own for an
/// unknown browser, the device's own for a known one, so a device that
/// keeps failing (a stolen cookie) locks only itself.
pub fn failure_key(destination: &str, lane: &str) -> String {
    if lane.is_empty() { destination.to_owned() } else { format!("device:{lane}") }
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

/// One request's worth of time in a bucket that takes `per_10_min`
/// requests per 10 minutes. Nanoseconds, not milliseconds: above 600,000
/// per 10 minutes a millisecond period would round to zero.
pub(super) fn period(per_10_min: u32) -> Duration {
    Duration::from_nanos(600_000_000_000 / u64::from(per_10_min.max(1)))
}

/// A wait as the whole seconds a person is told (rounded up).
pub(super) fn whole_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

fn quota(per_10_min: u32, burst: u32) -> Quota {
    Quota::with_period(period(per_10_min))
        .expect("period is positive: at most 600,000,000,000 / u32::MAX ns")
        .allow_burst(NonZeroU32::new(burst.max(1)).expect("burst is positive"))
}

/// Most clients (IPv4 addresses, IPv6 /64s) one limiter keeps a bucket of
/// its own for, and most networks (IPv4 /24s, IPv6 /48s). Past the first
/// (a flood from hundreds of thousands of addresses), a client it does not
/// already know is counted by its network alone; past the second, a network
/// it does not know shares one overflow bucket with the rest. Memory stays
/// bounded, the flood is still limited, and a newcomer from another network
/// is not shut out by a flood from a few.
pub const MAX_TRACKED_CLIENTS: usize = 100_000;
pub const MAX_NETWORKS: usize = 20_000;

/// How often, at most, idle buckets are swept out (a sweep walks the map).
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// A bucket's key: an address or network and its prefix length, so a /48
/// and the /64 at its start are different buckets.
type Key = (IpAddr, u8);

/// The key every network is counted under once the map is full (`::/0`).
const OVERFLOW: Key = (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0);

/// The client's own key: IPv4 addresses, IPv6 /64s.
pub fn client_key(ip: IpAddr) -> Key {
    let key = ip_key(ip);
    (key, if key.is_ipv4() { 32 } else { 64 })
}

/// The client's network: IPv4 /24, IPv6 /48 (what one owner commonly
/// holds: a /48 is 65,536 /64s).
pub fn network_key(ip: IpAddr) -> Key {
    match ip_key(ip) {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            (IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, 0)), 24)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            (IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0)), 48)
        }
    }
}

/// A key as text (`2001:db8:1::/48`, `192.0.2.7/32`), for the database's
/// per-IP rows.
pub fn key_text((ip, prefix): Key) -> String {
    format!("{ip}/{prefix}")
}

/// governor's own map, shared with us so we can ask whether a client already
/// has a bucket (governor keeps its store private).
#[derive(Clone, Default)]
struct SharedStore(Arc<DashMapStateStore<Key>>);

impl StateStore for SharedStore {
    type Key = Key;

    fn measure_and_replace<T, F, E>(&self, key: &Key, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<Key> for SharedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        ShrinkableKeyedStateStore::retain_recent(&*self.0, drop_below);
    }

    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&*self.0);
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One kind of key's token buckets, bounded in memory (`max`) and in work
/// per request (sweeps are rationed).
struct Buckets {
    limiter: RateLimiter<Key, SharedStore, MonotonicClock, NoOpMiddleware<std::time::Instant>>,
    store: SharedStore,
    max: usize,
    started: std::time::Instant,
    /// Milliseconds after `started` when the next sweep may run.
    next_sweep_ms: AtomicU64,
    sweeps: AtomicU64,
}

impl Buckets {
    fn new(quota: Quota, max: usize) -> Self {
        // std's monotonic Instant rather than governor's default (quanta,
        // which reads the TSC and calibrates it on a background thread):
        // plenty precise for minutes-long windows, and one dependency less.
        let store = SharedStore::default();
        Self {
            limiter: RateLimiter::new(quota, store.clone(), MonotonicClock),
            store,
            max,
            started: std::time::Instant::now(),
            next_sweep_ms: AtomicU64::new(0),
            sweeps: AtomicU64::new(0),
        }
    }

    /// Whether `key` may have a bucket: it has one, or there is room (after
    /// a sweep, when one is due).
    fn has_room_for(&self, key: &Key) -> bool {
        if self.store.0.len() < self.max || self.store.0.contains_key(key) {
            return true;
        }
        self.sweep();
        self.store.0.len() < self.max
    }

    fn check(&self, key: &Key) -> Result<(), u64> {
        self.limiter.check_key(key).map_err(|not_until| whole_secs(not_until.wait_time_from(MonotonicClock.now())))
    }

    /// Forgets keys whose buckets are full again, at most once per
    /// `SWEEP_EVERY`: a flood of fresh clients must not make every request
    /// walk the whole map.
    fn sweep(&self) {
        let now_ms = self.started.elapsed().as_millis() as u64;
        let due = self.next_sweep_ms.load(Ordering::Relaxed);
        let next = now_ms + SWEEP_EVERY.as_millis() as u64;
        if now_ms < due || self.next_sweep_ms.compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        self.sweeps.fetch_add(1, Ordering::Relaxed);
        self.limiter.retain_recent();
    }
}

/// Keyed token buckets for one kind of request, per client and per network
/// at once, each with its own allowance: an IPv6 owner of a /48 (65,536
/// /64s) or an IPv4 owner of a /24 gets `network_factor` clients' worth, not
/// one per address.
pub struct IpLimiter {
    clients: Buckets,
    networks: Buckets,
}

impl IpLimiter {
    pub fn new(per_10_min: u32, burst: u32, network_factor: u32) -> Self {
        let f = network_factor.max(1);
        Self {
            clients: Buckets::new(quota(per_10_min, burst), MAX_TRACKED_CLIENTS),
            networks: Buckets::new(
                quota(per_10_min.saturating_mul(f), burst.saturating_mul(f)),
                // One place is kept for the overflow bucket itself.
                MAX_NETWORKS - 1,
            ),
        }
    }

    /// `Err(seconds to wait)` when this client, or its network, is over its
    /// limit. A request without a known peer address (only in-process
    /// tests) is not limited.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        let Some(ip) = ip else { return Ok(()) };
        // The client first: one address hammering away past its own
        // allowance spends nothing of its network's, so it can't shut out
        // its neighbours. Past the bound, a newcomer is counted by its
        // network alone.
        let client = client_key(ip);
        if self.clients.has_room_for(&client) {
            self.clients.check(&client)?;
        }
        let network = network_key(ip);
        let network = if self.networks.has_room_for(&network) { network } else { OVERFLOW };
        self.networks.check(&network)
    }

    /// Clients and networks with a bucket of their own right now.
    pub fn tracked(&self) -> usize {
        self.clients.store.0.len() + self.networks.store.0.len()
    }

    /// How many sweeps have run.
    pub fn sweeps(&self) -> u64 {
        self.clients.sweeps.load(Ordering::Relaxed) + self.networks.sweeps.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strangers_share_most_and_known_browsers_their_own_row() {
        let l = Limits::default();
        let known = send_rows("jane@example.com", "dev1", Some("192.0.2.1".parse().unwrap()), &l);
        assert_eq!(
            known,
            [SendRow { key: "trusted:jane@example.com".into(), cooldown_ms: 30_000, per_hour: 5, per_day: 10 }]
        );
        let stranger = send_rows("jane@example.com", "", Some("2001:db8:1:2::9".parse().unwrap()), &l);
        assert_eq!(
            stranger,
            [
                SendRow {
                    key: "from:2001:db8:1::/48:jane@example.com".into(),
                    cooldown_ms: 30_000,
                    per_hour: 4,
                    per_day: 8
                },
                SendRow { key: "jane@example.com".into(), cooldown_ms: 0, per_hour: 5, per_day: 10 },
            ]
        );
        let tight = Limits { codes_per_hour: 1, codes_per_day: 2, ..Limits::default() };
        assert_eq!(send_rows("a@b.c", "", None, &tight)[0].per_hour, 1, "a share is at least one");
        assert_eq!(send_rows("a@b.c", "", None, &tight)[0].per_day, 1, "and leaves one for others when it can");
        let halved = Limits::default().halved();
        assert_eq!((halved.codes_per_hour, halved.codes_per_day), (2, 5));
        assert_eq!(tight.halved().codes_per_hour, 1, "halving leaves at least one");
    }

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
        let l = IpLimiter::new(10, 3, 4);
        let ip = Some("192.0.2.1".parse().unwrap());
        for _ in 0..3 {
            assert!(l.check(ip).is_ok());
        }
        let wait = l.check(ip).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(l.check(Some("192.0.2.2".parse().unwrap())).is_ok(), "other clients are unaffected");
        // Same /64, different address: same bucket.
        let l6 = IpLimiter::new(10, 1, 4);
        assert!(l6.check(Some("2001:db8::1".parse().unwrap())).is_ok());
        assert!(l6.check(Some("2001:db8::2".parse().unwrap())).is_err());
    }

    /// 200,000 distinct IPv6 /64s from four /48s, each inside its allowance:
    /// the map stays within its bound, it is walked a bounded number of
    /// times, clients known before the flood keep their own buckets, the
    /// flood is limited by its networks, and a newcomer from another network
    /// still gets in.
    #[test]
    fn a_flood_of_distinct_clients_stays_bounded() {
        let l = IpLimiter::new(10, 3, 4);
        let known: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(l.check(Some(known)).is_ok());
        let mut refused = 0;
        for i in 0..200_000u32 {
            let ip = Ipv6Addr::new(0x2001, 0xdb8, (i >> 16) as u16, i as u16, 0, 0, 0, 1);
            refused += usize::from(l.check(Some(IpAddr::V6(ip))).is_err());
        }
        assert!(l.tracked() <= MAX_TRACKED_CLIENTS + MAX_NETWORKS, "{} buckets", l.tracked());
        assert!(l.sweeps() <= 4, "{} sweeps: the map was walked on every request", l.sweeps());
        assert!(refused >= 200_000 - 4 * 12, "the flood's networks are limited: {refused} refused");
        assert!(l.check(Some(known)).is_ok(), "a client known before the flood keeps its own bucket");
        assert!(l.check(Some(known)).is_ok());
        assert!(l.check(Some("2001:db9::1".parse().unwrap())).is_ok(), "a newcomer from another network gets in");
        // Networks are bounded too: past them, everyone left shares one bucket.
        let mut refused = 0;
        for i in 0..(MAX_NETWORKS as u32 + 1000) {
            let ip = Ipv6Addr::new(0x2a00, (i >> 16) as u16, i as u16, 0, 0, 0, 0, 1);
            refused += usize::from(l.check(Some(IpAddr::V6(ip))).is_err());
        }
        assert!(l.tracked() <= MAX_TRACKED_CLIENTS + MAX_NETWORKS, "{} buckets", l.tracked());
        assert!(refused >= 1000 - 12, "{refused} refused");
    }

    /// The owner of a /48 (65,536 /64s) or a /24 gets its network's
    /// allowance, not one per address; other networks are unaffected.
    #[test]
    fn addresses_and_networks_are_counted_at_once() {
        let l = IpLimiter::new(10, 2, 4);
        let mut passed = 0;
        for i in 0..100u16 {
            let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0x77, i, 0, 0, 0, 1));
            passed += usize::from(l.check(Some(ip)).is_ok());
        }
        assert_eq!(passed, 8, "a /48 gets four /64s' worth (2 × 4), not 2 per /64");
        let mut passed = 0;
        for i in 1..=100u8 {
            passed += usize::from(l.check(Some(IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, i)))).is_ok());
        }
        assert_eq!(passed, 8, "an IPv4 /24 the same");
        // One address still has only its own allowance inside its network's.
        let one: IpAddr = "203.0.113.9".parse().unwrap();
        assert!(l.check(Some(one)).is_ok() && l.check(Some(one)).is_ok());
        assert!(l.check(Some(one)).is_err());
        assert!(l.check(Some("203.0.113.10".parse().unwrap())).is_ok(), "its neighbour has its own");
        assert!(l.check(Some("2001:db8:78::1".parse().unwrap())).is_ok(), "another /48 is unaffected");
        // One address hammering past its own allowance spends nothing of its
        // network's: its neighbours still get theirs.
        let l = IpLimiter::new(10, 2, 4);
        let loud: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..100 {
            let _ = l.check(Some(loud));
        }
        for i in 2..=7 {
            assert!(l.check(Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, i)))).is_ok(), "neighbour {i}");
        }
        assert_eq!(key_text(network_key("2001:db8:1:2::5".parse().unwrap())), "2001:db8:1::/48");
        assert_eq!(key_text(client_key("2001:db8:1:2::5".parse().unwrap())), "2001:db8:1:2::/64");
        assert_eq!(key_text(network_key("192.0.2.77".parse().unwrap())), "192.0.2.0/24");
    }

    #[test]
    fn every_quota_the_configuration_accepts_builds() {
        for per in [1, 10, 600_000, 600_001, 1_000_000, u32::MAX] {
            for burst in [1, 1_000_000] {
                let l = IpLimiter::new(per, burst, 1000);
                assert!(l.check(Some("192.0.2.1".parse().unwrap())).is_ok(), "{per}/{burst}");
            }
        }
    }
}
