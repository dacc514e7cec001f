//! Authenticator apps and backup codes (issue 23, item 3): set up from the
//! account page, then asked for after every code, link or approval. The
//! test computes the app's codes with its own HMAC-SHA-1 (RFC 6238), from
//! the secret the set-up page shows, never with the server's code.

use app::auth::Clock;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::json;

use crate::helpers::{TestApp, error_of, spawn_app_with};
use crate::two_instances::{Browser, start};

const EMAIL: &str = "tess@example.com";
const SECOND_STEP: &str = "/sign-in/authenticator";
const SETUP: &str = "/account/authenticator";
const STEP_MS: i64 = 30_000;

/// RFC 4648 base32 (no padding), as authenticator apps read the key.
pub(crate) fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u64, Vec::new());
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = ALPHABET.iter().position(|a| *a == c).unwrap_or_else(|| panic!("not base32: {c}")) as u64;
        value = (value << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
        }
    }
    out
}

/// The 6-digit code an app shows at `unix_ms` (RFC 6238 over RFC 4226).
pub(crate) fn totp(secret: &[u8], unix_ms: i64) -> String {
    use hmac::{Hmac, Mac};
    let counter = (unix_ms / 1000 / 30) as u64;
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret).unwrap();
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let at = (hash[19] & 0x0f) as usize;
    let n = u32::from_be_bytes([hash[at] & 0x7f, hash[at + 1], hash[at + 2], hash[at + 3]]);
    format!("{:06}", n % 1_000_000)
}

/// The texts of the `<code>` elements after `marker` on a page, up to the
/// end of its list.
pub(crate) fn codes_after(page: &str, marker: &str) -> Vec<String> {
    let Some(at) = page.find(marker) else { return Vec::new() };
    let rest = &page[at..];
    let end = rest.find("</ul>").or_else(|| rest.find("</p>")).unwrap_or(rest.len());
    rest[..end].split("<code>").skip(1).map(|c| c.split('<').next().unwrap().trim().to_owned()).collect()
}

/// The path of the link in the latest message to `EMAIL` that starts
/// with `prefix` (after the public URL).
async fn link_in_latest(app: &TestApp, prefix: &str) -> String {
    let outbox = app.outbox().await;
    let body = outbox.iter().find(|m| m["to"] == EMAIL).unwrap()["body"].as_str().unwrap().to_owned();
    body.split_whitespace()
        .filter_map(|w| w.strip_prefix("http://127.0.0.1:3000"))
        .find(|p| p.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} link in {body}"))
        .to_owned()
}

/// "Not you?" pressed in another browser, on the latest message's link.
async fn report_latest(app: &TestApp) {
    let report = link_in_latest(app, "/n?t=").await;
    let owner = Browser::new();
    let base = app.url("");
    owner.get(&base, &report).await;
    let res = owner.post(&base, "/api/report_not_me", &[]).await;
    assert!(res.status().is_redirection() || res.status().is_success(), "{}", res.status());
}

/// Puts back the cookies `header` (a `Cookie:` value) held.
fn restore_cookies(app: &TestApp, header: &str) {
    app.clear_cookies();
    for pair in header.split("; ").filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap();
        app.set_cookie(k, v);
    }
}

struct App {
    app: TestApp,
    secret: Vec<u8>,
    backup: Vec<String>,
}

impl App {
    fn now(&self) -> i64 {
        self.app.clock.now_ms()
    }

    fn code_now(&self) -> String {
        totp(&self.secret, self.now())
    }

    /// Asks for a code past the address's cool-down (which grows with each
    /// code), moving the clock by as little as it says, so the app's
    /// 30-second step mostly stays.
    async fn request_code(&self) {
        let mut res = self.app.request_code(EMAIL).await;
        while res.status() == StatusCode::TOO_MANY_REQUESTS {
            let wait: i64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            self.app.clock.advance_ms(wait * 1000);
            res = self.app.request_code(EMAIL).await;
        }
        assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    }

