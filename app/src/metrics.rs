//! Every metric Passcode exports, in one place: the catalogue (`CATALOGUE`:
//! name, kind, labels, help) that the metrics listener describes, that
//! `docs/metrics.md` lists and that the starter Grafana dashboard is checked
//! against, and one small function per event.
//!
//! Label values come only from enums and fixed strings (a channel, an
//! outcome, a limit, a route template), never from an address, an IP, a
//! user id or anything else a person types, so every series is bounded.
//!
//! Recording goes through the `metrics` facade: until the server installs a
//! recorder (`PASSCODE_METRICS_ADDR` set), every call here is a no-op.

use std::time::Duration;

use metrics::{counter, gauge, histogram};

use crate::auth::{AuthError, SignInOutcome};
use crate::domain::Channel;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One exported metric.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

pub const HTTP_REQUESTS: &str = "passcode_http_requests_total";
pub const HTTP_DURATION: &str = "passcode_http_request_duration_seconds";
pub const CODES_REQUESTED: &str = "passcode_codes_requested_total";
pub const CODES_SENT: &str = "passcode_codes_sent_total";
pub const CODES_WITHHELD: &str = "passcode_codes_withheld_total";
pub const CODES_REFUSED: &str = "passcode_codes_refused_total";
pub const VERIFICATIONS: &str = "passcode_verifications_total";
pub const SIGN_INS: &str = "passcode_sign_ins_total";
pub const SECOND_STEP_ANSWERS: &str = "passcode_second_step_answers_total";
pub const DELIVERIES: &str = "passcode_deliveries_total";
pub const DELIVERY_DURATION: &str = "passcode_delivery_duration_seconds";
pub const HASH_QUEUE: &str = "passcode_hash_queue_depth";
pub const HASH_WAIT: &str = "passcode_hash_wait_seconds";
pub const DB_CONNECTIONS: &str = "passcode_db_pool_connections";
pub const DB_MAX_CONNECTIONS: &str = "passcode_db_pool_max_connections";
pub const DB_ACQUIRE: &str = "passcode_db_pool_acquire_seconds";
pub const SESSIONS_LIVE: &str = "passcode_sessions_live";
pub const IP_LIMITS_SHARED: &str = "passcode_ip_limits_shared";
pub const IP_LIMITS_FALLBACKS: &str = "passcode_ip_limits_fallbacks_total";

