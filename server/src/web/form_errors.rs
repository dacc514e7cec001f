//! The no-JavaScript error round trip, made unforgeable. Without JavaScript
//! a failed form post is redirected back to its page with the error in the
//! query string (Leptos's `__path` and `__err`), and the page shows it. A
//! link anyone can craft would then put words of their choosing on our own
//! pages ("We couldn't send a code to ACCOUNT SUSPENDED, call …").
//!
//! So the server signs what it sends: the redirect gets `__sig`, an HMAC
//! over the error and a random nonce that only this browser holds (an
//! HttpOnly `__Host-` cookie set with the redirect). A page request whose
//! error parameters do not carry a valid signature for the browser's own
//! nonce is sent, with a 303, to the same page without them: neither the
//! server nor the hydrated page ever reads an error it did not write for
//! this browser.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http::HeaderValue;
use http::header::{LOCATION, SET_COOKIE};

use app::auth::{constant_time_eq, keyed_hash};

const NONCE_COOKIE: &str = app::web::FORM_ERROR_COOKIE;
/// Long enough to read the page and reload it once.
const NONCE_SECS: i64 = 10 * 60;
const PATH: &str = "__path";
const ERR: &str = "__err";
const SIG: &str = "__sig";

#[derive(Clone)]
pub struct FormErrorKey(Arc<[u8]>);

impl FormErrorKey {
    pub fn derive(server_secret: &[u8]) -> Self {
        Self(Arc::from(keyed_hash(server_secret, "passcode form error key").into_bytes()))
    }

    fn sign(&self, nonce: &str, path: &str, err: &str) -> String {
        keyed_hash(&self.0, &format!("{nonce}\n{path}\n{err}"))
    }
}

pub async fn sign_and_check(State(key): State<FormErrorKey>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/api/") {
        let res = next.run(req).await;
        return sign_redirect(&key, res);
    }
    let query = req.uri().query().unwrap_or_default();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if !pairs.iter().any(|(k, _)| is_ours(k)) {
        return next.run(req).await;
    }
    let nonce = app::web::cookie_in(req.headers(), NONCE_COOKIE);
    if let Some(nonce) = nonce
        && let [path, err, sig] = [PATH, ERR, SIG].map(|name| only(&pairs, name))
        && let (Some(path), Some(err), Some(sig)) = (path, err, sig)
        && constant_time_eq(key.sign(&nonce, path, err).as_bytes(), sig.as_bytes())
    {
        return next.run(req).await;
    }
    tracing::info!(path = %req.uri().path(), "dropped error parameters the server did not sign for this browser");
    Redirect::to(&same_page(req.uri().path(), &pairs)).into_response()
}

/// The page at `path` with `pairs` less ours, as a path on this site: the
/// leading slashes are collapsed, so `//evil.example/` can never become a
/// redirect to another host.
fn same_page(path: &str, pairs: &[(String, String)]) -> String {
    with_query(format!("/{}", path.trim_start_matches(['/', '\\'])), pairs)
}

/// `page` with the query `pairs` less ours.
fn with_query(mut page: String, pairs: &[(String, String)]) -> String {
    let rest: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| !is_ours(k)).collect();
    if !rest.is_empty() {
        page.push('?');
        page.push_str(&url::form_urlencoded::Serializer::new(String::new()).extend_pairs(rest).finish());
    }
    page
}

fn is_ours(name: &str) -> bool {
    matches!(name, PATH | ERR | SIG)
}

/// The value of a parameter that appears exactly once.
fn only<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut found = pairs.iter().filter(|(k, _)| k == name);
    match (found.next(), found.next()) {
        (Some((_, v)), None) => Some(v.as_str()),
        _ => None,
    }
}

/// A server function's redirect back to the form with an error: signed for
/// a fresh nonce, which goes to the browser in a cookie. Leptos appends its
/// parameters to the page's own address, which after an earlier error still
/// carries that one's: the newest (last) error is kept, alone.
fn sign_redirect(key: &FormErrorKey, mut res: Response) -> Response {
    if !res.status().is_redirection() {
        return res;
    }
    let Some(location) = res.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned) else {
        return res;
    };
    let Some((page, query)) = location.split_once('?') else { return res };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let last = |name: &str| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let (Some(path), Some(err)) = (last(PATH), last(ERR)) else {
        // A success goes back to the page; Leptos strips its own error
        // parameters (leaving a bare `?`), and an earlier error's signature
        // goes with them.
        if query.is_empty() || pairs.iter().any(|(k, _)| is_ours(k)) {
            let clean = with_query(page.to_owned(), &pairs);
            if let Ok(v) = HeaderValue::from_str(&clean) {
                res.headers_mut().insert(LOCATION, v);
            }
        }
        return res;
    };
    let nonce = app::domain::random_id();
    let sig = key.sign(&nonce, path, err);
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(pairs.iter().filter(|(k, _)| !is_ours(k)));
    query.extend_pairs([(PATH, path), (ERR, err), (SIG, sig.as_str())]);
    let signed = format!("{page}?{}", query.finish());
    let cookie = app::web::cookie(NONCE_COOKIE, nonce, NONCE_SECS);
    match (HeaderValue::from_str(&signed), HeaderValue::from_str(&cookie.to_string())) {
        (Ok(location), Ok(cookie)) => {
            res.headers_mut().insert(LOCATION, location);
            res.headers_mut().append(SET_COOKIE, cookie);
        }
        // Never let an unsigned error through: without a signature the
        // page would drop it anyway, so send the browser back plainly.
        _ => {
            if let Ok(v) = HeaderValue::from_str(page) {
                res.headers_mut().insert(LOCATION, v);
            }
        }
    }
    res
}
