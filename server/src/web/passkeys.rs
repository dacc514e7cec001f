//! The passkey ceremonies over HTTP, for the passkey island: each is a
//! pair of POSTs, `…/options` (start: the WebAuthn options as JSON, and the
//! ceremony's cookie) and the finish (the browser's answer as JSON). The
//! auth core decides; these read the request's facts and write cookies.
//!
//! Answers are JSON: `{"go": "/path"}` where the browser goes next, or
//! `{"error": "words for the person"}` with the error's status (and `go`
//! when the person must go somewhere first, as to confirm it's them).
//! Cross-site posts never get here (`guard::cross_site_guard`).

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, SET_COOKIE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;

use app::auth::{CEREMONY_MS, CeremonyStart, NewSession};
use app::domain::{AppError, CeremonyToken, SessionToken};
use app::web::{
    AppState, CEREMONY_COOKIE, DEVICE_COOKIE, DEVICE_COOKIE_SECS, NOTICE_COOKIE, PASSKEY_HERE_COOKIE, PENDING_COOKIE,
    RETURN_COOKIE, cookie, cookie_in, request_context_in, return_to_in,
};

use app::api::CONFIRM_PAGE_PATH as CONFIRM_PAGE;
/// A year, as the device cookie: the browser keeps its passkey that long.
const PASSKEY_HERE_SECS: i64 = 365 * 24 * 3600;

/// What every answer is built from.
pub struct Answer {
    status: StatusCode,
    body: serde_json::Value,
    cookies: Vec<cookie::Cookie<'static>>,
}

impl Answer {
    fn go(to: &str) -> Self {
        Self { status: StatusCode::OK, body: serde_json::json!({ "go": to }), cookies: Vec::new() }
    }

    fn options(start: CeremonyStart) -> Self {
        let body = serde_json::from_str(&start.options).unwrap_or(serde_json::Value::Null);
        let secs = CEREMONY_MS / 1000;
        Self {
            status: StatusCode::OK,
            body,
            cookies: vec![cookie(CEREMONY_COOKIE, start.token.expose().to_owned(), secs)],
        }
    }

    /// The one mapping of a failure: the core's error, in the words and
    /// status every page uses (in the language of the page that asked: the
    /// island shows these words as they are), and where to go when the
    /// person must first confirm it's them.
    fn failed(parts: &Parts, e: app::auth::AuthError) -> Self {
        let e = AppError::from(e);
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let words = app::i18n::words::error(&e, app::web::locale_in(&parts.headers));
        let body = match e {
            AppError::ProofNeeded => serde_json::json!({ "error": words, "go": CONFIRM_PAGE }),
            _ => serde_json::json!({ "error": words }),
        };
        Self { status, body, cookies: Vec::new() }
    }

    fn with(mut self, c: cookie::Cookie<'static>) -> Self {
        self.cookies.push(c);
        self
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body)).into_response();
        let headers = res.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for c in self.cookies {
            if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
                headers.append(SET_COOKIE, v);
            }
        }
        res
    }
}

