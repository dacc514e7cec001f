//! Pages are rendered on the server; only pages with an island load a
//! script, and each post comes back to a freshly rendered page that shows
//! the newest outcome only.

use reqwest::StatusCode;

use crate::helpers::{TestApp, spawn_app};

async fn html(app: &TestApp, path: &str) -> String {
    let res = app.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap()
}

/// The loader script or the wasm. (Leptos ends every page with two tiny
/// inline scripts of its own bookkeeping, which load nothing.)
fn loads_wasm(html: &str) -> bool {
    html.contains(".wasm") || html.contains("import init") || html.contains("<script type=\"module\"")
}

#[tokio::test]
async fn only_pages_with_an_island_load_the_script_and_the_wasm() {
    let app = spawn_app().await;
    for path in ["/", "/sign-in", "/sign-in?with=phone"] {
        let page = html(&app, path).await;
        assert!(page.contains("data-busy="), "{path}: {page}");
        assert!(page.contains(r#"rel="preload" href="/pkg/passcode"#), "{path}: {page}");
        assert!(page.contains(r#"<script type="module" async"#), "{path}: {page}");
        assert!(page.contains(r#"import init from "/pkg/passcode"#), "{path}: {page}");
    }

    assert_eq!(app.request_code("pages@example.com").await.status(), StatusCode::OK);
    let verify = html(&app, "/verify").await;
    assert!(verify.contains("data-busy=") && loads_wasm(&verify), "{verify}");
    // What the page read on the server is not written into it again for a
    // browser-side copy of the app: there is none.
    assert!(verify.contains("__RESOLVED_RESOURCES=[];") && !verify.contains("masked_destination"), "{verify}");

    let code = app.latest_code("pages@example.com").await;
    assert_eq!(app.verify(&code).await.status(), StatusCode::OK);
    let account = html(&app, "/account").await;
    assert!(account.contains("pages@example.com"), "{account}");
    // Passkeys are off here (the public URL is an address): nothing on the
    // account page needs a script.
    assert!(!account.contains("data-busy=") && !loads_wasm(&account), "no script on the account page: {account}");

    let missing = app.get("/no-such-page").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let missing = missing.text().await.unwrap();
    assert!(missing.contains("Page not found") && !loads_wasm(&missing), "{missing}");
}

#[tokio::test]
async fn the_resend_button_counts_down_from_the_seconds_the_server_knows() {
    let app = spawn_app().await;
    assert_eq!(app.request_code("countdown@example.com").await.status(), StatusCode::OK);
    let page = html(&app, "/verify").await;
    assert!(page.contains(r#"data-wait="30""#), "{page}");
    app.clock.advance_ms(12_400);
    assert!(html(&app, "/verify").await.contains(r#"data-wait="18""#));
    app.clock.advance_ms(60_000);
    assert!(html(&app, "/verify").await.contains(r#"data-wait="0""#));
}

#[tokio::test]
async fn a_new_code_by_plain_form_post_is_announced_once() {
    let app = spawn_app().await;
    assert_eq!(app.request_code("resent@example.com").await.status(), StatusCode::OK);
    app.clock.advance_ms(31_000);
    let res = app.post_plain_form("/api/resend_code", &[], "/verify").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], app.url("/verify"));
    let notice = app.set_cookie_line(app::web::NOTICE_COOKIE).expect("the notice waits in a cookie");
    assert!(notice.contains("HttpOnly") && notice.contains("Max-Age=60"), "{notice}");

    let first = html(&app, "/verify").await;
    assert!(first.contains("A new code is on its way. Earlier codes no longer work."), "{first}");
    assert_eq!(app.cookie(app::web::NOTICE_COOKIE), None, "taken by the page that showed it");
    let again = html(&app, "/verify").await;
    assert!(!again.contains("A new code is on its way"), "shown once: {again}");

    // A notice nobody posted for is never shown (only the server's own
    // words come from it, and only these two).
    app.set_cookie(app::web::NOTICE_COOKIE, "anything-else");
    let forged = html(&app, "/verify").await;
    assert!(!forged.contains("on its way") && !forged.contains("anything-else"), "{forged}");
}

#[tokio::test]
async fn a_post_that_succeeds_after_an_error_comes_back_without_it() {
    let app = spawn_app().await;
    assert_eq!(app.request_code("after-error@example.com").await.status(), StatusCode::OK);
    let wrong = TestApp::wrong(&app.latest_code("after-error@example.com").await);
    let res = app.post_plain_form("/api/verify_code", &[("code", &wrong)], "/verify").await;
    let with_error = res.headers()["location"].to_str().unwrap().trim_start_matches(&app.url("")).to_owned();
    assert!(with_error.contains("__sig="), "{with_error}");
    assert!(html(&app, &with_error).await.contains("You have 4 tries left"));

    // "Send a new code" pressed on that page.
    app.clock.advance_ms(31_000);
    let res = app.post_plain_form("/api/resend_code", &[], &with_error).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], app.url("/verify"), "no parameters of the old error are left");
    let page = html(&app, "/verify").await;
    assert!(!page.contains("tries left") && page.contains("A new code is on its way"), "{page}");
}
