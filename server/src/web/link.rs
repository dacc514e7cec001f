//! The sign-in link from the email. Opening it (GET) uses nothing up: mail
//! scanners such as Microsoft Safe Links open every link in every message.
//! The token moves into a short-lived cookie (out of the address bar, the
//! history and any Referer) and the browser lands on a page whose one button
//! signs in with a POST.

use axum::extract::Request;
use axum::response::{IntoResponse, Redirect, Response};
use http::HeaderValue;
use http::header::{CACHE_CONTROL, REFERRER_POLICY, SET_COOKIE};

use app::domain::LinkToken;
use app::web::{LINK_COOKIE, cookie};

/// Where the link's confirmation page lives (a Leptos route).
pub const CONFIRM_PATH: &str = "/sign-in/confirm";

/// Long enough to read the page and press the button; the challenge's own
/// expiry still applies.
const LINK_COOKIE_SECS: i64 = 15 * 60;

pub async fn open_link(req: Request) -> Response {
    let token = url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "token")
        .and_then(|(_, value)| LinkToken::parse(&value).ok());
    // A malformed token is dropped here; the page then says the link can't be
    // used, as it does for an expired one.
    let cookie = match token {
        Some(token) => cookie(LINK_COOKIE, token.expose().to_owned(), LINK_COOKIE_SECS),
        None => cookie(LINK_COOKIE, String::new(), 0),
    };
    let mut res = Redirect::to(CONFIRM_PATH).into_response();
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        headers.append(SET_COOKIE, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}
