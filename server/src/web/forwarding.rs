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

use app::web::ForwardedHeader;

/// Whether the warning has been given.
#[derive(Clone, Default)]
pub struct Warned(Arc<AtomicBool>);

pub async fn warn_once_about_untrusted_forwarding(State(warned): State<Warned>, req: Request, next: Next) -> Response {
    if !warned.0.load(Ordering::Relaxed)
        && let Some(header) = ForwardedHeader::ALL.iter().find(|h| req.headers().contains_key(h.name()))
        && !warned.0.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(
            header = header.name(),
            "a request came with a forwarding header and PASSCODE_TRUSTED_PROXIES is empty, so it was ignored: if a \
             reverse proxy is in front of Passcode, every client looks like the proxy to the per-IP limits and the \
             audit trail. Set PASSCODE_TRUSTED_PROXIES to its address and PASSCODE_FORWARDED_HEADER to the header it \
             writes (said once)"
        );
    }
    next.run(req).await
}