fn expired(name: &'static str) -> cookie::Cookie<'static> {
    cookie(name, String::new(), 0)
}

fn ceremony_in(headers: &HeaderMap) -> Option<CeremonyToken> {
    cookie_in(headers, CEREMONY_COOKIE).and_then(|v| CeremonyToken::parse(&v).ok())
}

fn session_in(app: &AppState, headers: &HeaderMap) -> Option<SessionToken> {
    app.session_cookie.token_in(headers)
}

fn ctx(app: &AppState, parts: &Parts) -> app::auth::RequestContext {
    request_context_in(parts, &app.proxies, &app.session_cookie)
}

/// Starts a passkey sign-in (the sign-in page's autofill and its button).
pub async fn sign_in_options(State(app): State<AppState>, parts: Parts) -> Answer {
    match app.auth.start_passkey_sign_in(&ctx(&app, &parts)).await {
        Ok(start) => Answer::options(start),
        Err(e) => Answer::failed(&parts, e),
    }
}

#[derive(Deserialize)]
pub struct SignInQuery {
    /// Where to go after signing in, as the sign-in page was given it.
    rd: Option<String>,
}

/// Finishes a passkey sign-in: the same cookies and destination as a code.
pub async fn sign_in(State(app): State<AppState>, Query(q): Query<SignInQuery>, parts: Parts, body: String) -> Answer {
    let Some(ceremony) = ceremony_in(&parts.headers) else {
        return Answer::failed(&parts, app::auth::AuthError::PasskeyCeremonyGone);
    };
    let session = match app.auth.finish_passkey_sign_in(&ceremony, &body, &ctx(&app, &parts)).await {
        Ok(s) => s,
        Err(e) => return Answer::failed(&parts, e).with(expired(CEREMONY_COOKIE)),
    };
    let back =
        q.rd.as_deref()
            .and_then(|rd| app.return_rules.parse(rd))
            .or_else(|| return_to_in(&parts.headers, &app.return_rules));
    let go = back.as_ref().map_or("/account", |to| to.as_str());
    signed_in(&app, &session, Answer::go(go))
}

/// The cookies of a new session, as `api::signed_in` writes them for a code.
fn signed_in(app: &AppState, session: &NewSession, answer: Answer) -> Answer {
    let secs = ((session.expires_at - app.auth.now_ms()) / 1000).max(60);
    answer
        .with(app.session_cookie.build(session.token.expose().to_owned(), secs))
        .with(cookie(DEVICE_COOKIE, session.device.expose(), DEVICE_COOKIE_SECS))
        .with(cookie(PASSKEY_HERE_COOKIE, app.auth.passkey_here_mark(&session.user_id), PASSKEY_HERE_SECS))
        .with(expired(PENDING_COOKIE))
        .with(expired(RETURN_COOKIE))
        .with(expired(CEREMONY_COOKIE))
}

/// Starts adding a passkey to the signed-in account.
pub async fn add_options(State(app): State<AppState>, parts: Parts) -> Answer {
    let Some(token) = session_in(&app, &parts.headers) else {
        return Answer::failed(&parts, app::auth::AuthError::NotSignedIn);
    };
    match app.auth.start_adding_passkey(&token).await {
        Ok(start) => Answer::options(start),
        Err(e) => Answer::failed(&parts, e),
    }
}

/// Finishes adding a passkey; the browser goes on to where it was going
/// after signing in (from the offer), or back to the account page.
pub async fn add(State(app): State<AppState>, parts: Parts, body: String) -> Answer {
    let (Some(token), Some(ceremony)) = (session_in(&app, &parts.headers), ceremony_in(&parts.headers)) else {
        return Answer::failed(&parts, app::auth::AuthError::PasskeyCeremonyGone);
    };
    let cx = ctx(&app, &parts);
    match app.auth.finish_adding_passkey(&token, &ceremony, &body, &cx).await {
        Ok(_name) => {
            let user = app.auth.current_user(&token).await.ok().flatten();
            let back = return_to_in(&parts.headers, &app.return_rules);
            let mut answer = match &back {
                Some(to) => Answer::go(to.as_str()).with(expired(RETURN_COOKIE)),
                None => Answer::go("/account").with(cookie(NOTICE_COOKIE, "passkey_added".to_owned(), 60)),
            };
            if let Some(user) = user {
                answer =
                    answer.with(cookie(PASSKEY_HERE_COOKIE, app.auth.passkey_here_mark(&user.id), PASSKEY_HERE_SECS));
            }
            answer.with(expired(CEREMONY_COOKIE))
        }
        Err(e) => Answer::failed(&parts, e).with(expired(CEREMONY_COOKIE)),
    }
}

/// Starts confirming the signed-in session with a passkey.
pub async fn confirm_options(State(app): State<AppState>, parts: Parts) -> Answer {
    let Some(token) = session_in(&app, &parts.headers) else {
        return Answer::failed(&parts, app::auth::AuthError::NotSignedIn);
    };
    match app.auth.start_confirming_with_passkey(&token, &ctx(&app, &parts)).await {
        Ok(start) => Answer::options(start),
        Err(e) => Answer::failed(&parts, e),
    }
}

/// Finishes confirming the session; back to the account page, which says
/// so.
pub async fn confirm(State(app): State<AppState>, parts: Parts, body: String) -> Answer {
    let (Some(token), Some(ceremony)) = (session_in(&app, &parts.headers), ceremony_in(&parts.headers)) else {
        return Answer::failed(&parts, app::auth::AuthError::PasskeyCeremonyGone);
    };
    match app.auth.finish_confirming_with_passkey(&token, &ceremony, &body, &ctx(&app, &parts)).await {
        Ok(()) => Answer::go("/account")
            .with(cookie(NOTICE_COOKIE, "confirmed".to_owned(), 60))
            .with(expired(CEREMONY_COOKIE)),
        Err(e) => Answer::failed(&parts, e).with(expired(CEREMONY_COOKIE)),
    }
}
