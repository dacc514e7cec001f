//! What server functions get from the server: one `AppState` in context,
//! the request's facts for the core, and the one place a failure gets its
//! HTTP status.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use http::header::{ACCEPT, USER_AGENT};
use http::request::Parts;
use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use leptos_axum::ResponseOptions;

use crate::auth::{AuthService, RequestContext};
use crate::delivery::Outbox;
use crate::domain::{AppError, ChallengeId, DeviceCookie, ReturnRules};
use crate::store::SqlStore;

use super::client_ip::TrustedProxies;
use super::cookies::{DEVICE_COOKIE, PENDING_COOKIE, SessionCookie, cookie_in};

/// The auth service as the server runs it: on the SQL store.
pub type Auth = AuthService<SqlStore>;

#[derive(Clone)]
pub struct AppState {
    pub auth: Arc<Auth>,
    pub leptos_options: LeptosOptions,
    /// Peers whose forwarding header is believed, and which header that is
    /// (PASSCODE_TRUSTED_PROXIES, PASSCODE_FORWARDED_HEADER).
    pub proxies: Arc<TrustedProxies>,
    /// The development outbox, while it is a delivery (its pages read it).
    pub outbox: Option<Outbox>,
    /// The session cookie's name and scope (PASSCODE_COOKIE_DOMAIN).
    pub session_cookie: SessionCookie,
    /// Where a person may be sent back to after signing in (`rd`).
    pub return_rules: ReturnRules,
}

/// leptos_axum's file handler reads the options from the router state.
impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server function context");
        AppError::Unavailable
    })
}

pub(super) fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

pub fn request_context() -> RequestContext {
    let Some(parts) = parts() else { return RequestContext::default() };
    let state = use_context::<AppState>();
    let proxies = state.as_ref().map(|s| s.proxies.clone()).unwrap_or_default();
    let jar = state.map(|s| s.session_cookie).unwrap_or_default();
    request_context_in(&parts, &proxies, &jar)
}

/// The request's facts from its parts: the same for server functions and
/// plain axum handlers (passkey ceremonies).
pub fn request_context_in(parts: &Parts, proxies: &TrustedProxies, jar: &SessionCookie) -> RequestContext {
    let client_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| proxies.client_ip(peer.ip(), &parts.headers));
    let headers = &parts.headers;
    RequestContext {
        client_ip,
        user_agent: user_agent_in(headers),
        device: cookie_in(headers, DEVICE_COOKIE).and_then(|v| DeviceCookie::parse(&v).ok()),
        session: jar.token_in(headers),
        pending: cookie_in(headers, PENDING_COOKIE).and_then(|v| ChallengeId::parse(&v).ok()),
        locale: super::locale::locale_in(headers),
    }
}

/// The request's User-Agent, cut to a length worth keeping.
pub fn user_agent_in(headers: &http::HeaderMap) -> Option<String> {
    headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).map(|ua| ua.chars().take(256).collect())
}

/// A plain form post (no JavaScript) must get its 302 back to the page, so
/// the status is only set for script and API clients, and for page loads
/// (a page whose data failed says so with its status, e.g. 503).
fn is_plain_form_post() -> bool {
    parts()
        .filter(|p| p.method == http::Method::POST)
        .and_then(|p| p.headers.get(ACCEPT).and_then(|v| v.to_str().ok()).map(|v| v.contains("text/html")))
        .unwrap_or(false)
}

pub fn fail(err: impl Into<AppError>) -> AppError {
    let err = err.into();
    if !is_plain_form_post()
        && let Some(res) = use_context::<ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(err.status())
    {
        res.set_status(status);
        if let Some(secs) = err.retry_after() {
            res.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
    }
    err
}

/// On the server, a failure around a server function is logged when it is
/// ours and answered with its status like any other (`fail`).
impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let err = AppError::from_framework(&value);
        if err == AppError::Internal {
            tracing::error!(error = %value, "server function failed outside its body");
        }
        fail(err)
    }
}
