//! SMS through a provider's HTTP API, against a fake provider on loopback
//! that records what it gets and can refuse, fail or hang.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use axum::routing::post;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Accept,
    Reject,
    Fail,
    Hang,
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    /// (path, authorization header, body) of every request.
    seen: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Fake {
    async fn start() -> (Fake, String) {
        let fake = Fake { mode: Arc::new(Mutex::new(Mode::Accept)), seen: Default::default() };
        async fn handle(
            State(f): State<Fake>,
            uri: axum::http::Uri,
            headers: HeaderMap,
            body: String,
        ) -> (AxStatus, String) {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            f.seen.lock().unwrap().push((uri.path().to_owned(), auth, body));
            let mode = *f.mode.lock().unwrap();
            match mode {
                Mode::Accept => (AxStatus::CREATED, r#"{"sid":"SM1"}"#.into()),
                Mode::Reject => {
                    (AxStatus::BAD_REQUEST, r#"{"code":21211,"message":"Invalid 'To' Phone Number"}"#.into())
                }
                Mode::Fail => (AxStatus::INTERNAL_SERVER_ERROR, "upstream trouble".into()),
                Mode::Hang => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    (AxStatus::CREATED, String::new())
                }
            }
        }
        let router = axum::Router::new().route("/{*path}", post(handle)).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (fake, base)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn requests(&self) -> Vec<(String, String, String)> {
        self.seen.lock().unwrap().clone()
    }

    /// The code in the last message (the WebOTP line ends with `#<code>`).
    fn last_code(&self) -> String {
        let (_, _, body) = self.requests().pop().expect("a request reached the provider");
        let decoded = if body.starts_with('{') {
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["body"].as_str().unwrap().to_owned()
        } else {
            form_value(&body, "Body")
        };
        decoded.rsplit('#').next().unwrap().trim().to_owned()
    }
}

/// One field of a form-encoded body, decoded.
fn form_value(body: &str, key: &str) -> String {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| decode(k) == key)
        .map(|(_, v)| decode(v))
        .unwrap_or_default()
}

fn decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

async fn twilio_app(base: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![
        // A real provider is a deployment's setting: development by name.
        ("PASSCODE_ENV", "development"),
        ("PASSCODE_SMS_PROVIDER", "twilio"),
        ("PASSCODE_SMS_BASE_URL", base),
        ("PASSCODE_TWILIO_ACCOUNT_SID", "AC123"),
        ("PASSCODE_TWILIO_AUTH_TOKEN", "tok-secret"),
        ("PASSCODE_TWILIO_FROM", "+15005550006"),
        ("PASSCODE_SMS_TIMEOUT_MS", "400"),
    ];
    env.extend_from_slice(extra);
    spawn_app_with(&env).await
}

#[tokio::test]
async fn not_you_from_a_real_text_message_ends_the_code() {
    let (fake, base) = Fake::start().await;
    let app = twilio_app(&base, &[]).await;
    assert_eq!(app.request_code("+44 7911 123456").await.status(), StatusCode::OK);
    let (_, _, body) = fake.requests().pop().unwrap();
    let text = form_value(&body, "Body");
    let code = fake.last_code();
    assert!(text.ends_with(&format!("#{code}")), "the one-time-code line stays last: {text:?}");
    let report = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://127.0.0.1:3000"))
        .filter(|p| p.starts_with("/n?t="))
        .unwrap_or_else(|| panic!("no report link in {text:?}"))
        .to_owned();
    assert!(text.len() < 200, "short: {text:?}");

    let phone = crate::two_instances::Browser::new();
    let server = app.url("");
    assert_eq!(phone.get(&server, &report).await.status(), StatusCode::SEE_OTHER);
    let page = phone.get(&server, "/not-you").await.text().await.unwrap();
    assert!(page.contains("text message") && page.contains("+44 •••• •••456"), "{page}");
    phone.post(&server, "/api/report_not_me", &[]).await;
    assert_eq!(error_of(app.verify(&code).await).await, json!("CodeExpired"));
    // Once: a second press changes nothing, and says so.
    phone.cookies.set("__Host-passcode_report", report.trim_start_matches("/n?t="));
    phone.post(&server, "/api/report_not_me", &[]).await;
    let page = phone.get(&server, "/not-you").await.text().await.unwrap();
    assert!(page.contains("Already reported"), "{page}");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'sign_in_reported'").await, 1);
}

#[tokio::test]
async fn twilio_happy_path_sends_the_right_request_and_the_code_signs_in() {
    let (fake, base) = Fake::start().await;
    let app = twilio_app(&base, &[]).await;
    assert_eq!(app.request_code("+44 7911 123456").await.status(), StatusCode::OK);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let (path, auth, body) = &requests[0];
    assert_eq!(path, "/2010-04-01/Accounts/AC123/Messages.json");
    // Basic base64("AC123:tok-secret")
    assert_eq!(auth, "Basic QUMxMjM6dG9rLXNlY3JldA==");
    assert_eq!(form_value(body, "To"), "+447911123456");
    assert_eq!(form_value(body, "From"), "+15005550006");
    let text = form_value(body, "Body");
    let code = fake.last_code();
    assert!(text.starts_with("Your Passcode sign-in code is"), "{text}");
    assert!(text.ends_with(&format!("\n\n@127.0.0.1 #{code}")), "{text}");
    // Not in the dev outbox: it really went out.
    assert!(app.outbox().await.is_empty());
    assert_eq!(app.verify(&code).await.status(), StatusCode::OK);
    // Email still goes to the outbox.
    assert_eq!(app.request_code("a@example.com").await.status(), StatusCode::OK);
    assert_eq!(app.outbox().await.len(), 1);
}

#[tokio::test]
async fn webhook_provider_gets_json_and_a_bearer_token() {
    let (fake, base) = Fake::start().await;
    let url = format!("{base}/send");
    let app = spawn_app_with(&[
        ("PASSCODE_ENV", "development"),
        ("PASSCODE_SMS_PROVIDER", "webhook"),
        ("PASSCODE_SMS_WEBHOOK_URL", &url),
        ("PASSCODE_SMS_WEBHOOK_TOKEN", "hook-token"),
    ])
    .await;
    assert_eq!(app.request_code("+1 201 555 0123").await.status(), StatusCode::OK);
    let (path, auth, body) = fake.requests().pop().unwrap();
    assert_eq!(path, "/send");
    assert_eq!(auth, "Bearer hook-token");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["to"], "+12015550123");
    assert_eq!(app.verify(&fake.last_code()).await.status(), StatusCode::OK);
}

