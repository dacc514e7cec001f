//! Approving a sign-in from another device, and "Not you?" (issue 23): two
//! browsers against one server, the messages read from the dev outbox.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, error_of, shown_on, spawn_app, spawn_app_with};
use crate::two_instances::Browser;

const BASE_URL: &str = "http://127.0.0.1:3000";
const MINUTE: i64 = 60 * 1000;

/// The path and query of the link in the latest message to `to` that
/// starts with `prefix` (after the public URL).
async fn link_to(app: &TestApp, to: &str, prefix: &str) -> String {
    let outbox = app.outbox().await;
    let msg = outbox.iter().find(|m| m["to"] == to).unwrap_or_else(|| panic!("no message to {to}"));
    let body = msg["body"].as_str().unwrap();
    body.split_whitespace()
        .filter_map(|w| w.strip_prefix(BASE_URL))
        .find(|p| p.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} link in {body:?}"))
        .to_owned()
}

fn messages_to(outbox: &[serde_json::Value], to: &str) -> usize {
    outbox.iter().filter(|m| m["to"] == to).count()
}

/// The number a page shows in its `data-testid="pair-number"` element.
fn pair_number_on(page: &str) -> Option<String> {
    let at = page.find(r#"data-testid="pair-number""#)?;
    let text = &page[at..][page[at..].find('>')? + 1..];
    Some(text.split('<').next()?.trim().to_owned())
}

/// What the waiting page's event stream says: the event's data, or
/// `waiting` when the server only says when to ask again.
async fn approval_status(app: &TestApp) -> String {
    let res = app.get("/sign-in/approval").await;
    // Nothing to wait for: the browser's EventSource stops on a 204.
    if res.status() == StatusCode::NO_CONTENT {
        return "closed".to_owned();
    }
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = res.text().await.unwrap();
    match body.lines().find_map(|l| l.strip_prefix("data: ")) {
        Some(data) => data.to_owned(),
        None => {
            assert!(body.starts_with("retry: 2000\nid: 1\n"), "{body:?}");
            "waiting".to_owned()
        }
    }
}

/// The phone opens the email's link and reads its page.
async fn open_on(phone: &Browser, app: &TestApp, link: &str) -> String {
    let base = app.url("");
    let res = phone.get(&base, link).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    phone.get(&base, "/sign-in/confirm").await.text().await.unwrap()
}

#[tokio::test]
async fn a_sign_in_approved_on_another_device_signs_in_only_the_browser_that_asked() {
    let app = spawn_app().await;
    let base = app.url("");
    app.request_code("laptop@example.com").await;
    let code = app.latest_code("laptop@example.com").await;
    let link = link_to(&app, "laptop@example.com", "/sign-in/email-link?token=").await;

    // The laptop's code page shows a number and waits.
    let laptop_page = app.get("/verify").await.text().await.unwrap();
    let number = pair_number_on(&laptop_page).expect("the code page shows the number");
    assert_eq!(number.len(), 2, "{number}");
    assert!(laptop_page.contains(r#"data-approval="/sign-in/approval""#), "the page polls: {laptop_page}");
    assert_eq!(approval_status(&app).await, "waiting");
    // The browser asks less often each time, up to every 10 s.
    for (asked, retry) in [("1", "retry: 3000\nid: 2"), ("5", "retry: 10000\nid: 6"), ("x", "retry: 2000\nid: 1")] {
        let res = app
            .client
            .get(app.url("/sign-in/approval"))
            .header("cookie", app.cookie_header())
            .header("last-event-id", asked)
            .send()
            .await
            .unwrap();
        assert!(res.text().await.unwrap().starts_with(retry), "after {asked}");
    }
    assert_eq!(error_of(app.post("/api/check_approval", &[]).await).await, json!("NotApprovedYet"));

    // The phone: another browser, so the page says so and offers approval,
    // with the same number and where the request came from.
    let phone = Browser::new();
    let page = open_on(&phone, &app, &link).await;
    assert!(page.contains("asked for on another device"), "{page}");
    assert!(page.contains("Approve sign-in on that device"), "{page}");
    assert!(page.contains("Sign in on this device instead") && page.contains("That wasn"), "{page}");
    assert!(page.contains("127.0.0.1"), "where it came from: {page}");
    assert_eq!(pair_number_on(&page).as_deref(), Some(number.as_str()), "both show the same number");
    assert!(!page.contains(&code), "the page never shows the code");
    let shown = shown_on(&page).unwrap();

    let res = phone.post(&base, "/api/approve_link", &[("shown", &shown)]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{:?}", res.status());
    assert!(phone.cookies.get("__Host-passcode_session").is_none(), "the phone gets no session");
    assert_eq!(phone.account(&base).await, StatusCode::FOUND, "the phone is not signed in");

    // The laptop notices, and opens its session; the code no longer works.
    assert_eq!(approval_status(&app).await, "approved");
    assert_eq!(error_of(app.verify(&code).await).await, json!("ApprovedElsewhere"));
    let page = app.get("/verify").await.text().await.unwrap();
    assert!(page.contains("Approved on your other device"), "{page}");
    let res = app.post("/api/check_approval", &[]).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    assert!(app.cookie("__Host-passcode_session").is_some(), "the laptop is signed in");
    let account = app.account_page().await.text().await.unwrap();
    assert!(account.contains("laptop@example.com"), "{account}");
    assert!(account.contains("Signed in, approved from another device"), "{account}");
    assert!(account.contains("Approved a sign-in for 127.0.0.1"), "{account}");
    // Once: the session is not opened twice, and the link is used.
    assert_eq!(error_of(app.post("/api/check_approval", &[]).await).await, json!("NoChallenge"));
    let third = Browser::new();
    let page = open_on(&third, &app, &link).await;
    assert!(page.contains("This link can"), "a used link says so: {page}");
    let res = phone.post(&base, "/api/approve_link", &[("shown", &shown)]).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1);
}

#[tokio::test]
async fn an_approval_picked_up_late_or_raced_by_the_code_counts_once() {
    let app = spawn_app().await;
    let base = app.url("");
    app.request_code("late@example.com").await;
    let code = app.latest_code("late@example.com").await;
    let link = link_to(&app, "late@example.com", "/sign-in/email-link?token=").await;
    // Approved a moment before the code would expire: the laptop still has
    // two minutes to pick it up.
    app.clock.advance_ms(10 * MINUTE - 1000);
    let phone = Browser::new();
    let shown = shown_on(&open_on(&phone, &app, &link).await).unwrap();
    phone.post(&base, "/api/approve_link", &[("shown", &shown)]).await;
    app.clock.advance_ms(MINUTE);
    assert_eq!(approval_status(&app).await, "approved");
    assert_eq!(error_of(app.verify(&code).await).await, json!("ApprovedElsewhere"));
    app.clock.advance_ms(2 * MINUTE);
    assert_eq!(approval_status(&app).await, "closed", "not forever");
    assert_eq!(error_of(app.post("/api/check_approval", &[]).await).await, json!("CodeExpired"));
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);

    // The code typed first: the link can no longer approve anything.
    app.clock.advance_ms(60 * MINUTE);
    app.request_code("late@example.com").await;
    let code = app.latest_code("late@example.com").await;
    let link = link_to(&app, "late@example.com", "/sign-in/email-link?token=").await;
    let phone = Browser::new();
    let shown = shown_on(&open_on(&phone, &app, &link).await).unwrap();
    assert_eq!(app.verify(&code).await.status(), StatusCode::OK);
    let res = phone.post(&base, "/api/approve_link", &[("shown", &shown)]).await;
    assert_eq!(res.status(), StatusCode::GONE);
}

#[tokio::test]
async fn that_wasnt_me_on_the_phone_ends_the_laptops_code() {
    let app = spawn_app().await;
    let base = app.url("");
    app.request_code("victim@example.com").await;
    let code = app.latest_code("victim@example.com").await;
    let link = link_to(&app, "victim@example.com", "/sign-in/email-link?token=").await;
    let phone = Browser::new();
    let shown = shown_on(&open_on(&phone, &app, &link).await).unwrap();
    let res = phone.post(&base, "/api/report_link", &[("shown", &shown)]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{:?}", res.status());
    let page = phone.get(&base, "/not-you").await.text().await.unwrap();
    assert!(page.contains("Thanks for telling us"), "{page}");

    assert_eq!(approval_status(&app).await, "closed");
    assert_eq!(error_of(app.verify(&code).await).await, json!("CodeExpired"));
    assert_eq!(error_of(app.post("/api/check_approval", &[]).await).await, json!("CodeExpired"));
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'sign_in_reported'").await, 1);
    let page = open_on(&Browser::new(), &app, &link).await;
    assert!(page.contains("This link can"), "{page}");
}

#[tokio::test]
async fn not_you_ends_the_code_and_holds_back_strangers_for_a_day() {
    // Every browser here is 127.0.0.1: only the limits per address count.
    let app = spawn_app_with(&[("PASSCODE_IP_SEND_BURST", "1000"), ("PASSCODE_IP_VERIFY_BURST", "1000")]).await;
    let base = app.url("");
    let owner = "owner@example.com";
    // The owner's own browser signed in before (it has the device cookie).
    app.sign_in(owner, owner).await;
    app.post("/api/sign_out", &[]).await;
    assert!(app.cookie("__Host-passcode_device").is_some());

    // A stranger asks for a code to the owner's address.
    app.clock.advance_ms(10 * MINUTE);
    let stranger = Browser::forwarded("198.51.100.7");
    let res = stranger.post(&base, "/api/request_code", &[("identifier", owner)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let before = messages_to(&app.outbox().await, owner);
    let report = link_to(&app, owner, "/n?t=").await;
    assert!(report.len() < 30, "short enough for a text message: {report}");

    // The owner opens "Not you?" from the message, in any browser: the page
    // shows what was asked and changes nothing by itself.
    let phone = Browser::new();
    let res = phone.get(&base, &report).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/not-you");
    let token = report.trim_start_matches("/n?t=");
    let page = phone.get(&base, "/not-you").await.text().await.unwrap();
    assert!(page.contains("o•••@example.com"), "{page}");
    assert!(page.contains("198.51.100.7") || page.contains("127.0.0.1"), "where from: {page}");
    assert!(!page.contains(token), "the page never shows the token");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'sign_in_reported'").await, 0);
    let res = phone.post(&base, "/api/report_not_me", &[]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{:?}", res.status());

    // The stranger's code is dead.
    let code = app.latest_code(owner).await;
    let res = stranger.post(&base, "/api/verify_code", &[("code", &code)]).await;
    assert_eq!(error_of(res).await, json!("CodeExpired"));

    // A stranger asking again gets the usual answer (no refusal sooner than
    // ever) and no message.
    app.clock.advance_ms(10 * MINUTE);
    let res = stranger.post(&base, "/api/request_code", &[("identifier", owner)]).await;
    assert_eq!(res.status(), StatusCode::OK, "the same answer as ever");
    assert!(stranger.cookies.get("__Host-passcode_pending").is_some(), "a code page to wait on");
    let page = stranger.get(&base, "/verify").await.text().await.unwrap();
    assert!(pair_number_on(&page).is_some(), "the code page looks like any other: {page}");
    assert!(page.contains("o•••@example.com"), "{page}");
    assert_eq!(messages_to(&app.outbox().await, owner), before, "nothing reaches the owner");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'code_withheld'").await, 1);
    let guess = stranger.post(&base, "/api/verify_code", &[("code", "000000")]).await;
    assert_eq!(error_of(guess).await["WrongCode"]["attempts_left"], 4, "a guess reads like any other");

    // The owner's known browser still gets codes, half as many an hour.
    app.clock.advance_ms(10 * MINUTE);
    assert_eq!(app.request_code(owner).await.status(), StatusCode::OK);
    assert_eq!(messages_to(&app.outbox().await, owner), before + 1);
    app.clock.advance_ms(2 * MINUTE);
    assert_eq!(app.request_code(owner).await.status(), StatusCode::OK);
    app.clock.advance_ms(2 * MINUTE);
    assert_eq!(app.request_code(owner).await.status(), StatusCode::TOO_MANY_REQUESTS, "2 an hour, not 5");
    let code = app.latest_code(owner).await;
    assert_eq!(app.verify(&code).await.status(), StatusCode::OK);
    let account = app.account_page().await.text().await.unwrap();
    assert!(account.contains("You reported a sign-in you didn"), "{account}");
    assert!(account.contains("not sent"), "the withheld code is listed: {account}");

    // A second press changes nothing.
    phone.cookies.set("__Host-passcode_report", token);
    let until: i64 = app.count("SELECT reported_until FROM reported_addresses").await;
    app.clock.advance_ms(MINUTE);
    phone.post(&base, "/api/report_not_me", &[]).await;
    let page = phone.get(&base, "/not-you").await.text().await.unwrap();
    assert!(page.contains("Already reported"), "{page}");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'sign_in_reported'").await, 1);
    assert_eq!(app.count("SELECT reported_until FROM reported_addresses").await, until);

    // A day later strangers get codes again (and the link is dead).
    app.clock.advance_ms(24 * 60 * MINUTE);
    let res = stranger.post(&base, "/api/request_code", &[("identifier", owner)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(messages_to(&app.outbox().await, owner), before + 3);
    phone.cookies.set("__Host-passcode_report", token);
    assert_eq!(error_of(phone.post(&base, "/api/report_not_me", &[]).await).await, json!("ReportUnusable"));
}

#[tokio::test]
async fn made_up_and_malformed_report_links_change_nothing() {
    let app = spawn_app().await;
    let base = app.url("");
    let phone = Browser::new();
    for path in ["/n?t=short", "/n", &format!("/n?t={}", app::domain::ReportToken::generate().expose())] {
        let res = phone.get(&base, path).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        let page = phone.get(&base, "/not-you").await.text().await.unwrap();
        assert!(page.contains("This link can"), "{path}: {page}");
        assert_eq!(error_of(phone.post(&base, "/api/report_not_me", &[]).await).await, json!("ReportUnusable"));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM reported_addresses").await, 0);
}

#[tokio::test]
async fn a_report_of_a_used_code_ends_its_session_and_every_code_to_the_inbox() {
    let app = spawn_app_with(&[("PASSCODE_IP_SEND_BURST", "1000"), ("PASSCODE_IP_VERIFY_BURST", "1000")]).await;
    let base = app.url("");
    // A stranger got in with a code (they read the inbox for a moment)...
    let stranger = Browser::new();
    stranger.post(&base, "/api/request_code", &[("identifier", "inbox@example.com")]).await;
    let code = app.latest_code("inbox@example.com").await;
    let report = link_to(&app, "inbox@example.com", "/n?t=").await;
    let res = stranger.post(&base, "/api/verify_code", &[("code", &code)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(stranger.account(&base).await, StatusCode::OK);
    // ... and has another code on its way to the same inbox, under a tag.
    app.clock.advance_ms(MINUTE);
    let other = Browser::new();
    other.post(&base, "/api/request_code", &[("identifier", "inbox+x@example.com")]).await;
    let tagged = app.latest_code("inbox+x@example.com").await;

    // The owner reports the message whose code was used.
    let owner = Browser::new();
    owner.get(&base, &report).await;
    owner.post(&base, "/api/report_not_me", &[]).await;
    let page = owner.get(&base, "/not-you").await.text().await.unwrap();
    assert!(page.contains("already been used to sign in") && page.contains("signed out"), "{page}");
    assert_eq!(stranger.account(&base).await, StatusCode::FOUND, "the session the code opened is gone");
    let res = other.post(&base, "/api/verify_code", &[("code", &tagged)]).await;
    assert_eq!(error_of(res).await, json!("CodeExpired"), "the same inbox's other code ends too");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
}

#[tokio::test]
async fn reports_of_two_messages_at_once_both_get_an_answer() {
    let app = spawn_app_with(&[("PASSCODE_IP_SEND_BURST", "1000"), ("PASSCODE_IP_VERIFY_BURST", "1000")]).await;
    let base = app.url("");
    let mut reports = Vec::new();
    for _ in 0..2 {
        Browser::new().post(&base, "/api/request_code", &[("identifier", "twice@example.com")]).await;
        reports.push(link_to(&app, "twice@example.com", "/n?t=").await);
        app.clock.advance_ms(2 * MINUTE);
    }
    // The same address, two messages, two presses at the same moment: on
    // Postgres each locks its own message first unless the address is
    // locked before either (a deadlock would be a 500).
    let (a, b) = (Browser::new(), Browser::new());
    a.get(&base, &reports[0]).await;
    b.get(&base, &reports[1]).await;
    let (ra, rb) = tokio::join!(a.post(&base, "/api/report_not_me", &[]), b.post(&base, "/api/report_not_me", &[]));
    assert!(ra.status().is_success() && rb.status().is_success(), "{} {}", ra.status(), rb.status());
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'sign_in_reported'").await, 1);
}
