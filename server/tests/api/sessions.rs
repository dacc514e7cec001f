//! Sessions people can see and end: idle and absolute expiry, at most one
//! `last_seen` write an hour, a new sign-in ending the browser's old
//! session, ending one or all other sessions (on every instance), the
//! account page's lists, and sign-out's Clear-Site-Data.

use reqwest::StatusCode;
use reqwest::header::USER_AGENT;
use serde_json::Value;

use crate::helpers::{TestApp, TestDatabase, spawn_app, spawn_app_with};
use crate::two_instances::{Browser, latest_code, start};
use app::web::SESSION_COOKIE as SESSION;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
const FIREFOX_ON_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";

async fn last_seen(app: &crate::helpers::TestApp) -> i64 {
    app.count("SELECT last_seen_at FROM sessions").await
}

#[tokio::test]
async fn an_idle_session_ends_after_the_idle_timeout() {
    let app = spawn_app().await;
    app.sign_in("a@example.com", "a@example.com").await;
    // Used every six days, a session outlives the seven-day idle timeout...
    for _ in 0..3 {
        app.clock.advance_ms(6 * DAY_MS);
        assert_eq!(app.account_page().await.status(), StatusCode::OK);
    }
    // ...and left alone for longer than it, ends.
    app.clock.advance_ms(7 * DAY_MS);
    assert_eq!(app.account_page().await.status(), StatusCode::FOUND);
    assert_eq!(app.post("/api/current_user", &[]).await.json::<Value>().await.unwrap(), Value::Null);
}

