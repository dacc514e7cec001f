//! The footer's language menu: plain links to `LANGUAGE_PATH`, so choosing
//! works without JavaScript. The choice is kept in a cookie and the person
//! goes back to the page they were on, which must be one of ours.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::HeaderMap;
use http::header::SET_COOKIE;
use serde::Deserialize;

use app::web::AppState;
use app::web::locale::{LANGUAGE_COOKIE, LANGUAGE_COOKIE_SECS};

pub use app::LANGUAGE_PATH;

#[derive(Deserialize)]
pub struct Choice {
    set: Option<String>,
    back: Option<String>,
}

/// Sets the language and goes back. An unknown language changes nothing.
/// Only a link followed on our own pages (or typed) sets it: a link from
/// another site merely leads back to the page, so nobody can switch a
/// stranger's language for them.
pub async fn choose(State(app): State<AppState>, Query(choice): Query<Choice>, headers: HeaderMap) -> Response {
    let back = choice.back.as_deref().and_then(app::checked_page).unwrap_or_else(|| "/sign-in".to_owned());
    let mut res = Redirect::to(&back).into_response();
    let locale = choice.set.as_deref().and_then(app::i18n::parse);
    if let (Some(locale), true) = (locale, from_our_pages(&headers, &app.auth.settings().public_url)) {
        let cookie = app::web::cookie(LANGUAGE_COOKIE, app::i18n::tag(locale).to_owned(), LANGUAGE_COOKIE_SECS);
        if let Ok(v) = http::HeaderValue::from_str(&cookie.to_string()) {
            res.headers_mut().append(SET_COOKIE, v);
        }
    }
    res
}

/// Fetch metadata says where the navigation came from (`none`: typed or
/// bookmarked). A browser too old to send it sends a `Referer` (our pages
/// ask for `strict-origin-when-cross-origin`): then it must be one of our
/// pages; with neither, nothing is set.
fn from_our_pages(headers: &HeaderMap, public_origin: &str) -> bool {
    match headers.get("sec-fetch-site") {
        Some(site) => matches!(site.to_str(), Ok("same-origin") | Ok("none")),
        None => headers
            .get(http::header::REFERER)
            .and_then(|r| r.to_str().ok())
            .and_then(|r| url::Url::parse(r).ok())
            .is_some_and(|r| {
                r.origin().ascii_serialization().eq_ignore_ascii_case(public_origin.trim_end_matches('/'))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), http::HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn only_our_own_pages_or_a_typed_address_choose() {
        let ours = "https://login.example.com";
        for (pairs, want) in [
            (&[("sec-fetch-site", "same-origin")][..], true),
            (&[("sec-fetch-site", "none")][..], true),
            (&[("sec-fetch-site", "cross-site"), ("referer", "https://login.example.com/sign-in")][..], false),
            (&[("sec-fetch-site", "same-site")][..], false),
            (&[("referer", "https://login.example.com/verify")][..], true),
            (&[("referer", "https://evil.example/login.example.com")][..], false),
            (&[("referer", "https://login.example.com.evil.example/")][..], false),
            (&[][..], false),
        ] {
            assert_eq!(from_our_pages(&headers(pairs), ours), want, "{pairs:?}");
        }
    }
}
