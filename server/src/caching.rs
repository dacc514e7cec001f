//! Cache rules for everything that is not a static file (those set their
//! own, `assets.rs`): nothing personal is ever stored by any cache, and
//! nothing else is reused without asking the server first.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use http::header::{CACHE_CONTROL, SET_COOKIE};

use app::state::{LINK_COOKIE, NOTICE_COOKIE, PENDING_COOKIE, SESSION_COOKIE, cookie_in};

/// Cookies whose presence can change what a page says.
const PERSONAL_COOKIES: [&str; 4] = [SESSION_COOKIE, PENDING_COOKIE, LINK_COOKIE, NOTICE_COOKIE];

/// `no-store` for server-function answers, for responses that set a cookie
/// and for requests that carry a session or a challenge; `no-cache` (reuse
/// only after the server confirms) for the rest, such as the sign-in page of
/// a stranger. A handler that chose its own `Cache-Control` keeps it.
pub async fn default_cache_control(req: Request, next: Next) -> Response {
    let personal = req.uri().path().starts_with("/api/")
        || PERSONAL_COOKIES.iter().any(|name| cookie_in(req.headers(), name).is_some());
    let mut res = next.run(req).await;
    if !res.headers().contains_key(CACHE_CONTROL) {
        let value = if personal || res.headers().contains_key(SET_COOKIE) { "no-store" } else { "no-cache" };
        res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static(value));
    }
    res
}