/// Everything exported, in the order `docs/metrics.md` lists it.
pub const CATALOGUE: &[Metric] = &[
    Metric {
        name: HTTP_REQUESTS,
        kind: Kind::Counter,
        labels: &["route", "method", "status"],
        help: "HTTP requests answered, by route template, method and status class (2xx, 3xx, 4xx, 5xx).",
    },
    Metric {
        name: HTTP_DURATION,
        kind: Kind::Histogram,
        labels: &["route", "method"],
        help: "Time from request to response headers, by route template and method.",
    },
    Metric {
        name: CODES_REQUESTED,
        kind: Kind::Counter,
        labels: &["channel"],
        help: "Codes asked for (to sign in or to confirm), by channel: every one ends sent, withheld, refused or failed.",
    },
    Metric {
        name: CODES_SENT,
        kind: Kind::Counter,
        labels: &["channel"],
        help: "Codes handed to the mail server, SMS provider or outbox.",
    },
    Metric {
        name: CODES_WITHHELD,
        kind: Kind::Counter,
        labels: &["channel"],
        help: "Codes stored but not sent: the address was reported (\"Not you?\") and the browser never signed in to it.",
    },
    Metric {
        name: CODES_REFUSED,
        kind: Kind::Counter,
        labels: &["channel", "reason"],
        help: "Codes refused, by reason: per_ip, cooldown, hourly_cap, daily_cap, locked, sms_per_ip, sms_budget, \
               sms_country, sms_off, busy.",
    },
    Metric {
        name: VERIFICATIONS,
        kind: Kind::Counter,
        labels: &["via", "outcome"],
        help: "Codes typed and links used, by outcome: signed_in, second_step, wrong, burned, expired, superseded, used, \
               approved_elsewhere, reported, limited, malformed, unknown, busy, error.",
    },
    Metric {
        name: SIGN_INS,
        kind: Kind::Counter,
        labels: &["method"],
        help: "Sessions opened, by method: code, link, approved, passkey, and with a second step code+app, \
               link+backup and so on.",
    },
    Metric {
        name: SECOND_STEP_ANSWERS,
        kind: Kind::Counter,
        labels: &["outcome"],
        help: "Authenticator-app or backup codes given to finish a sign-in, by outcome: signed_in, wrong, ended, gone, \
               limited, malformed, busy, error.",
    },
    Metric {
        name: DELIVERIES,
        kind: Kind::Counter,
        labels: &["channel", "outcome"],
        help: "Messages handed to a way out, by channel and outcome (sent, failed).",
    },
    Metric {
        name: DELIVERY_DURATION,
        kind: Kind::Histogram,
        labels: &["channel"],
        help: "Time the mail server, SMS provider or outbox took to take a message (sent or failed).",
    },
    Metric {
        name: HASH_QUEUE,
        kind: Kind::Gauge,
        labels: &[],
        help: "Requests waiting for a turn at argon2 hashing now (PASSCODE_HASH_CONCURRENCY turns).",
    },
    Metric {
        name: HASH_WAIT,
        kind: Kind::Histogram,
        labels: &[],
        help: "Time a request waited for a turn at hashing (given up after PASSCODE_HASH_MAX_WAIT_MS: busy).",
    },
    Metric {
        name: DB_CONNECTIONS,
        kind: Kind::Gauge,
        labels: &["state"],
        help: "Database connections of this instance's pool, in_use or idle (sampled every 5 s).",
    },
    Metric {
        name: DB_MAX_CONNECTIONS,
        kind: Kind::Gauge,
        labels: &[],
        help: "The pool's ceiling (PASSCODE_DB_MAX_CONNECTIONS).",
    },
    Metric {
        name: DB_ACQUIRE,
        kind: Kind::Histogram,
        labels: &[],
        help: "Time to get a connection from the pool, measured by a probe every 5 s: the wait a request meets.",
    },
    Metric {
        name: SESSIONS_LIVE,
        kind: Kind::Gauge,
        labels: &[],
        help: "Sessions neither expired nor idle too long, in the whole database (sampled every 30 s).",
    },
    Metric {
        name: IP_LIMITS_SHARED,
        kind: Kind::Gauge,
        labels: &[],
        help: "1 while the per-IP limits are counted in Redis (PASSCODE_REDIS_URL), 0 while this instance counts on \
               its own because Redis can't be reached; absent without Redis.",
    },
    Metric {
        name: IP_LIMITS_FALLBACKS,
        kind: Kind::Counter,
        labels: &[],
        help: "Requests whose per-IP limit this instance decided on its own because Redis could not be reached.",
    },
];

/// Gives every metric its help text and unit once the recorder is in.
pub fn describe() {
    for m in CATALOGUE {
        match m.kind {
            Kind::Counter => metrics::describe_counter!(m.name, m.help),
            Kind::Gauge => metrics::describe_gauge!(m.name, m.help),
            Kind::Histogram => metrics::describe_histogram!(m.name, metrics::Unit::Seconds, m.help),
        }
    }
}

/// `route`: the route's template (`/sign-in/code`, `/api/verify_code`), or
/// a fixed word for requests no route matched.
pub fn http_request(route: &str, method: &'static str, status: u16, elapsed: Duration) {
    let class = match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    counter!(HTTP_REQUESTS, "route" => route.to_owned(), "method" => method, "status" => class).increment(1);
    histogram!(HTTP_DURATION, "route" => route.to_owned(), "method" => method).record(elapsed.as_secs_f64());
}

pub fn code_requested(channel: Channel) {
    counter!(CODES_REQUESTED, "channel" => channel.as_str()).increment(1);
}

pub fn code_sent(channel: Channel) {
    counter!(CODES_SENT, "channel" => channel.as_str()).increment(1);
}

pub fn code_withheld(channel: Channel) {
    counter!(CODES_WITHHELD, "channel" => channel.as_str()).increment(1);
}

/// Counts a refused code request, if `result` is one. Sent and withheld
/// codes are counted where they happen; a failed delivery is counted by
/// `delivery`, and anything unexpected by the HTTP metrics' 5xx.
pub fn code_refused_if<T>(channel: Channel, result: &Result<T, AuthError>) {
    let reason = match result {
        Err(AuthError::SendLimited { limit, .. } | AuthError::SmsUnavailable { limit }) => limit.as_str(),
        Err(AuthError::SmsCountryNotAllowed) => "sms_country",
        Err(AuthError::SmsNotOffered) => "sms_off",
        Err(AuthError::Busy | AuthError::Delivery { source: crate::auth::DeliveryError::Busy, .. }) => "busy",
        _ => return,
    };
    counter!(CODES_REFUSED, "channel" => channel.as_str(), "reason" => reason).increment(1);
}

