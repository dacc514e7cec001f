//! Forward auth: the endpoints a reverse proxy asks before it lets a request
//! through to an app (docs/deploying.md, "Protect an app"). Two contracts, the ones
//! the proxies already speak (the same shape as Authelia's and Tinyauth's),
//! over one decision in the auth core:
//!
//! - `GET /auth/forward` (Traefik ForwardAuth, Caddy `forward_auth`): the
//!   original request in `X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri`.
//!   Not signed in, a browser's page load gets a redirect to sign in
//!   (`302`, or `303` for a method other than GET or HEAD); anything else a
//!   `401`. These proxies hand our answer to the client as it is.
//! - `GET /auth/request` (nginx `auth_request`): the original request in
//!   `X-Original-URL` and `X-Original-Method`. nginx cannot pass a redirect
//!   on, so every "not signed in" is a `401`; a browser's page load also
//!   gets `X-Passcode-Redirect`, which the nginx example of docs/deploying.md turns into
//!   the redirect (scripts keep the `401`).
//!
//! Every `401` carries the sign-in address (with `rd`, the original URL,
//! when the return rules take it) in `Location`. Signed in and allowed:
//! `200` with `Remote-User` (the account's stable id) and `Remote-Email` or
//! `Remote-Phone`. Signed in but refused by the access rules: `403` and a
//! small page saying so. Only peers in `PASSCODE_TRUSTED_PROXIES` are
//! answered: the headers are believed, and the answer names the person.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use app::auth::{Access, RequestContext, Visitor, escape_html};
use app::domain::Channel;
use app::web::AppState;

use super::assets::Assets;

pub const FORWARD_PATH: &str = "/auth/forward";
pub const REQUEST_PATH: &str = "/auth/request";

/// On a `401` of `/auth/request` for a browser's page load: where nginx
/// should send the browser.
pub const REDIRECT_HEADER: &str = "x-passcode-redirect";

/// Which proxy contract a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// Traefik ForwardAuth, Caddy `forward_auth`.
    Forward,
    /// nginx `auth_request`.
    Request,
}

/// What the handlers need besides the app's state (behind an `Arc`: it is
/// handed to every check, and `AppState` is not cheap to clone).
pub struct ForwardAuth {
    pub app: AppState,
    pub assets: Arc<Assets>,
}

/// The request a proxy is asking about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    /// The whole URL, as the browser asked for it.
    pub url: String,
    /// Its host: lower case, no port, no trailing dot.
    pub host: String,
    pub method: Method,
}

/// Why the original request could not be read: the proxy is set up wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

/// The original request from the headers `contract` defines.
pub fn original(contract: Contract, headers: &HeaderMap) -> Result<Original, Unreadable> {
    let get = |name: &'static str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let need = |name: &'static str| get(name).filter(|v| !v.is_empty()).ok_or_else(|| missing(name));
    let (url, method) = match contract {
        Contract::Forward => {
            let proto = need("x-forwarded-proto")?.to_ascii_lowercase();
            let host = need("x-forwarded-host")?;
            let uri = need("x-forwarded-uri")?;
            if !matches!(proto.as_str(), "http" | "https") {
                return Err(Unreadable(format!("X-Forwarded-Proto is {proto:?}, not http or https")));
            }
            if !uri.starts_with('/') || uri.starts_with("//") {
                return Err(Unreadable("X-Forwarded-Uri is not a path (it must start with one /)".into()));
            }
            (format!("{proto}://{host}{uri}"), get("x-forwarded-method"))
        }
        Contract::Request => (need("x-original-url")?.to_owned(), get("x-original-method")),
    };
    let parsed = url::Url::parse(&url).map_err(|e| Unreadable(format!("the original URL is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Unreadable("the original URL is not http or https".into()));
    }
    let host =
        parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| Unreadable("the original URL has no host".into()))?;
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let method = method.and_then(|m| Method::from_bytes(m.as_bytes()).ok()).unwrap_or(Method::GET);
    Ok(Original { url, host, method })
}

fn missing(name: &str) -> Unreadable {
    Unreadable(format!("the proxy sent no {name} header"))
}

/// A person's browser loading a page (which can be sent to sign in), as
/// opposed to a script or an API client (which needs the status).
pub fn is_page_load(headers: &HeaderMap) -> bool {
    let accepts_html = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"));
    let xhr = headers
        .get("x-requested-with")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("xmlhttprequest"));
    accepts_html && !xhr
}

pub async fn forward(
    State(state): State<Arc<ForwardAuth>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    answer(Contract::Forward, &state, peer, &headers).await
}

pub async fn request(
    State(state): State<Arc<ForwardAuth>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    answer(Contract::Request, &state, peer, &headers).await
}