#[tokio::test]
async fn a_shorter_idle_timeout_is_taken_from_the_configuration() {
    let app = spawn_app_with(&[("PASSCODE_SESSION_IDLE_SECS", "7200")]).await;
    app.sign_in("a@example.com", "a@example.com").await;
    app.clock.advance_ms(HOUR_MS + 1000);
    assert_eq!(app.account_page().await.status(), StatusCode::OK);
    app.clock.advance_ms(2 * HOUR_MS);
    assert_eq!(app.account_page().await.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn a_session_in_use_outlives_an_idle_timeout_shorter_than_an_hour() {
    let app = spawn_app_with(&[("PASSCODE_SESSION_IDLE_SECS", "1800")]).await;
    app.sign_in("a@example.com", "a@example.com").await;
    // Used every ten minutes for three hours: never idle for half an hour.
    for _ in 0..18 {
        app.clock.advance_ms(10 * 60_000);
        assert_eq!(app.account_page().await.status(), StatusCode::OK);
    }
    app.clock.advance_ms(30 * 60_000);
    assert_eq!(app.account_page().await.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn idle_sessions_are_purged() {
    let app = spawn_app().await;
    app.sign_in("a@example.com", "a@example.com").await;
    let store = app::store::SqlStore::new(app.pool.clone());
    let now = 1_800_000_000_000;
    store.purge(now + 6 * DAY_MS, 90 * DAY_MS, 7 * DAY_MS).await.unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1, "still within its idle time");
    store.purge(now + 7 * DAY_MS, 90 * DAY_MS, 7 * DAY_MS).await.unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0, "idle, so gone");
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_even_when_used() {
    let app = spawn_app().await;
    app.sign_in("a@example.com", "a@example.com").await;
    for _ in 0..4 {
        app.clock.advance_ms(6 * DAY_MS);
        assert_eq!(app.account_page().await.status(), StatusCode::OK);
    }
    // 30 days after signing in, however recently used.
    app.clock.advance_ms(6 * DAY_MS);
    assert_eq!(app.account_page().await.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn last_seen_is_written_at_most_once_an_hour() {
    let app = spawn_app().await;
    app.sign_in("a@example.com", "a@example.com").await;
    let signed_in_at = last_seen(&app).await;
    assert_eq!(signed_in_at, 1_800_000_000_000);
    for _ in 0..5 {
        app.clock.advance_ms(10 * 60_000);
        assert_eq!(app.account_page().await.status(), StatusCode::OK);
        assert_eq!(last_seen(&app).await, signed_in_at, "not written again within the hour");
    }
    app.clock.advance_ms(10 * 60_000 + 1000);
    assert_eq!(app.account_page().await.status(), StatusCode::OK);
    let now = signed_in_at + HOUR_MS + 1000;
    assert_eq!(last_seen(&app).await, now, "written once the hour is over");
    app.clock.advance_ms(59 * 60_000);
    assert_eq!(app.account_page().await.status(), StatusCode::OK);
    assert_eq!(last_seen(&app).await, now);
}

#[tokio::test]
async fn signing_in_again_ends_the_browsers_previous_session() {
    let app = spawn_app().await;
    app.sign_in("a@example.com", "a@example.com").await;
    let first = app.cookie(SESSION).unwrap();
    app.clock.advance_ms(60_000);
    // The same browser, still holding its session, signs in again.
    app.sign_in("a@example.com", "a@example.com").await;
    let second = app.cookie(SESSION).unwrap();
    assert_ne!(first, second);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1);
    app.set_cookie(SESSION, &first);
    assert_eq!(app.account_page().await.status(), StatusCode::FOUND, "the old token opens nothing");
    app.set_cookie(SESSION, &second);
    assert_eq!(app.account_page().await.status(), StatusCode::OK);
    let account = account_json(&app).await;
    assert_eq!(account["sign_ins"][0]["what"], "Signed in with a code", "{account}");
    assert_eq!(account["sign_ins"][1]["what"], "Signed in again in the same browser", "{account}");
}

#[tokio::test]
async fn ending_this_browsers_own_session_signs_it_out() {
    let app = spawn_app().await;
    app.sign_in("a@example.com", "a@example.com").await;
    let account = account_json(&app).await;
    let own = account["sessions"][0]["id"].as_str().unwrap().to_owned();
    let res = app.post("/api/end_session", &[("id", &own)]).await;
    assert_eq!(res.headers()["clear-site-data"], "\"cache\", \"storage\"");
    assert!(app.cookie(SESSION).is_none(), "the cookie is cleared");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
}

/// Signs in as `who` in a fresh "browser" of this app and returns its token.
async fn browser_signs_in(app: &crate::helpers::TestApp, who: &str) -> String {
    app.clear_cookies();
    app.sign_in(who, who).await;
    app.cookie(SESSION).unwrap()
}

/// A server-function post from Firefox on Windows, with the app's cookies.
async fn post_from_firefox(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    let res = app
        .client
        .post(app.url(path))
        .header(USER_AGENT, FIREFOX_ON_WINDOWS)
        .header(reqwest::header::COOKIE, app.cookie_header())
        .form(form)
        .send()
        .await
        .unwrap();
    app.keep_cookies(&res);
    res
}

async fn account_json(app: &crate::helpers::TestApp) -> Value {
    let res = app.post("/api/account", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_revoked_session_is_refused_on_its_next_request() {
    let app = spawn_app().await;
    let laptop = browser_signs_in(&app, "a@example.com").await;
    app.clock.advance_ms(60_000);
    let phone = browser_signs_in(&app, "a@example.com").await;
    let stranger = browser_signs_in(&app, "b@example.com").await;

    app.set_cookie(SESSION, &phone);
    let account = account_json(&app).await;
    let sessions = account["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "only this account's: {account}");
    let laptop_id = sessions.iter().find(|s| s["this_browser"] == false).unwrap()["id"].as_str().unwrap().to_owned();
    // Nobody can end another account's session by naming it.
    app.set_cookie(SESSION, &stranger);
    let res = app.post("/api/end_session", &[("id", &laptop_id)]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    app.set_cookie(SESSION, &laptop);
    assert_eq!(app.account_page().await.status(), StatusCode::OK, "still alive");

    app.set_cookie(SESSION, &phone);
    let res = app.post("/api/end_session", &[("id", &laptop_id)]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    app.set_cookie(SESSION, &laptop);
    assert_eq!(app.account_page().await.status(), StatusCode::FOUND, "refused at once");
    app.set_cookie(SESSION, &phone);
    assert_eq!(app.account_page().await.status(), StatusCode::OK);
    app.set_cookie(SESSION, &stranger);
    assert_eq!(app.account_page().await.status(), StatusCode::OK);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 2);
}

#[tokio::test]
async fn sign_out_everywhere_else_ends_the_others_on_every_instance() {
    let dir = std::env::temp_dir().join(format!("passcode-sessions-{}", app::domain::random_id()));
    let db = TestDatabase::create(&dir).await;
    // The second browser asks for the same address right after the first:
    // a one-second cool-down, waited out below (these servers keep real time).
    let settings = [("PASSCODE_RESEND_COOLDOWN_SECS", "1")];
    let a = start(&dir, &db.url, &settings);
    let b = start(&dir, &db.url, &settings);
    let sign_in = |base: String| async move {
        let browser = Browser::new();
        assert_eq!(
            browser.post(&base, "/api/request_code", &[("identifier", "x@example.com")]).await.status(),
            StatusCode::OK
        );
        let code = latest_code(&base, "x@example.com").await;
        assert_eq!(browser.post(&base, "/api/verify_code", &[("code", &code)]).await.status(), StatusCode::OK);
        browser
    };
    let first = sign_in(a.base.clone()).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = sign_in(b.base.clone()).await;
    for browser in [&first, &second] {
        assert_eq!(browser.account(&a.base).await, StatusCode::OK);
        assert_eq!(browser.account(&b.base).await, StatusCode::OK);
    }
    // The first browser, on instance A, ends the other sessions...
    let res = first.post(&a.base, "/api/end_other_sessions", &[]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    // ...and the second is refused on B at once, with no cache to wait out.
    assert_eq!(second.account(&b.base).await, StatusCode::FOUND);
    assert_eq!(second.account(&a.base).await, StatusCode::FOUND);
    assert_eq!(first.account(&b.base).await, StatusCode::OK);
    assert_eq!(first.account(&a.base).await, StatusCode::OK);
    drop((a, b));
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_account_page_lists_sessions_and_recent_activity() {
    let app = spawn_app().await;
    // Another browser first: Firefox on Windows, with a wrong code on the way.
    post_from_firefox(&app, "/api/request_code", &[("identifier", "a@example.com")]).await;
    let code = app.latest_code("a@example.com").await;
    assert_eq!(app.verify(&crate::helpers::TestApp::wrong(&code)).await.status(), StatusCode::UNAUTHORIZED);
    let res = post_from_firefox(&app, "/api/verify_code", &[("code", code.as_str())]).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.clock.advance_ms(60_000);
    browser_signs_in(&app, "a@example.com").await;

    let page = app.account_page().await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert_eq!(html.matches("data-testid=\"session\"").count(), 2, "{html}");
    assert_eq!(html.matches("(this browser)").count(), 1);
    assert!(html.contains("Firefox on Windows"), "a summary of the other browser");
    assert!(!html.contains("Gecko/20100101"), "never the raw User-Agent");
    assert!(html.contains("Sign out everywhere else"));
    assert!(html.contains("127.0.0.1"));
    // Sign-ins first, then everything else, each newest first: the second
    // sign-in and the first; the second code, the wrong code, the first code.
    let list = |testid: &str| -> Vec<String> {
        let part = html.split(&format!("data-testid=\"{testid}\"")).nth(1).unwrap().split("</ul>").next().unwrap();
        part.split("class=\"event-what\">").skip(1).map(|s| s.split('<').next().unwrap().to_owned()).collect()
    };
    assert_eq!(list("sign-ins"), ["Signed in with a code", "Signed in with a code"], "{html}");
    assert_eq!(
        list("other-activity"),
        ["Sign-in code sent by email", "Wrong code entered", "Sign-in code sent by email"],
        "{html}"
    );
    assert!(html.find("Recent sign-ins").unwrap() < html.find("Other security activity").unwrap());
    assert!(html.contains("January 15, 2027, 08:0"), "dates are shown in UTC: {html}");
    // Someone else's activity is not shown.
    app.clear_cookies();
    app.request_code("b@example.com").await;
    app.clock.advance_ms(5 * 60_000);
    browser_signs_in(&app, "a@example.com").await;
    let account = account_json(&app).await;
    let whats = |list: &str| -> Vec<String> {
        account[list].as_array().unwrap().iter().map(|e| e["what"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(whats("sign_ins"), ["Signed in with a code"; 3], "{account}");
    assert_eq!(
        whats("activity"),
        [
            "Sign-in code sent by email",
            "Sign-in code sent by email",
            "Wrong code entered",
            "Sign-in code sent by email"
        ],
        "a's events only, not the code sent to b: {account}"
    );
}

#[tokio::test]
async fn the_activity_list_shows_the_last_twenty() {
    let app = spawn_app_with(&[
        ("PASSCODE_RESEND_COOLDOWN_SECS", "1"),
        ("PASSCODE_CODES_PER_HOUR", "1000"),
        ("PASSCODE_CODES_PER_DAY", "1000"),
    ])
    .await;
    for _ in 0..25 {
        browser_signs_in(&app, "a@example.com").await;
        app.clock.advance_ms(20 * 60_000);
    }
    let account = account_json(&app).await;
    for list in ["sign_ins", "activity"] {
        assert_eq!(account[list].as_array().unwrap().len(), 20, "{list}: {account}");
    }
    assert_eq!(account["sign_ins"][0]["what"], "Signed in with a code", "newest first: {account}");
    assert_eq!(account["activity"][0]["what"], "Sign-in code sent by email", "newest first: {account}");
}

/// Refused requests and wrong codes, which anyone can cause for any address,
/// never push an intruder's sign-in out of the owner's sight.
#[tokio::test]
async fn a_flood_of_refusals_cannot_hide_an_intruders_sign_in() {
    let app = spawn_app_with(&[("PASSCODE_RESEND_COOLDOWN_SECS", "1")]).await;
    // The intruder signs in from Firefox on Windows.
    post_from_firefox(&app, "/api/request_code", &[("identifier", "a@example.com")]).await;
    let code = app.latest_code("a@example.com").await;
    let res = post_from_firefox(&app, "/api/verify_code", &[("code", code.as_str())]).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Then covers the tracks: 40 refused requests and wrong codes.
    app.clear_cookies();
    for _ in 0..40 {
        let res = app.request_code("a@example.com").await;
        if res.status() == StatusCode::OK {
            let code = app.latest_code("a@example.com").await;
            app.verify(&TestApp::wrong(&code)).await;
        }
    }
    assert!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind <> 'signed_in'").await > 30);
    app.clock.advance_ms(20 * 60_000);
    browser_signs_in(&app, "a@example.com").await;
    let account = account_json(&app).await;
    let sign_ins = account["sign_ins"].as_array().unwrap();
    assert_eq!(sign_ins.len(), 2, "{account}");
    assert_eq!(sign_ins[1]["from"], "127.0.0.1 (Firefox on Windows)", "the intruder's sign-in: {account}");
}

#[tokio::test]
async fn sign_out_clears_site_data_and_the_session() {
    let app = spawn_app().await;
    app.sign_in("a@example.com", "a@example.com").await;
    let token = app.cookie(SESSION).unwrap();
    let res = app.post("/api/sign_out", &[]).await;
    assert_eq!(res.headers()["clear-site-data"], "\"cache\", \"storage\"");
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
    app.set_cookie(SESSION, &token);
    assert_eq!(app.account_page().await.status(), StatusCode::FOUND);
    let account = account_json(&app).await;
    assert_eq!(account, Value::Null);
}
