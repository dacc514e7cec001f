//! The footer's language menu: plain links to `LANGUAGE_PATH`, so choosing
//! works without JavaScript. The choice is kept in a cookie and the person
//! goes back to the page they were on, which must be one of ours.

use axum::extract::Query;
use axum::response::{IntoResponse, Redirect, Response};
use http::HeaderMap;
use http::header::SET_COOKIE;
use serde::Deserialize;

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
pub async fn choose(Query(choice): Query<Choice>, headers: HeaderMap) -> Response {
    let back = choice.back.as_deref().and_then(app::checked_page).unwrap_or_else(|| "/sign-in".to_owned());
    let mut res = Redirect::to(&back).into_response();
    let locale = choice.set.as_deref().and_then(app::i18n::parse);
    if let (Some(locale), true) = (locale, from_our_pages(&headers)) {
        let cookie = app::web::cookie(LANGUAGE_COOKIE, app::i18n::tag(locale).to_owned(), LANGUAGE_COOKIE_SECS);
        if let Ok(v) = http::HeaderValue::from_str(&cookie.to_string()) {
            res.headers_mut().append(SET_COOKIE, v);
        }
    }
    res
}

/// Fetch metadata says where the navigation came from; browsers without
/// it are let through, as the cross-site guard does for form posts.
fn from_our_pages(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-site") {
        Some(site) => matches!(site.to_str(), Ok("same-origin") | Ok("none")),
        None => true,
    }
}
