//! The security headers on every kind of page, the CSP nonce, HSTS only
//! behind https, and no-store wherever an answer depends on a session or a
//! challenge.

use reqwest::StatusCode;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use app::web::SESSION_COOKIE as SESSION;

fn csp_nonce(csp: &str) -> String {
    let script_src = csp.split(';').map(str::trim).find(|d| d.starts_with("script-src ")).expect("script-src");
    script_src
        .split_whitespace()
        .find_map(|s| s.strip_prefix("'nonce-").and_then(|n| n.strip_suffix('\'')))
        .expect("a nonce")
        .to_owned()
}

/// Every header an HTML page must carry; returns the page's nonce.
fn assert_page_headers(what: &str, res: &reqwest::Response) -> String {
    let h = res.headers();
    let ct = h.get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(ct.starts_with("text/html"), "{what}: {ct}");
    let csp = h.get("content-security-policy").unwrap_or_else(|| panic!("{what}: no CSP")).to_str().unwrap();
    for part in
        ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'", "'wasm-unsafe-eval'"]
    {
        assert!(csp.contains(part), "{what}: {part} missing from {csp}");
    }
    let script_src = csp.split(';').map(str::trim).find(|d| d.starts_with("script-src ")).unwrap();
    assert!(!script_src.contains("'unsafe-inline'") && !script_src.contains("'unsafe-eval'"), "{what}: {csp}");
    assert_eq!(h["cross-origin-opener-policy"], "same-origin", "{what}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    let permissions = h["permissions-policy"].to_str().unwrap();
    for feature in ["camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"] {
        assert!(permissions.contains(feature), "{what}: {feature} in {permissions}");
    }
    assert!(h.get("referrer-policy").is_some(), "{what}");
    assert!(h.get("strict-transport-security").is_none(), "{what}: no HSTS over http");
    csp_nonce(csp)
}

async fn signed_in() -> TestApp {
    let app = spawn_app().await;
    app.sign_in("a@example.com", "a@example.com").await;
    app
}

#[tokio::test]
async fn every_page_kind_carries_the_security_headers() {
    let app = spawn_app().await;
    // A stranger's pages: with islands, without, a 404, the outbox.
    for path in ["/", "/sign-in", "/sign-in/confirm", "/no-such-page", "/dev/outbox", "/verify"] {
        let res = app.get(path).await;
        if res.status().is_redirection() {
            continue;
        }
        assert_page_headers(path, &res);
    }
    // With a challenge, then signed in.
    app.request_code("a@example.com").await;
    assert_page_headers("/verify with a code on its way", &app.get("/verify").await);
    let code = app.latest_code("a@example.com").await;
    app.verify(&code).await;
    let account = app.get("/account").await;
    assert_eq!(account.status(), StatusCode::OK);
    assert_page_headers("/account", &account);
    // A page redirected by the no-JavaScript flow still carries them.
    let res = app.post_plain_form("/api/verify_code", &[("code", "000000")], "/verify").await;
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    // Not HTML: no script policy needed, but nothing may frame it either.
    let api = app.post("/api/current_user", &[]).await;
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert_eq!(api.headers()["content-security-policy"], "frame-ancestors 'none'");
    let icon = app.get("/favicon.svg").await;
    assert_eq!(icon.headers()["content-security-policy"], "frame-ancestors 'none'");
    assert_eq!(icon.headers()["x-content-type-options"], "nosniff");
    // The sign-in link keeps its stricter referrer policy (its URL holds a token).
    let link = app.get("/sign-in/email-link?token=x").await;
    assert_eq!(link.headers()["referrer-policy"], "no-referrer");
    assert_eq!(app.get("/sign-in").await.headers()["referrer-policy"], "strict-origin-when-cross-origin");
}

#[tokio::test]
async fn the_csp_nonce_is_fresh_and_on_every_script() {
    let app = spawn_app().await;
    app.request_code("a@example.com").await;
    let mut seen = Vec::new();
    // An island page rendered at once, and one rendered after its data.
    for path in ["/sign-in", "/verify", "/sign-in", "/verify"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let nonce = assert_page_headers(path, &res);
        assert!(nonce.len() >= 22, "128 bits at least: {nonce}");
        let html = res.text().await.unwrap();
        let scripts: Vec<&str> = html.split("<script").skip(1).map(|s| s.split('>').next().unwrap()).collect();
        assert!(!scripts.is_empty(), "{path} loads its island: {html}");
        for tag in scripts {
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "a script without this response's nonce: <script{tag}>"
            );
        }
        assert!(!seen.contains(&nonce), "a nonce used twice");
        seen.push(nonce);
    }
}

#[tokio::test]
async fn hsts_only_when_the_public_url_is_https() {
    let app = spawn_app_with(&[
        ("PASSCODE_PUBLIC_URL", "https://login.example.com"),
        ("PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION", "true"),
    ])
    .await;
    for path in ["/sign-in", "/favicon.svg", "/healthz"] {
        let res = app.get(path).await;
        assert_eq!(res.headers()["strict-transport-security"], "max-age=31536000; includeSubDomains", "{path}");
    }
    let plain = spawn_app().await;
    assert!(plain.get("/sign-in").await.headers().get("strict-transport-security").is_none());
}

#[tokio::test]
async fn personal_answers_are_never_stored() {
    let app = signed_in().await;
    for (what, res) in [
        ("the account page", app.get("/account").await),
        ("current_user", app.post("/api/current_user", &[]).await),
        ("account", app.post("/api/account", &[]).await),
    ] {
        assert_eq!(res.headers()["cache-control"], "no-store", "{what}");
    }
    app.clear_cookies();
    app.clock.advance_ms(60_000);
    let res = app.request_code("b@example.com").await;
    assert_eq!(res.headers()["cache-control"], "no-store", "request_code");
    assert_eq!(app.get("/verify").await.headers()["cache-control"], "no-store", "the code page");
    // A stranger's sign-in page depends on nothing personal.
    app.clear_cookies();
    assert_eq!(app.get("/sign-in").await.headers()["cache-control"], "no-cache");
    assert!(app.cookie(SESSION).is_none());
}
