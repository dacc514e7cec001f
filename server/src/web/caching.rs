//! Cache rules for everything that is not a static file (those set their
//! own, `assets.rs`): nothing personal is ever stored by any cache, and
//! nothing else is reused without asking the server first.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use cookie::Cookie;
use http::HeaderValue;
use http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE, VARY};

use app::web::{DEVICE_COOKIE, LANGUAGE_COOKIE};

/// `no-store` for server-function answers, for responses that set a cookie
/// and for requests that carry any cookie but the device cookie (which only
/// decides whose allowance an attempt counts against, never what a page
/// says) and the language cookie (which decides only the words, for
/// everyone alike: `Vary: Cookie` covers it); `no-cache` (reuse only after the server confirms) for the rest,
/// such as the sign-in page of a stranger. Failing closed: a cookie added
/// later is personal until someone says otherwise here. A handler that
/// chose its own `Cache-Control` keeps it. A page's words follow the
/// browser's languages and the language cookie, so what may be reused says
/// so (`Vary`), and a cache never hands a German page to an English browser.
pub async fn default_cache_control(req: Request, next: Next) -> Response {
    let personal = req.uri().path().starts_with("/api/") || carries_personal_cookie(req.headers());
    let mut res = next.run(req).await;
    if !res.headers().contains_key(CACHE_CONTROL) {
        let value = if personal || res.headers().contains_key(SET_COOKIE) { "no-store" } else { "no-cache" };
        res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static(value));
        if value == "no-cache" {
            res.headers_mut().append(VARY, HeaderValue::from_static("Accept-Language, Cookie"));
        }
    }
    res
}

fn carries_personal_cookie(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .any(|c| !matches!(c, Ok(ref c) if c.name() == DEVICE_COOKIE || c.name() == LANGUAGE_COOKIE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &'static str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn any_cookie_but_the_device_and_language_cookies_is_personal() {
        assert!(!carries_personal_cookie(&http::HeaderMap::new()));
        assert!(!carries_personal_cookie(&with_cookie("__Host-passcode_device=abc")));
        assert!(!carries_personal_cookie(&with_cookie("__Host-passcode_device=abc; __Host-passcode_lang=de")));
        assert!(carries_personal_cookie(&with_cookie("__Host-passcode_lang=de; __Host-passcode_session=t")));
        assert!(carries_personal_cookie(&with_cookie("__Host-passcode_device=abc; __Host-passcode_form_error=n")));
        assert!(carries_personal_cookie(&with_cookie("__Host-passcode_session=t")));
        assert!(carries_personal_cookie(&with_cookie("anything=else")));
    }
}
