//! Security headers, in one place: on every HTML response a
//! Content-Security-Policy with a fresh nonce (the shell puts the same nonce
//! on the page's scripts), COOP and a Permissions-Policy; on every response
//! `frame-ancestors 'none'`, `nosniff`, `X-Frame-Options` and, behind https,
//! HSTS.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY};
use http::{HeaderMap, HeaderName, HeaderValue};

use app::CspNonce;

/// Browser features no page of ours uses: denied to us and to anything that
/// might get itself embedded or injected. Passkeys are ours alone: WebAuthn
/// is allowed for this origin (`self`) and no frame.
const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), bluetooth=(), camera=(), display-capture=(), \
     encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), hid=(), idle-detection=(), magnetometer=(), \
     microphone=(), midi=(), payment=(), picture-in-picture=(), publickey-credentials-create=(self), \
     publickey-credentials-get=(self), screen-wake-lock=(), \
     serial=(), usb=(), xr-spatial-tracking=()";

/// What the policy depends on besides the nonce.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The public URL is https: browsers may be told to use nothing else.
    pub hsts: bool,
    /// `cargo leptos watch`: its reload script talks to a WebSocket on
    /// another port.
    pub live_reload: bool,
    /// Where a form may lead besides this origin: a sign-in redirects to the
    /// page a reverse proxy sent the person from (`rd`), and browsers hold
    /// that redirect to `form-action` too. So exactly the hosts the return
    /// rules take (see `form_targets`).
    pub form_targets: String,
}

/// The `form-action` sources beyond `'self'` for the return rules: the
/// public host and the cookie domain with every host under it (any port,
/// https), and in development plain http to this machine. A CSP source
/// can't name an IPv6 address (browsers drop `[::1]` with a console error),
/// so none is listed: a return to one is left to `'self'`.
pub fn form_targets(rules: &app::domain::ReturnRules) -> String {
    let mut hosts = vec![format!("https://{}:*", rules.public_host)];
    if let Some(domain) = &rules.cookie_domain {
        hosts.push(format!("https://{domain}:*"));
        hosts.push(format!("https://*.{domain}:*"));
    }
    if rules.loopback_http {
        for host in ["127.0.0.1", "localhost"] {
            hosts.push(format!("http://{host}:*"));
        }
    }
    hosts.retain(|source| !source.contains('['));
    hosts.join(" ")
}

impl Policy {
    fn csp(&self, nonce: &CspNonce) -> String {
        let reload = if self.live_reload { " ws:" } else { "" };
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{}' 'wasm-unsafe-eval'; style-src 'self'; \
             img-src 'self' data:; connect-src 'self'{reload}; object-src 'none'; base-uri 'none'; \
             frame-ancestors 'none'; form-action 'self' {}",
            nonce.as_str(),
            self.form_targets
        )
    }
}

fn is_html(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"))
}

pub async fn security_headers(State(policy): State<Arc<Policy>>, mut req: Request, next: Next) -> Response {
    let nonce = CspNonce::generate();
    req.extensions_mut().insert(nonce.clone());
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    };
    if is_html(headers) {
        // A page that set its own (forward auth's refusal, served under an
        // app's host) keeps it.
        if !headers.contains_key(CONTENT_SECURITY_POLICY)
            && let Ok(csp) = HeaderValue::from_str(&policy.csp(&nonce))
        {
            headers.insert(CONTENT_SECURITY_POLICY, csp);
        }
        // Both apply to documents only; on assets they would be bytes on
        // every first visit for nothing.
        set(headers, "cross-origin-opener-policy", "same-origin");
        set(headers, "permissions-policy", PERMISSIONS_POLICY);
    } else {
        // Nothing of ours may be framed, not even a raw asset or answer.
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'none'"));
    }
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "x-frame-options", "DENY");
    // Same-origin navigations keep the full Referer: the no-JavaScript form
    // flow redirects back to it. A response that chose stricter (the
    // sign-in link's, whose URL holds a token) keeps its own.
    if !headers.contains_key(REFERRER_POLICY) {
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    }
    if policy.hsts {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_no_inline_script_without_the_nonce() {
        let nonce = CspNonce::generate();
        let rules = app::domain::ReturnRules {
            public_host: "login.example.com".into(),
            cookie_domain: Some("example.com".into()),
            loopback_http: false,
        };
        let csp = Policy { hsts: false, live_reload: false, form_targets: form_targets(&rules) }.csp(&nonce);
        assert!(
            csp.ends_with(
                "form-action 'self' https://login.example.com:* https://example.com:* https://*.example.com:*"
            ),
            "{csp}"
        );
        assert!(!csp.contains("http://"), "no plain http outside development: {csp}");
        let development =
            app::domain::ReturnRules { public_host: "[::1]".into(), cookie_domain: None, loopback_http: true };
        assert_eq!(form_targets(&development), "http://127.0.0.1:* http://localhost:*", "no IPv6 literal in a CSP");
        let script_src = csp.split(';').map(str::trim).find(|d| d.starts_with("script-src")).unwrap();
        assert!(script_src.contains(&format!("'nonce-{}'", nonce.as_str())));
        assert!(!script_src.contains("unsafe-inline") && !script_src.contains("'unsafe-eval'"));
        for directive in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"] {
            assert!(csp.contains(directive), "{directive} in {csp}");
        }
        assert!(!csp.contains("ws:"), "no WebSocket outside `cargo leptos watch`");
        assert_ne!(CspNonce::generate().as_str(), nonce.as_str());
    }
}