async fn answer(contract: Contract, state: &ForwardAuth, peer: SocketAddr, headers: &HeaderMap) -> Response {
    let app = &state.app;
    if !app.proxies.trusts(&peer.ip()) {
        tracing::warn!(
            peer = %peer.ip(),
            "refused a forward-auth check from a peer that is not a trusted proxy: add your reverse proxy's address \
             to PASSCODE_TRUSTED_PROXIES"
        );
        return plain(StatusCode::FORBIDDEN, "Only the reverse proxies in PASSCODE_TRUSTED_PROXIES may ask this.");
    }
    let original = match original(contract, headers) {
        Ok(original) => original,
        Err(Unreadable(why)) => {
            tracing::error!(%why, "a forward-auth check could not be read: see docs/deploying.md, \"Protect an app\", for the proxy's settings");
            return plain(
                StatusCode::BAD_REQUEST,
                "The reverse proxy did not say which page was asked for; see Passcode's log.",
            );
        }
    };
    let ctx = RequestContext {
        client_ip: Some(app.proxies.client_ip(peer.ip(), headers)),
        user_agent: app::web::user_agent_in(headers),
        ..RequestContext::default()
    };
    let token = app.session_cookie.token_in(headers);
    match app.auth.check_access(token.as_ref(), &original.host, &ctx).await {
        Ok(Access::SignedOut) => sign_in_first(contract, state, &original, headers),
        Ok(Access::Allowed(visitor, _)) => let_through(&visitor),
        Ok(Access::Refused(visitor, _)) => refused(state, &original, &visitor, app::web::locale_in(headers)),
        // Fail closed: nobody through while we can't tell who is asking.
        Err(e) => {
            tracing::error!(error = %e, "a forward-auth check failed");
            let l = app::web::locale_in(headers);
            let mut res = plain(StatusCode::SERVICE_UNAVAILABLE, app::i18n::td_string!(l, forbidden.unavailable));
            res.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from_static("5"));
            res
        }
    }
}

/// The sign-in page, with the original URL to come back to when the return
/// rules take it.
fn sign_in_url(state: &ForwardAuth, original: &Original) -> String {
    let public = &state.app.auth.settings().public_url;
    match state.app.return_rules.parse(&original.url) {
        Some(to) => {
            let rd: String = url::form_urlencoded::byte_serialize(to.as_str().as_bytes()).collect();
            format!("{public}/sign-in?rd={rd}")
        }
        None => format!("{public}/sign-in"),
    }
}

fn sign_in_first(contract: Contract, state: &ForwardAuth, original: &Original, headers: &HeaderMap) -> Response {
    let url = sign_in_url(state, original);
    let page_load = is_page_load(headers);
    let mut res = if contract == Contract::Forward && page_load {
        let status = if matches!(original.method, Method::GET | Method::HEAD) {
            StatusCode::FOUND
        } else {
            StatusCode::SEE_OTHER
        };
        let mut res = status.into_response();
        no_store(&mut res);
        res
    } else {
        plain(StatusCode::UNAUTHORIZED, app::i18n::td_string!(app::web::locale_in(headers), forbidden.not_signed_in))
    };
    if let Ok(value) = HeaderValue::from_str(&url) {
        if contract == Contract::Request && page_load {
            res.headers_mut().insert(HeaderName::from_static(REDIRECT_HEADER), value.clone());
        }
        res.headers_mut().insert(LOCATION, value);
    }
    res
}

fn let_through(visitor: &Visitor) -> Response {
    let mut res = StatusCode::OK.into_response();
    let headers = res.headers_mut();
    if let Ok(user) = HeaderValue::from_str(&visitor.user_id) {
        headers.insert(HeaderName::from_static("remote-user"), user);
    }
    // Both names always, the one that doesn't apply empty: Caddy before
    // 2.10 copies a header the answer lacks as the literal text
    // "{http.reverse_proxy.header.Remote-Phone}", while an empty one it
    // leaves out (nginx leaves out empty ones too).
    let (which, other) = match visitor.channel {
        Channel::Email => ("remote-email", "remote-phone"),
        Channel::Sms => ("remote-phone", "remote-email"),
    };
    // An address with non-ASCII letters goes as its UTF-8 bytes.
    if let Ok(value) = HeaderValue::from_bytes(visitor.identifier.as_bytes()) {
        headers.insert(HeaderName::from_static(which), value);
    }
    headers.insert(HeaderName::from_static(other), HeaderValue::from_static(""));
    no_store(&mut res);
    res
}