    /// Signs out and makes a sign-in's first step with a fresh code: it
    /// lands on the second step.
    async fn first_step(&self) {
        self.app.post("/api/sign_out", &[]).await;
        self.request_code().await;
        let code = self.app.latest_code(EMAIL).await;
        let res = self.app.verify(&code).await;
        let location = res.headers().get(LOCATION).cloned();
        assert_eq!(location.as_ref().map(|l| l.to_str().unwrap()), Some(SECOND_STEP), "{:?}", res.text().await);
    }

    async fn answer(&self, code: &str) -> reqwest::Response {
        self.app.post("/api/finish_sign_in", &[("code", code)]).await
    }
}

/// Signs in by code and turns an authenticator app on: the secret the
/// page shows, and the backup codes it shows once.
async fn with_app(env: &[(&str, &str)]) -> App {
    let mut env = env.to_vec();
    // Several sign-ins a test, a second apart: the address's own limits are
    // tested elsewhere.
    env.extend([
        ("PASSCODE_RESEND_COOLDOWN_SECS", "1"),
        ("PASSCODE_CODES_PER_HOUR", "50"),
        ("PASSCODE_CODES_PER_DAY", "100"),
    ]);
    let app = spawn_app_with(&env).await;
    app.sign_in(EMAIL, EMAIL).await;
    let account = app.account_page().await.text().await.unwrap();
    assert!(account.contains("Set up an authenticator app"), "{account}");
    let res = app.post("/api/start_authenticator", &[]).await;
    assert_eq!(res.headers()[LOCATION], SETUP);
    let page = app.get(SETUP).await.text().await.unwrap();
    assert!(page.contains("src=\"data:image/svg+xml;base64,"), "a QR code drawn on the server: {page}");
    let typed = codes_after(&page, "data-testid=\"totp-secret\"");
    assert_eq!(typed.len(), 1, "{page}");
    let secret = base32_decode(&typed[0]);
    assert_eq!(secret.len(), 20, "160 bits");
    // Off until a code from the app proves it was set up right.
    assert_eq!(app.count("SELECT COUNT(*) FROM authenticators WHERE enabled_at IS NULL").await, 1);
    let res = app.post("/api/enable_authenticator", &[("code", "000000")]).await;
    let wrong_is_wrong = totp(&secret, app.clock.now_ms()) != "000000";
    if wrong_is_wrong {
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error_of(res).await, json!("WrongSetupCode"));
    }
    let res = app.post("/api/enable_authenticator", &[("code", &totp(&secret, app.clock.now_ms()))]).await;
    assert_eq!(res.headers()[LOCATION], SETUP);
    let page = app.get(SETUP).await.text().await.unwrap();
    let backup = codes_after(&page, "data-testid=\"backup-codes\"");
    assert_eq!(backup.len(), 10, "{page}");
    assert!(backup.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'), "{backup:?}");
    // Shown once: the next visit has none, and the cookie that carried them
    // held nothing readable.
    let again = app.get(SETUP).await.text().await.unwrap();
    assert!(codes_after(&again, "data-testid=\"backup-codes\"").is_empty());
    assert!(again.contains("data-testid=\"authenticator-on\""), "{again}");
    assert_eq!(app.count("SELECT COUNT(*) FROM backup_codes WHERE used_at IS NULL").await, 10);
    App { app, secret, backup }
}

