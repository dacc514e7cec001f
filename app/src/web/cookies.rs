//! Our cookies: their names, how they are read, and the one way they are
//! written.

use cookie::{Cookie, SameSite};
use http::header::{COOKIE, SET_COOKIE};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::domain::{ChallengeId, DeviceCookie, LinkToken, Notice, ReturnRules, ReturnTo, SessionToken};

use super::state::{AppState, parts};

/// The `__Host-` prefix makes the browser insist on Secure, Path=/ and no
/// Domain, so a sibling sub-domain cannot plant or overwrite these cookies.
pub const SESSION_COOKIE: &str = "__Host-passcode_session";
/// The session cookie with `PASSCODE_COOKIE_DOMAIN`: it must carry a
/// `Domain`, which `__Host-` forbids; `__Secure-` still makes the browser
/// insist on Secure.
pub const DOMAIN_SESSION_COOKIE: &str = "__Secure-passcode_session";
/// Where to go after signing in (a checked `rd`), between asking for a code
/// and signing in, in the browser that asked.
pub const RETURN_COOKIE: &str = "__Host-passcode_return";
pub const PENDING_COOKIE: &str = "__Host-passcode_pending";
/// A sign-in link's token, between opening the link and pressing "Sign in".
pub const LINK_COOKIE: &str = "__Host-passcode_link";
/// The "Not you?" link's token, moved out of the address bar like the
/// sign-in link's.
pub const REPORT_COOKIE: &str = "__Host-passcode_report";
/// The addresses this browser has signed in as (signed, opaque): its
/// requests for them are limited on their own (see `domain::DeviceCookie`).
pub const DEVICE_COOKIE: &str = "__Host-passcode_device";
/// A one-time notice for the code page (see `api::Notice`).
pub const NOTICE_COOKIE: &str = "__Host-passcode_notice";
/// The nonce that signs the no-JavaScript error redirects
/// (`server/src/web/form_errors.rs`).
pub const FORM_ERROR_COOKIE: &str = "__Host-passcode_form_error";
/// A WebAuthn ceremony between its start and its finish (see
/// `auth::passkeys`): the token whose hash finds its state.
pub const CEREMONY_COOKIE: &str = "__Host-passcode_ceremony";
/// This browser holds a passkey for the account the value names (a keyed
/// hash of its id): no offer to make one after a sign-in by code.
pub const PASSKEY_HERE_COOKIE: &str = "__Host-passcode_passkey";
/// "Not now" to the passkey offer, for 30 days.
pub const PASSKEY_LATER_COOKIE: &str = "__Host-passcode_passkey_later";
pub const PASSKEY_LATER_SECS: i64 = 30 * 24 * 3600;
/// The code this browser asked for to confirm a signed-in session (kept
/// apart from the pending sign-in code: it opens no session).
pub const CONFIRM_COOKIE: &str = "__Host-passcode_confirm";
/// A sign-in waiting for the authenticator app's code (see
/// `auth::authenticator`): the token whose hash finds it.
pub const SECOND_STEP_COOKIE: &str = "__Host-passcode_second_step";
/// Backup codes just made, sealed for this session, between the post that
/// made them and the page that shows them once (which clears it).
pub const BACKUP_CODES_COOKIE: &str = "__Host-passcode_backup_codes";
const BACKUP_CODES_SECS: i64 = 600;
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

/// How the session cookie is named and scoped: host-only by default, or for
/// a whole domain (`PASSCODE_COOKIE_DOMAIN`) so that apps under it behind
/// forward auth see the same sign-in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionCookie {
    pub domain: Option<String>,
}

impl SessionCookie {
    pub fn name(&self) -> &'static str {
        if self.domain.is_some() { DOMAIN_SESSION_COOKIE } else { SESSION_COOKIE }
    }

    /// The session token in request headers; missing or malformed is absent.
    pub fn token_in(&self, headers: &http::HeaderMap) -> Option<SessionToken> {
        cookie_in(headers, self.name()).and_then(|v| SessionToken::parse(&v).ok())
    }

    /// The cookie itself (`value` empty and `max_age_secs` 0 to remove it).
    pub fn build(&self, value: String, max_age_secs: i64) -> Cookie<'static> {
        let mut c = cookie(self.name(), value, max_age_secs);
        if let Some(domain) = &self.domain {
            c.set_domain(domain.clone());
        }
        c
    }
}

/// A cookie that is missing or malformed is simply absent.
pub fn session_token() -> Option<SessionToken> {
    let jar = use_context::<AppState>().map(|s| s.session_cookie.clone()).unwrap_or_default();
    jar.token_in(&parts()?.headers)
}

pub fn pending_challenge_id() -> Option<ChallengeId> {
    cookie_value(PENDING_COOKIE).and_then(|v| ChallengeId::parse(&v).ok())
}

pub fn confirm_challenge_id() -> Option<ChallengeId> {
    cookie_value(CONFIRM_COOKIE).and_then(|v| ChallengeId::parse(&v).ok())
}

pub fn set_confirm_cookie(id: &ChallengeId, max_age_secs: i64) {
    set_cookie(CONFIRM_COOKIE, id.as_ref().to_owned(), max_age_secs);
}

pub fn clear_confirm_cookie() {
    if cookie_value(CONFIRM_COOKIE).is_some() {
        set_cookie(CONFIRM_COOKIE, String::new(), 0);
    }
}

