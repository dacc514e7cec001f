//! A reverse proxy nobody told us about. With `PASSCODE_TRUSTED_PROXIES`
//! empty every forwarding header is ignored (correctly: anyone can write
//! one), but a request that carries one is a sign that a proxy may be in
//! front after all, in which case every client looks like the proxy to the
//! per-IP limits and the audit trail. The first such request is logged, once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

const FORWARDING: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

/// Whether the warning has been given.
#[derive(Clone, Default)]
pub struct Warned(Arc<AtomicBool>);

pub async fn warn_once_about_untrusted_forwarding(State(warned): State<Warned>, req: Request, next: Next) -> Response {
    if !warned.0.load(Ordering::Relaxed)
        && let Some(name) = FORWARDING.iter().find(|h| req.headers().contains_key(**h))
        && !warned.0.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(
            header = name,
            "a request came with a forwarding header and PASSCODE_TRUSTED_PROXIES is empty, so it was ignored: if a \
             reverse proxy is in front of Passcode, every client looks like the proxy to the per-IP limits and the \
             audit trail. Set PASSCODE_TRUSTED_PROXIES to its address and PASSCODE_FORWARDED_HEADER to the header it \
             writes (said once)"
        );
    }
    next.run(req).await
}

/// This machine, as a TCP peer (an IPv4 peer on a dual-stack socket comes
/// as `::ffff:127.0.0.1`).
pub fn is_loopback_peer(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        v4 => v4.is_loopback(),
    }
}