#[tokio::test]
async fn a_code_sign_in_asks_for_the_app_and_a_used_step_is_refused() {
    let a = with_app(&[]).await;
    let app = &a.app;
    // The step that turned the app on is used: the same code, still on the
    // app's screen, is refused at the next sign-in.
    let used = a.code_now();
    a.first_step().await;
    assert!(app.cookie("__Host-passcode_session").is_none(), "no session after the first step");
    assert!(app.cookie("__Host-passcode_pending").is_none());
    assert_eq!(app.account_page().await.headers()[LOCATION], "/sign-in");
    let page = app.get(SECOND_STEP).await.text().await.unwrap();
    assert!(page.contains("Enter your authenticator code") && page.contains("t•••@example.com"), "{page}");
    assert!(!page.contains(EMAIL), "the address is masked");

    let res = a.answer(&used).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(res).await, json!({"WrongCode": {"attempts_left": 4}}));
    let wrong = TestApp::wrong(&used);
    let res = a.answer(&wrong).await;
    assert_eq!(error_of(res).await, json!({"WrongCode": {"attempts_left": 3}}));
    // Not a code at all: refused before it costs a try.
    let res = a.answer("12345").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The next step's code signs in, once.
    app.clock.advance_ms(STEP_MS);
    let next = a.code_now();
    let res = a.answer(&next).await;
    assert_eq!(res.headers()[LOCATION], "/account");
    assert!(app.cookie("__Host-passcode_session").is_some());
    assert!(app.cookie("__Host-passcode_second_step").is_none());
    assert_eq!(app.count("SELECT COUNT(*) FROM second_steps").await, 0);
    // The first session was signed out; this one names the code that began it.
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions WHERE opened_by IS NOT NULL").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'signed_in' AND detail = 'code+app'").await,
        1
    );
    let account = app.account_page().await.text().await.unwrap();
    assert!(account.contains("Signed in with a code and your authenticator app"), "{account}");
    assert!(account.contains("got as far as your authenticator app"), "{account}");
    assert!(account.contains("Wrong authenticator or backup code entered"), "{account}");
    assert!(account.contains("10 of 10 backup codes left"), "{account}");

    // The same code again, at once, from a second sign-in: refused.
    a.first_step().await;
    let res = a.answer(&next).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(app.cookie("__Host-passcode_session").is_none());
}

#[tokio::test]
async fn five_wrong_answers_end_the_half_finished_sign_in() {
    let a = with_app(&[]).await;
    let app = &a.app;
    a.first_step().await;
    let wrong = TestApp::wrong(&a.code_now());
    for left in (1..=4).rev() {
        let res = a.answer(&wrong).await;
        assert_eq!(error_of(res).await, json!({"WrongCode": {"attempts_left": left}}));
    }
    let res = a.answer(&wrong).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(error_of(res).await, json!("SecondStepEnded"));
    assert!(app.cookie("__Host-passcode_second_step").is_none(), "the browser forgets it");
    assert_eq!(app.count("SELECT COUNT(*) FROM second_steps").await, 0);
    // Even the right code now opens nothing: the first step must be made again.
    let res = a.answer(&a.code_now()).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(app.cookie("__Host-passcode_session").is_none());
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'second_step_ended'").await, 1);
    let page = app.get(SECOND_STEP).await.text().await.unwrap();
    assert!(page.contains("Start again"), "{page}");
}

