//! Refuses cross-site requests that could change state. Leptos server
//! functions do no such check themselves, and without it any web page could
//! post a form to `verify_code` and sign a visitor in as the attacker
//! (login CSRF).
//!
//! The rule (the same as Go's `http.CrossOriginProtection`): safe methods
//! pass; otherwise `Sec-Fetch-Site: same-origin` or `none` passes and any
//! other value is refused; without that header an `Origin` must equal the
//! public origin; a request with neither header did not come from a browser
//! page and passes (cookies are SameSite=Lax as a second line).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};

#[derive(Clone)]
pub struct AllowedOrigin(pub std::sync::Arc<str>);

pub async fn cross_site_guard(State(origin): State<AllowedOrigin>, req: Request, next: Next) -> Response {
    if is_allowed(req.method(), req.headers(), &origin.0) {
        return next.run(req).await;
    }
    tracing::warn!(method = %req.method(), path = %req.uri().path(), "refused a cross-site request");
    // In the language the person's pages are in.
    let l = app::web::locale_in(req.headers());
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CONTENT_LANGUAGE, app::i18n::tag(l))],
        app::i18n::words::cross_site_refused(l),
    )
        .into_response()
}

fn is_allowed(method: &Method, headers: &http::HeaderMap, public_origin: &str) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin") | Ok("none"));
    }
    match headers.get(header::ORIGIN) {
        Some(origin) => origin.to_str().is_ok_and(|o| o.eq_ignore_ascii_case(public_origin)),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), http::HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn decides_by_fetch_metadata_then_origin() {
        let o = "https://login.example.com";
        let post = Method::POST;
        assert!(is_allowed(&post, &headers(&[("sec-fetch-site", "same-origin")]), o));
        assert!(is_allowed(&post, &headers(&[("sec-fetch-site", "none")]), o));
        assert!(!is_allowed(&post, &headers(&[("sec-fetch-site", "cross-site")]), o));
        assert!(!is_allowed(&post, &headers(&[("sec-fetch-site", "same-site")]), o));
        // Fetch metadata wins over a matching Origin.
        assert!(!is_allowed(
            &post,
            &headers(&[("sec-fetch-site", "cross-site"), ("origin", "https://login.example.com")]),
            o
        ));
        assert!(is_allowed(&post, &headers(&[("origin", "https://login.example.com")]), o));
        assert!(!is_allowed(&post, &headers(&[("origin", "https://evil.example")]), o));
        assert!(!is_allowed(&post, &headers(&[("origin", "null")]), o));
        assert!(is_allowed(&post, &headers(&[]), o));
        assert!(is_allowed(&Method::GET, &headers(&[("sec-fetch-site", "cross-site")]), o));
    }
}