async fn assert_failed_cleanly(app: &TestApp, res: reqwest::Response) {
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_of(res).await, json!({"DeliveryFailed": {"destination": "+44 •••• •••456", "by_sms": true}}));
    // No usable code was left behind, and the operator can see why.
    assert_eq!(app.count("SELECT COUNT(*) FROM challenges WHERE superseded_at IS NULL").await, 0);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'delivery_failed' \
             AND (detail LIKE '%provider answered%' OR detail LIKE '%timed out%' OR detail LIKE '%request failed%')"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_4xx_is_not_retried() {
    let (fake, base) = Fake::start().await;
    let app = twilio_app(&base, &[]).await;
    fake.set(Mode::Reject);
    let res = app.request_code("+447911123456").await;
    assert_eq!(fake.requests().len(), 1);
    assert_failed_cleanly(&app, res).await;
}

#[tokio::test]
async fn a_5xx_is_retried_once() {
    let (fake, base) = Fake::start().await;
    let app = twilio_app(&base, &[]).await;
    fake.set(Mode::Fail);
    let res = app.request_code("+447911123456").await;
    assert_eq!(fake.requests().len(), 2);
    assert_failed_cleanly(&app, res).await;
}

#[tokio::test]
async fn a_hanging_provider_times_out_after_one_retry() {
    let (fake, base) = Fake::start().await;
    let app = twilio_app(&base, &[]).await;
    fake.set(Mode::Hang);
    let started = Instant::now();
    let res = app.request_code("+447911123456").await;
    let took = started.elapsed();
    assert_eq!(fake.requests().len(), 2);
    assert!(took < Duration::from_secs(3), "two 400 ms timeouts took {took:?}");
    assert_failed_cleanly(&app, res).await;
    // The server is fine: email still works.
    assert_eq!(app.request_code("a@example.com").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_refused_connection_fails_cleanly() {
    // A port nothing listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = twilio_app(&base, &[]).await;
    let res = app.request_code("+447911123456").await;
    assert_failed_cleanly(&app, res).await;
}

#[tokio::test]
async fn a_slow_provider_gets_a_bounded_number_of_sends_and_the_rest_are_told_to_retry() {
    let (fake, base) = Fake::start().await;
    let app =
        Arc::new(twilio_app(&base, &[("PASSCODE_SMS_MAX_IN_FLIGHT", "1"), ("PASSCODE_SMS_TIMEOUT_MS", "1500")]).await);
    fake.set(Mode::Hang);
    let slow = {
        let app = app.clone();
        tokio::spawn(async move { app.request_code("+447911123456").await.status() })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let spent = || async {
        let budget = app.count("SELECT hour_count FROM sms_budget WHERE id = 1").await;
        let shares = app.count("SELECT CAST(COALESCE(SUM(hour_count), 0) AS BIGINT) FROM sms_senders").await;
        let sends = app
            .count("SELECT CAST(COALESCE(SUM(hour_count), 0) AS BIGINT) FROM destinations WHERE destination NOT LIKE 'from:%'")
            .await;
        (budget, shares, sends)
    };
    let before = spent().await;
    assert_eq!(
        before,
        (1, 2, 1),
        "the slow one: one text from the budget, the client's and its network's share, one send"
    );
    // While the provider hangs, more texts are turned away as busy, to the
    // same number and to others, and spend nothing: not the global budget,
    // not the client's share, not the number's allowance.
    for number in ["+447911123457", "+447911123456", "+447911123458"] {
        let res = app.request_code(number).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{number}");
        assert_eq!(error_of(res).await, json!("DeliveryBusy"));
    }
    assert_eq!(spent().await, before, "busy answers spent nothing");
    assert_eq!(slow.await.unwrap(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn the_country_allow_list_turns_other_numbers_away() {
    let (fake, base) = Fake::start().await;
    let app = twilio_app(&base, &[("PASSCODE_SMS_COUNTRIES", "44, +1")]).await;
    assert_eq!(app.request_code("+447911123456").await.status(), StatusCode::OK);
    assert_eq!(app.request_code("+12015550123").await.status(), StatusCode::OK);
    let res = app.request_code("+49 30 901820").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_of(res).await,
        json!({"InvalidIdentifier": "We can't send text messages to numbers in that country. Please use your email address instead."})
    );
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn the_provider_gets_e164_however_the_number_was_typed() {
    let (fake, base) = Fake::start().await;
    let app = twilio_app(&base, &[]).await;
    // UK, US, India, Germany; spaces, dashes, brackets, dots, a leading 00.
    let table = [
        ("+44 7911 123456", "+447911123456"),
        ("0044-7911-123-457", "+447911123457"),
        ("+44 (0) 7911 123458", "+447911123458"),
        ("+1 (201) 555-0123", "+12015550123"),
        ("001 201.555.0124", "+12015550124"),
        ("+91 98765 43210", "+919876543210"),
        ("0091-98765-43211", "+919876543211"),
        ("+49 (30) 901820", "+4930901820"),
        ("0049 30 901821", "+4930901821"),
    ];
    for (i, (typed, e164)) in table.iter().enumerate() {
        let res = app.request_code(typed).await;
        assert_eq!(res.status(), StatusCode::OK, "{typed}: {:?}", res.text().await);
        let requests = fake.requests();
        assert_eq!(requests.len(), i + 1);
        assert_eq!(form_value(&requests[i].2, "To"), *e164, "{typed}");
    }
}