#[tokio::test]
async fn fifty_parallel_answers_take_five_turns_between_them() {
    let a = with_app(&[]).await;
    a.first_step().await;
    let wrong = TestApp::wrong(&a.code_now());
    let cookie = a.app.cookie_header();
    let url = a.app.url("/api/finish_sign_in");
    let handles = (0..50).map(|_| {
        let (client, url, cookie, wrong) = (a.app.client.clone(), url.clone(), cookie.clone(), wrong.clone());
        tokio::spawn(async move {
            let res = client.post(url).header("cookie", cookie).form(&[("code", wrong)]).send().await.unwrap();
            res.status()
        })
    });
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(h.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert_eq!(checked, 4, "four wrong answers with tries left, {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::GONE).count(), 46);
    assert_eq!(a.app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'second_step_failed'").await, 5);
}

#[tokio::test]
async fn a_backup_code_signs_in_once() {
    let a = with_app(&[]).await;
    let app = &a.app;
    a.first_step().await;
    // As people copy them: upper case, without the dash.
    let typed = a.backup[3].to_uppercase().replace('-', "");
    let res = a.answer(&typed).await;
    assert_eq!(res.headers()[LOCATION], "/account");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE detail = 'code+backup'").await, 1);
    let account = app.account_page().await.text().await.unwrap();
    assert!(account.contains("9 of 10 backup codes left"), "{account}");
    assert!(account.contains("Signed in with a code and a backup code"), "{account}");

    a.first_step().await;
    let res = a.answer(&a.backup[3]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "used once");
    let res = a.answer(&a.backup[4]).await;
    assert_eq!(res.headers()[LOCATION], "/account");

    // The codes are stored keyed-hashed: none of them is in the table.
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT code_hash FROM backup_codes").fetch_all(&app.pool).await.unwrap();
    assert_eq!(stored.len(), 10);
    for code in &a.backup {
        let bare = code.replace('-', "");
        assert!(stored.iter().all(|h| !h.contains(&bare) && h.len() == 64), "{code}");
    }

    // New codes (after a fresh proof) replace the old ones.
    app.clock.advance_ms(6 * 60 * 1000);
    let res = app.post("/api/new_backup_codes", &[]).await;
    assert_eq!(res.headers()[LOCATION], "/account/confirm");
    confirm_by_code(app, &a.backup[8]).await;
    // Even fresh, the app's code too.
    let res = app.post("/api/new_backup_codes", &[]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.post("/api/new_backup_codes", &[("code", &TestApp::wrong(&a.code_now()))]).await;
    assert_eq!(error_of(res).await, json!("WrongSecondFactor"));
    let res = app.post("/api/new_backup_codes", &[("code", &a.code_now())]).await;
    assert_eq!(res.headers()[LOCATION], SETUP);
    let fresh = codes_after(&app.get(SETUP).await.text().await.unwrap(), "data-testid=\"backup-codes\"");
    assert_eq!(fresh.len(), 10);
    a.first_step().await;
    let res = a.answer(&a.backup[5]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the old set is gone");
    let res = a.answer(&fresh[0]).await;
    assert_eq!(res.headers()[LOCATION], "/account");
}

/// A new code to the account's address makes the session fresh, with
/// the app's code (`app_code`, or a backup code) beside it: the inbox alone
/// is not enough where the app is on.
async fn confirm_by_code(app: &TestApp, app_code: &str) {
    let res = app.post("/api/send_confirmation_code", &[]).await;
    assert_eq!(res.headers()[LOCATION], "/account/confirm");
    let page = app.get("/account/confirm").await.text().await.unwrap();
    assert!(page.contains("name=\"app_code\""), "{page}");
    let code = app.latest_code(EMAIL).await;
    let res = app.post("/api/confirm_with_code", &[("code", code.as_str())]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "no app code, no proof");
    let res = app.post("/api/confirm_with_code", &[("code", code.as_str()), ("app_code", app_code)]).await;
    assert_eq!(res.headers()[LOCATION], "/account");
}

/// A sign-in's first step against a server process (real clock): the
/// browser then stands before the authenticator step.
async fn first_step_at(base: &str) -> Browser {
    let browser = Browser::new();
    browser.post(base, "/api/request_code", &[("identifier", EMAIL)]).await;
    let code = crate::two_instances::latest_code(base, EMAIL).await;
    let res = browser.post(base, "/api/verify_code", &[("code", &code)]).await;
    let location = res.headers().get(LOCATION).cloned();
    assert_eq!(location.as_ref().map(|l| l.to_str().unwrap()), Some(SECOND_STEP), "{:?}", res.text().await);
    browser
}

fn real_now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test]
async fn the_secret_is_unreadable_without_the_key_and_rotation_keeps_it() {
    let key = "5a".repeat(32);
    let a = with_app(&[("PASSCODE_TOTP_KEY", &key)]).await;
    let app = &a.app;
    let sealed: String = sqlx::query_scalar("SELECT secret FROM authenticators").fetch_one(&app.pool).await.unwrap();
    // Not the bytes, not the base32 the page showed, not hex.
    assert!(sealed.starts_with("v1."), "{sealed}");
    let hex: String = a.secret.iter().map(|b| format!("{b:02x}")).collect();
    let b32 = encode_base32(&a.secret);
    for shown in [&hex, &b32, &b32.to_lowercase()] {
        assert!(!sealed.contains(&shown[..12]), "{sealed}");
    }

    // Servers with the real clock from here: the manual one ran ahead, so
    // what it counted (the used step, the address's cool-down, the dev
    // outbox's newest message) is reset.
    sqlx::query("UPDATE authenticators SET last_step = 0").execute(&app.pool).await.unwrap();
    sqlx::query("DELETE FROM destinations").execute(&app.pool).await.unwrap();
    sqlx::query("DELETE FROM outbox").execute(&app.pool).await.unwrap();

    // Another key: the secret does not open. Nobody gets in by the app,
    // the person reads what to do, and the backup codes still work.
    let other = start(&app.data_dir.join("other"), &app.db.url, &[("PASSCODE_TOTP_KEY", &"77".repeat(32))]);
    let browser = first_step_at(&other.base).await;
    let res = browser.post(&other.base, "/api/finish_sign_in", &[("code", &totp(&a.secret, real_now_ms()))]).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_of(res).await, json!("AuthenticatorUnavailable"));
    let res = browser.post(&other.base, "/api/finish_sign_in", &[("code", &a.backup[0])]).await;
    assert_eq!(res.headers()[LOCATION], "/account");
    drop(other);

    // Rotated: a new key, the old one among the old keys. The app's code
    // works, and the secret is sealed again under the new key.
    sqlx::query("DELETE FROM destinations").execute(&app.pool).await.unwrap();
    sqlx::query("DELETE FROM outbox").execute(&app.pool).await.unwrap();
    let rotated = start(
        &app.data_dir.join("rotated"),
        &app.db.url,
        &[("PASSCODE_TOTP_KEY", &"88".repeat(32)), ("PASSCODE_TOTP_OLD_KEYS", &key)],
    );
    let browser = first_step_at(&rotated.base).await;
    let res = browser.post(&rotated.base, "/api/finish_sign_in", &[("code", &totp(&a.secret, real_now_ms()))]).await;
    let location = res.headers().get(LOCATION).cloned();
    assert_eq!(location.as_ref().map(|l| l.to_str().unwrap()), Some("/account"), "{:?}", res.text().await);
    let resealed: String = sqlx::query_scalar("SELECT secret FROM authenticators").fetch_one(&app.pool).await.unwrap();
    assert_ne!(resealed.split('.').nth(1), sealed.split('.').nth(1), "sealed under the new key now");
}

fn encode_base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut out, mut bits, mut value) = (String::new(), 0u32, 0u64);
    for b in bytes {
        value = (value << 8) | u64::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((value >> bits) & 31) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn turning_it_off_needs_a_fresh_proof_and_ends_waiting_sign_ins() {
    let a = with_app(&[]).await;
    let app = &a.app;
    app.clock.advance_ms(6 * 60 * 1000);
    let res = app.post("/api/disable_authenticator", &[]).await;
    assert_eq!(res.headers()[LOCATION], "/account/confirm");
    assert_eq!(app.count("SELECT COUNT(*) FROM authenticators").await, 1);
    // Setting one up again needs one too.
    let res = app.post("/api/start_authenticator", &[]).await;
    assert_eq!(res.headers()[LOCATION], "/account/confirm");
    confirm_by_code(app, &a.backup[9]).await;
    let res = app.post("/api/start_authenticator", &[]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "one is on: its secret is not swapped");
    // Even fresh, turning it off takes the app's code (or a backup code).
    let res = app.post("/api/disable_authenticator", &[]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.post("/api/disable_authenticator", &[("code", &TestApp::wrong(&a.code_now()))]).await;
    assert_eq!(error_of(res).await, json!("WrongSecondFactor"));
    assert_eq!(app.count("SELECT COUNT(*) FROM authenticators").await, 1);
    // A sign-in waiting for the app ends with it.
    let waiting = spawn_waiting_sign_in(&a).await;
    let res = app.post("/api/disable_authenticator", &[("code", &a.backup[0])]).await;
    assert_eq!(res.headers()[LOCATION], "/account");
    assert_eq!(app.count("SELECT COUNT(*) FROM second_steps").await, 0, "{waiting}");
    let account = app.account_page().await.text().await.unwrap();
    assert!(account.contains("Authenticator app turned off"), "{account}");
    assert_eq!(app.count("SELECT COUNT(*) FROM backup_codes").await, 0);
    // Off: a code signs straight in again.
    app.post("/api/sign_out", &[]).await;
    a.request_code().await;
    let code = app.latest_code(EMAIL).await;
    assert_eq!(app.verify(&code).await.headers()[LOCATION], "/account");
}

/// Another browser of someone with the inbox makes a first step and is left
/// waiting for the app; this browser's cookies are kept. Its token.
async fn spawn_waiting_sign_in(a: &App) -> String {
    let mine = a.app.cookie_header();
    a.app.clear_cookies();
    a.first_step().await;
    let token = a.app.cookie("__Host-passcode_second_step").unwrap();
    restore_cookies(&a.app, &mine);
    token
}

#[tokio::test]
async fn not_you_ends_a_sign_in_waiting_for_the_app() {
    let a = with_app(&[]).await;
    let app = &a.app;
    a.first_step().await;
    // The owner reports the message whose code a stranger used.
    report_latest(app).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM second_steps").await, 0);
    let res = a.answer(&a.code_now()).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(app.cookie("__Host-passcode_session").is_none());
}

#[tokio::test]
async fn a_link_sign_in_asks_for_the_app_too() {
    let a = with_app(&[]).await;
    let app = &a.app;
    app.post("/api/sign_out", &[]).await;
    a.request_code().await;
    let link = link_in_latest(app, "/sign-in/email-link").await;
    app.get(&link).await;
    let res = app.confirm_link().await;
    assert_eq!(res.headers()[LOCATION], SECOND_STEP);
    assert!(app.cookie("__Host-passcode_session").is_none());
    app.clock.advance_ms(STEP_MS);
    let res = a.answer(&a.code_now()).await;
    assert_eq!(res.headers()[LOCATION], "/account");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE detail = 'link+app'").await, 1);
}

#[tokio::test]
async fn guesses_at_the_app_are_counted_per_account_across_sign_ins() {
    let a = with_app(&[]).await;
    let app = &a.app;
    // Someone with the inbox starts sign-in after sign-in: each gets five
    // tries, the account ten an hour between them all.
    let wrong = TestApp::wrong(&a.code_now());
    let mut checked = 0;
    let limited = 'outer: loop {
        a.first_step().await;
        for _ in 0..4 {
            let res = a.answer(&wrong).await;
            if res.status() == StatusCode::TOO_MANY_REQUESTS {
                break 'outer res;
            }
            checked += 1;
        }
        assert!(checked < 20, "never limited");
    };
    assert_eq!(checked, 10);
    let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 3600, "{retry}");
    // The owner is delayed, not kept out: an hour on, the app's code works.
    app.clock.advance_ms(retry as i64 * 1000);
    a.first_step().await;
    let res = a.answer(&a.code_now()).await;
    assert_eq!(res.headers()[LOCATION], "/account");
}

#[tokio::test]
async fn only_the_session_that_started_a_set_up_sees_or_finishes_it() {
    let app = spawn_app_with(&[("PASSCODE_RESEND_COOLDOWN_SECS", "1")]).await;
    app.sign_in(EMAIL, EMAIL).await;
    let owner = app.cookie_header();
    let res = app.post("/api/start_authenticator", &[]).await;
    assert_eq!(res.headers()[LOCATION], SETUP);
    let page = app.get(SETUP).await.text().await.unwrap();
    let secret = base32_decode(&codes_after(&page, "data-testid=\"totp-secret\"")[0]);
    // Another session of the account (a thief's, say) sees no secret and
    // can't turn it on, even with the right code.
    app.clear_cookies();
    app.clock.advance_ms(2000);
    app.sign_in(EMAIL, EMAIL).await;
    let page = app.get(SETUP).await.text().await.unwrap();
    assert!(codes_after(&page, "data-testid=\"totp-secret\"").is_empty(), "{page}");
    let res = app.post("/api/enable_authenticator", &[("code", &totp(&secret, app.clock.now_ms()))]).await;
    assert_eq!(error_of(res).await, json!("AuthenticatorSetupGone"));
    // Nor can it open the backup codes the owner's page is given.
    restore_cookies(&app, &owner);
    let res = app.post("/api/enable_authenticator", &[("code", &totp(&secret, app.clock.now_ms()))]).await;
    assert_eq!(res.headers()[LOCATION], SETUP);
    let sealed = app.cookie("__Host-passcode_backup_codes").expect("the codes wait in a cookie");
    assert!(sealed.starts_with("v1."), "sealed, not the codes: {sealed}");
    let mine = app.cookie("__Host-passcode_session").unwrap();
    app.set_cookie("__Host-passcode_session", "not-this-session");
    let page = app.get(SETUP).await;
    assert_eq!(page.headers()[LOCATION], "/sign-in");
    app.set_cookie("__Host-passcode_session", &mine);
    app.set_cookie("__Host-passcode_backup_codes", &sealed);
    let page = app.get(SETUP).await.text().await.unwrap();
    assert_eq!(codes_after(&page, "data-testid=\"backup-codes\"").len(), 10, "its own session opens them");
}

#[tokio::test]
async fn not_you_turns_off_an_app_an_intruder_turned_on() {
    let app = spawn_app_with(&[("PASSCODE_RESEND_COOLDOWN_SECS", "1")]).await;
    // An intruder signs in with a code from the owner's inbox and turns on
    // an app of their own.
    app.sign_in(EMAIL, EMAIL).await;
    app.post("/api/start_authenticator", &[]).await;
    let page = app.get(SETUP).await.text().await.unwrap();
    let secret = base32_decode(&codes_after(&page, "data-testid=\"totp-secret\"")[0]);
    let res = app.post("/api/enable_authenticator", &[("code", &totp(&secret, app.clock.now_ms()))]).await;
    assert_eq!(res.headers()[LOCATION], SETUP);
    // The owner presses "Not you?" in that code's message: the session and
    // the app it turned on go, so the owner's next code is not stopped by
    // an app only the intruder has.
    report_latest(&app).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM authenticators").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM backup_codes").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
}

#[tokio::test]
async fn an_approval_from_another_device_asks_for_the_app_on_the_laptop() {
    let a = with_app(&[]).await;
    let app = &a.app;
    app.post("/api/sign_out", &[]).await;
    a.request_code().await;
    let link = link_in_latest(app, "/sign-in/email-link").await;
    // The phone opens the link and approves; the laptop is asked for the
    // app next, and the phone gets nothing.
    let phone = Browser::new();
    let base = app.url("");
    phone.get(&base, &link).await;
    let page = phone.get(&base, "/sign-in/confirm").await.text().await.unwrap();
    let shown = crate::helpers::shown_on(&page).expect("the page names its link");
    let res = phone.post(&base, "/api/approve_link", &[("shown", &shown)]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    let res = app.post("/api/check_approval", &[]).await;
    assert_eq!(res.headers()[LOCATION], SECOND_STEP);
    assert!(app.cookie("__Host-passcode_session").is_none());
    app.clock.advance_ms(STEP_MS);
    let res = a.answer(&a.code_now()).await;
    assert_eq!(res.headers()[LOCATION], "/account");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE detail = 'approved+app'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1, "the laptop's only");
}

#[tokio::test]
async fn right_answers_that_lose_the_race_are_not_spent() {
    let a = with_app(&[]).await;
    let app = &a.app;
    a.first_step().await;
    // Five tabs send five different backup codes at once: one signs in, and
    // the codes of the others, which found the sign-in finished, stay
    // unused (each is spent in the transaction that opens the session).
    let cookie = app.cookie_header();
    let url = app.url("/api/finish_sign_in");
    let handles: Vec<_> = a.backup[..5]
        .iter()
        .map(|code| {
            let (client, url, cookie, code) = (app.client.clone(), url.clone(), cookie.clone(), code.clone());
            tokio::spawn(async move {
                client.post(url).header("cookie", cookie).form(&[("code", code)]).send().await.unwrap().status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(h.await.unwrap());
    }
    let won = statuses.iter().filter(|s| s.is_success() || s.is_redirection()).count();
    assert_eq!(won, 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::GONE).count(), 4, "{statuses:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM backup_codes WHERE used_at IS NOT NULL").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1);
}
