//! The links in messages: the sign-in link from the email, and the "Not
//! you?" link in every email and text message. Opening one (GET) uses
//! nothing up: mail scanners such as Microsoft Safe Links open every link in
//! every message. The token moves into a short-lived cookie (out of the
//! address bar, the history and any Referer) and the browser lands on a page
//! whose buttons act with a POST.
//!
//! Also here: what the waiting code page polls while a sign-in may be
//! approved on another device.

use axum::extract::Request;
use axum::response::{IntoResponse, Redirect, Response};
use http::HeaderValue;
use http::header::{CACHE_CONTROL, REFERRER_POLICY, SET_COOKIE};

use app::domain::{ChallengeId, LinkToken, ReportToken};
use app::web::{AppState, LINK_COOKIE, PENDING_COOKIE, REPORT_COOKIE, cookie, cookie_in};

/// Where the link's confirmation page lives (a Leptos route).
pub const CONFIRM_PATH: &str = "/sign-in/confirm";
/// Where the "Not you?" page lives (a Leptos route).
pub const REPORT_PAGE_PATH: &str = app::NOT_YOU_PATH;
/// What the waiting code page polls.
pub const APPROVAL_PATH: &str = app::APPROVAL_STATUS_PATH;

/// Long enough to read the page and press the button; the challenge's own
/// expiry still applies.
const LINK_COOKIE_SECS: i64 = 15 * 60;

fn query_value(req: &Request, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

pub async fn open_link(req: Request) -> Response {
    let token = query_value(&req, "token").and_then(|value| LinkToken::parse(&value).ok());
    // A malformed token is dropped here; the page then says the link can't be
    // used, as it does for an expired one.
    let value = token.map(|t| t.expose().to_owned());
    to_page_with(LINK_COOKIE, value, CONFIRM_PATH)
}

/// The "Not you?" link (`/n?t=…`).
pub async fn open_report_link(req: Request) -> Response {
    let token = query_value(&req, "t").and_then(|value| ReportToken::parse(&value).ok());
    let value = token.map(|t| t.expose().to_owned());
    to_page_with(REPORT_COOKIE, value, REPORT_PAGE_PATH)
}

/// Where this browser's sign-in stands while it waits for an approval from
/// another device, as server-sent events (the code page's `EventSource`).
/// Each connection is answered at once and ended, so nothing is held open:
/// while the sign-in waits, with no event, only `retry:` (how long the
/// browser waits before it connects again: 2 s, then half as long again
/// each time, counted by the `id:` it sends back as `Last-Event-ID`, up to
/// 10 s); once approved, with the event `approved`, on which the page
/// posts its form. Used, expired, replaced or ended: `204`, which tells an
/// `EventSource` to stop, and the page stays as it is (a page that reloaded
/// by itself when a code expired would snatch the field from under a person
/// typing). Reads one row by the pending cookie's id; changes nothing.
pub async fn approval_status(axum::extract::State(state): axum::extract::State<AppState>, req: Request) -> Response {
    let id = cookie_in(req.headers(), PENDING_COOKIE).and_then(|v| ChallengeId::parse(&v).ok());
    let asked: u32 = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(20);
    let status = match id {
        None => Ok(app::auth::Approval::Closed),
        Some(id) => state.auth.approval(&id).await,
    };
    let body = match status {
        Ok(app::auth::Approval::Waiting) => {
            let retry_ms = (2000.0 * 1.5f64.powi(asked as i32)).min(10_000.0) as u64;
            format!("retry: {retry_ms}\nid: {}\n\n", asked + 1)
        }
        Ok(app::auth::Approval::Approved) => "data: approved\n\n".to_owned(),
        Ok(app::auth::Approval::Closed) => return http::StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            // The browser stops asking; the page's button still works.
            tracing::error!(error = %e, "could not read a sign-in's approval state");
            return (http::StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response();
        }
    };
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Moves a link's token into the cookie `name` (or clears it, for a
/// malformed one) and goes to the page that acts on it.
fn to_page_with(name: &'static str, token: Option<String>, page: &str) -> Response {
    let cookie = match token {
        Some(token) => cookie(name, token, LINK_COOKIE_SECS),
        None => cookie(name, String::new(), 0),
    };
    let mut res = Redirect::to(page).into_response();
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        headers.append(SET_COOKIE, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}