/// Signed in, but this account may not open this app: say who is signed in
/// and offer to sign in as someone else. The page is served under the
/// app's host (the proxy passes it on), so everything it loads comes from
/// the public URL, and its policy says so.
/// In the language the browser asks for (the proxy passes its headers on;
/// the language cookie belongs to the sign-in host, so it is not sent here).
fn refused(state: &ForwardAuth, original: &Original, visitor: &Visitor, l: app::i18n::Locale) -> Response {
    use app::i18n::td_string;
    let public = &state.app.auth.settings().public_url;
    let stylesheet = format!("{public}{}", state.assets.urls().stylesheet);
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{title} · Passcode</title><link rel=\"stylesheet\" href=\"{stylesheet}\"></head>\
         <body><main class=\"page\"><section class=\"card\" aria-labelledby=\"page-title\">\
         <p class=\"brand\" aria-hidden=\"true\"><span class=\"brand-mark\">●</span> Passcode</p>\
         <h1 id=\"page-title\">{title}</h1>\
         <p class=\"lede\">{signed_in_as}</p>\
         <p class=\"identity\" data-testid=\"identity\">{who}</p>\
         <p>{body}</p>\
         <p><a class=\"button primary\" href=\"{again}\">{other}</a></p>\
         <p class=\"hint\"><a href=\"{public}/account\">{account}</a></p>\
         </section></main></body></html>\n",
        lang = app::i18n::tag(l),
        title = escape_html(td_string!(l, forbidden.app_title)),
        signed_in_as = escape_html(td_string!(l, forbidden.signed_in_as)),
        body = escape_html(td_string!(l, forbidden.app_body)),
        other = escape_html(td_string!(l, forbidden.other_address)),
        account = escape_html(td_string!(l, forbidden.your_account)),
        stylesheet = escape_html(&stylesheet),
        who = escape_html(&visitor.identifier),
        again = escape_html(&sign_in_url(state, original)),
        public = escape_html(public),
    );
    let mut res = (StatusCode::FORBIDDEN, [(CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let csp = format!(
        "default-src 'none'; style-src {public}; img-src {public}; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    );
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        res.headers_mut().insert(CONTENT_SECURITY_POLICY, csp);
    }
    no_store(&mut res);
    res
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut res = (status, [(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response();
    no_store(&mut res);
    res
}

/// Every answer is about one person at one moment: no cache may keep it.
fn no_store(res: &mut Response) {
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn each_contract_reads_its_own_headers() {
        let forward = h(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "Wiki.Example.com:8443"),
            ("x-forwarded-uri", "/page?a=1"),
            ("x-forwarded-method", "POST"),
        ]);
        assert_eq!(
            original(Contract::Forward, &forward),
            Ok(Original {
                url: "https://Wiki.Example.com:8443/page?a=1".into(),
                host: "wiki.example.com".into(),
                method: Method::POST
            })
        );
        // The other contract's headers are not read.
        assert!(original(Contract::Request, &forward).is_err());
        let request = h(&[("x-original-url", "https://wiki.example.com./x"), ("x-original-method", "HEAD")]);
        let got = original(Contract::Request, &request).unwrap();
        assert_eq!((got.host.as_str(), got.method), ("wiki.example.com", Method::HEAD));
        // No method: a GET.
        let no_method = h(&[("x-original-url", "https://wiki.example.com/")]);
        assert_eq!(original(Contract::Request, &no_method).unwrap().method, Method::GET);
        for bad in [
            h(&[("x-forwarded-host", "wiki.example.com"), ("x-forwarded-uri", "/")]),
            h(&[("x-forwarded-proto", "https"), ("x-forwarded-uri", "/")]),
            h(&[("x-forwarded-proto", "https"), ("x-forwarded-host", "wiki.example.com")]),
            h(&[("x-forwarded-proto", "gopher"), ("x-forwarded-host", "wiki.example.com"), ("x-forwarded-uri", "/")]),
            h(&[("x-forwarded-proto", "https"), ("x-forwarded-host", "wiki.example.com"), ("x-forwarded-uri", "x")]),
            h(&[
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "wiki.example.com"),
                ("x-forwarded-uri", "//evil/"),
            ]),
            h(&[("x-forwarded-proto", "https"), ("x-forwarded-host", ""), ("x-forwarded-uri", "/")]),
        ] {
            assert!(original(Contract::Forward, &bad).is_err(), "{bad:?}");
        }
        for bad in ["/relative", "ftp://wiki.example.com/", "https://", ""] {
            let headers: HeaderMap = [(HeaderName::from_static("x-original-url"), HeaderValue::from_str(bad).unwrap())]
                .into_iter()
                .collect();
            assert!(original(Contract::Request, &headers).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_loads_are_html_and_not_scripts() {
        assert!(is_page_load(&h(&[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")])));
        assert!(is_page_load(&h(&[("accept", "Text/HTML")])));
        assert!(!is_page_load(&h(&[("accept", "application/json")])));
        assert!(!is_page_load(&h(&[("accept", "*/*")])));
        assert!(!is_page_load(&h(&[])));
        assert!(!is_page_load(&h(&[("accept", "text/html"), ("x-requested-with", "XMLHttpRequest")])));
    }
}