pub fn passkey_here_mark() -> Option<String> {
    cookie_value(PASSKEY_HERE_COOKIE)
}

/// Whether this browser said "Not now" to the passkey offer lately.
pub fn passkey_later() -> bool {
    cookie_value(PASSKEY_LATER_COOKIE).is_some()
}

pub fn set_passkey_later() {
    set_cookie(PASSKEY_LATER_COOKIE, "1".to_owned(), PASSKEY_LATER_SECS);
}

pub fn report_token() -> Option<crate::domain::ReportToken> {
    cookie_value(REPORT_COOKIE).and_then(|v| crate::domain::ReportToken::parse(&v).ok())
}

pub fn clear_report_cookie() {
    set_cookie(REPORT_COOKIE, String::new(), 0);
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
    append_cookie(cookie(name, value, max_age_secs));
}

fn append_cookie(cookie: Cookie<'static>) {
    if let (Some(res), Ok(value)) = (use_context::<ResponseOptions>(), http::HeaderValue::from_str(&cookie.to_string()))
    {
        res.append_header(SET_COOKIE, value);
    }
}

pub fn set_session_cookie(jar: &SessionCookie, token: &SessionToken, max_age_secs: i64) {
    append_cookie(jar.build(token.expose().to_owned(), max_age_secs));
}

pub fn second_step_token() -> Option<crate::domain::SecondStepToken> {
    cookie_value(SECOND_STEP_COOKIE).and_then(|v| crate::domain::SecondStepToken::parse(&v).ok())
}

pub fn set_second_step_cookie(token: &crate::domain::SecondStepToken, max_age_secs: i64) {
    set_cookie(SECOND_STEP_COOKIE, token.expose().to_owned(), max_age_secs);
}

pub fn clear_second_step_cookie() {
    if cookie_value(SECOND_STEP_COOKIE).is_some() {
        set_cookie(SECOND_STEP_COOKIE, String::new(), 0);
    }
}

pub fn set_backup_codes_cookie(sealed: String) {
    set_cookie(BACKUP_CODES_COOKIE, sealed, BACKUP_CODES_SECS);
}

/// The sealed backup codes left for this page, if any; shown once.
pub fn take_backup_codes_cookie() -> Option<String> {
    let value = cookie_value(BACKUP_CODES_COOKIE)?;
    set_cookie(BACKUP_CODES_COOKIE, String::new(), 0);
    Some(value)
}

pub fn set_pending_cookie(id: &ChallengeId, max_age_secs: i64) {
    set_cookie(PENDING_COOKIE, id.as_ref().to_owned(), max_age_secs);
}

pub fn set_device_cookie(device: &DeviceCookie) {
    set_cookie(DEVICE_COOKIE, device.expose(), DEVICE_COOKIE_SECS);
}

pub fn clear_session_cookie(jar: &SessionCookie) {
    append_cookie(jar.build(String::new(), 0));
}

/// Remembers where to go after signing in. The value is the checked URL,
/// base64url-encoded (a URL may hold characters a cookie value can't).
pub fn set_return_cookie(to: &ReturnTo, max_age_secs: i64) {
    use base64::Engine;
    set_cookie(RETURN_COOKIE, base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(to.as_str()), max_age_secs);
}

/// Forgets where to go after signing in, if this browser had a place.
pub fn clear_return_cookie() {
    if cookie_value(RETURN_COOKIE).is_some() {
        set_cookie(RETURN_COOKIE, String::new(), 0);
    }
}

/// Where this browser asked to go after signing in, checked again against
/// today's rules (a cookie is only as good as the rules when it is read).
pub fn return_to(rules: &ReturnRules) -> Option<ReturnTo> {
    return_to_in(&parts()?.headers, rules)
}

/// `return_to` from request headers (for plain axum handlers).
pub fn return_to_in(headers: &http::HeaderMap, rules: &ReturnRules) -> Option<ReturnTo> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cookie_in(headers, RETURN_COOKIE)?).ok()?;
    rules.parse(std::str::from_utf8(&raw).ok()?)
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

/// Sign-out: the browser drops its cache and storage of this origin, and
/// every cookie of ours but the device cookie, each by name. Not
/// `Clear-Site-Data: "cookies"`: that would drop the device cookie too (the
/// owner's own allowance, which a stranger can't spend) and, as browsers
/// apply it, every cookie of the whole registrable domain.
pub fn sign_out_browser(jar: &SessionCookie) {
    if let Some(res) = use_context::<ResponseOptions>() {
        res.insert_header(
            http::HeaderName::from_static("clear-site-data"),
            http::HeaderValue::from_static("\"cache\", \"storage\""),
        );
    }
    clear_session_cookie(jar);
    for name in [
        PENDING_COOKIE,
        LINK_COOKIE,
        RETURN_COOKIE,
        NOTICE_COOKIE,
        FORM_ERROR_COOKIE,
        CEREMONY_COOKIE,
        CONFIRM_COOKIE,
        SECOND_STEP_COOKIE,
        BACKUP_CODES_COOKIE,
    ] {
        if cookie_value(name).is_some() {
            set_cookie(name, String::new(), 0);
        }
    }
}

pub fn clear_link_cookie() {
    set_cookie(LINK_COOKIE, String::new(), 0);
}
