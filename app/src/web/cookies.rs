//! Our cookies: their names, how they are read, and the one way they are
//! written.

use cookie::{Cookie, SameSite};
use http::header::{COOKIE, SET_COOKIE};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::domain::{ChallengeId, DeviceCookie, LinkToken, Notice, SessionToken};

use super::state::parts;

/// The `__Host-` prefix makes the browser insist on Secure, Path=/ and no
/// Domain, so a sibling sub-domain cannot plant or overwrite these cookies.
pub const SESSION_COOKIE: &str = "__Host-passcode_session";
pub const PENDING_COOKIE: &str = "__Host-passcode_pending";
/// A sign-in link's token, between opening the link and pressing "Sign in".
pub const LINK_COOKIE: &str = "__Host-passcode_link";
/// The addresses this browser has signed in as (signed, opaque): its
/// requests for them are limited on their own (see `domain::DeviceCookie`).
pub const DEVICE_COOKIE: &str = "__Host-passcode_device";
/// A one-time notice for the code page (see `api::Notice`).
pub const NOTICE_COOKIE: &str = "__Host-passcode_notice";
/// Long enough for the redirect back to the page, short enough that a
/// later visit never shows it.
const NOTICE_SECS: i64 = 60;
/// A year: a browser that signed in once stays known for as long as most
/// browsers keep a cookie.
pub const DEVICE_COOKIE_SECS: i64 = 365 * 24 * 3600;

/// A cookie's value from request headers; of several with one name, the
/// first (browsers send the most specific first).
pub fn cookie_in(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

pub(super) fn cookie_value(name: &str) -> Option<String> {
    cookie_in(&parts()?.headers, name)
}

/// A cookie that is missing or malformed is simply absent.
pub fn session_token() -> Option<SessionToken> {
    cookie_value(SESSION_COOKIE).and_then(|v| SessionToken::parse(&v).ok())
}

pub fn pending_challenge_id() -> Option<ChallengeId> {
    cookie_value(PENDING_COOKIE).and_then(|v| ChallengeId::parse(&v).ok())
}

pub fn link_token() -> Option<LinkToken> {
    cookie_value(LINK_COOKIE).and_then(|v| LinkToken::parse(&v).ok())
}

/// Every cookie we set: script can't read it, it travels only over HTTPS
/// (browsers treat http://localhost as secure), and cross-site requests
/// other than top-level navigations don't carry it.
pub fn cookie(name: &'static str, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build()
}

fn set_cookie(name: &'static str, value: String, max_age_secs: i64) {
    let cookie = cookie(name, value, max_age_secs);
    if let (Some(res), Ok(value)) = (use_context::<ResponseOptions>(), http::HeaderValue::from_str(&cookie.to_string()))
    {
        res.append_header(SET_COOKIE, value);
    }
}

pub fn set_session_cookie(token: &SessionToken, max_age_secs: i64) {
    set_cookie(SESSION_COOKIE, token.expose().to_owned(), max_age_secs);
}

pub fn set_pending_cookie(id: &ChallengeId, max_age_secs: i64) {
    set_cookie(PENDING_COOKIE, id.as_ref().to_owned(), max_age_secs);
}

pub fn set_device_cookie(device: &DeviceCookie) {
    set_cookie(DEVICE_COOKIE, device.expose(), DEVICE_COOKIE_SECS);
}

pub fn clear_session_cookie() {
    set_cookie(SESSION_COOKIE, String::new(), 0);
}

pub fn clear_pending_cookie() {
    set_cookie(PENDING_COOKIE, String::new(), 0);
}

pub fn set_notice(notice: Notice) {
    set_cookie(NOTICE_COOKIE, notice.as_str().to_owned(), NOTICE_SECS);
}

/// The notice left for this page, if any; it is shown once.
pub fn take_notice() -> Option<Notice> {
    let value = cookie_value(NOTICE_COOKIE)?;
    set_cookie(NOTICE_COOKIE, String::new(), 0);
    Notice::parse(&value)
}

/// Sign-out: the browser drops every cookie and all storage of this
/// origin, not only the ones we name.
pub fn clear_site_data() {
    if let Some(res) = use_context::<ResponseOptions>() {
        res.insert_header(
            http::HeaderName::from_static("clear-site-data"),
            http::HeaderValue::from_static("\"cookies\", \"storage\""),
        );
    }
}

pub fn clear_link_cookie() {
    set_cookie(LINK_COOKIE, String::new(), 0);
}