/// How a typed code (`via` = code) or a used link (`via` = link) ended.
pub fn verification(via: &'static str, result: &Result<SignInOutcome, AuthError>) {
    let outcome = match result {
        Ok(SignInOutcome::Session(_)) => "signed_in",
        Ok(SignInOutcome::SecondStep { .. }) => "second_step",
        Err(e) => check_outcome(e),
    };
    counter!(VERIFICATIONS, "via" => via, "outcome" => outcome).increment(1);
}

/// How an answer to the authenticator step ended.
pub fn second_step_answer<T>(result: &Result<T, AuthError>) {
    let outcome = match result {
        Ok(_) => "signed_in",
        Err(AuthError::WrongSecondFactor) => "wrong",
        Err(AuthError::SecondStepEnded) => "ended",
        Err(AuthError::SecondStepGone) => "gone",
        Err(e) => check_outcome(e),
    };
    counter!(SECOND_STEP_ANSWERS, "outcome" => outcome).increment(1);
}

/// The bounded name of a failed check.
fn check_outcome(e: &AuthError) -> &'static str {
    match e {
        AuthError::WrongCode { .. } | AuthError::WrongSecondFactor => "wrong",
        AuthError::TooManyAttempts => "burned",
        AuthError::Expired => "expired",
        AuthError::Superseded => "superseded",
        AuthError::Used | AuthError::LinkUnusable | AuthError::LinkChanged => "used",
        AuthError::ApprovedElsewhere => "approved_elsewhere",
        AuthError::Reported => "reported",
        AuthError::VerifyLimited { .. } => "limited",
        AuthError::InvalidCode(_) | AuthError::AuthenticatorCodeShape => "malformed",
        AuthError::NoChallenge => "unknown",
        AuthError::Busy => "busy",
        _ => "error",
    }
}

pub fn signed_in(method: &'static str) {
    counter!(SIGN_INS, "method" => method).increment(1);
}

pub fn delivery(channel: Channel, sent: bool, elapsed: Duration) {
    let outcome = if sent { "sent" } else { "failed" };
    counter!(DELIVERIES, "channel" => channel.as_str(), "outcome" => outcome).increment(1);
    histogram!(DELIVERY_DURATION, "channel" => channel.as_str()).record(elapsed.as_secs_f64());
}

pub fn hash_queue(waiting: usize) {
    gauge!(HASH_QUEUE).set(waiting as f64);
}

pub fn hash_wait(waited: Duration) {
    histogram!(HASH_WAIT).record(waited.as_secs_f64());
}

/// The pool as sampled now: connections open, of them idle, and the ceiling.
pub fn db_pool(size: u32, idle: usize, max: u32) {
    let in_use = (size as usize).saturating_sub(idle);
    gauge!(DB_CONNECTIONS, "state" => "in_use").set(in_use as f64);
    gauge!(DB_CONNECTIONS, "state" => "idle").set(idle as f64);
    gauge!(DB_MAX_CONNECTIONS).set(f64::from(max));
}

pub fn db_acquire(waited: Duration) {
    histogram!(DB_ACQUIRE).record(waited.as_secs_f64());
}

pub fn ip_limits_shared(shared: bool) {
    gauge!(IP_LIMITS_SHARED).set(if shared { 1.0 } else { 0.0 });
}

pub fn ip_limits_fallback() {
    counter!(IP_LIMITS_FALLBACKS).increment(1);
}

pub fn sessions_live(count: i64) {
    gauge!(SESSIONS_LIVE).set(count as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prometheus_names_with_the_right_suffixes() {
        let mut seen = std::collections::HashSet::new();
        for m in CATALOGUE {
            assert!(seen.insert(m.name), "{} twice", m.name);
            assert!(m.name.starts_with("passcode_"), "{}", m.name);
            assert!(m.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{}", m.name);
            match m.kind {
                Kind::Counter => assert!(m.name.ends_with("_total"), "{}", m.name),
                Kind::Histogram => assert!(m.name.ends_with("_seconds"), "{}", m.name),
                Kind::Gauge => assert!(!m.name.ends_with("_total"), "{}", m.name),
            }
            // Never a label that could hold an address, an IP or an id.
            for label in m.labels {
                assert!(
                    ["route", "method", "status", "channel", "reason", "via", "outcome", "state"].contains(label),
                    "{} has an unexpected label {label}",
                    m.name
                );
            }
        }
    }
}
