//! The security review's findings, each with a test that fails without its
//! fix: development rules by accident, one inbox as several accounts, owners
//! locked out by strangers, forged words on our pages, login CSRF through a
//! sign-in link, unbounded queues, SMS cost, and the smaller ones.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::two_instances::{Browser, latest_code, start};

use app::web::{DEVICE_COOKIE as DEVICE, PENDING_COOKIE as PENDING, SESSION_COOKIE as SESSION};
const DAY_MS: i64 = 24 * 3600 * 1000;
const FIREFOX_ON_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("passcode-test-{}", app::domain::random_id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the real binary with `env` (nothing else from this environment)
/// and expects it to refuse to start: exit code 2 and a message, which is
/// returned.
fn refuses_to_start(env: &[(&str, &str)]) -> String {
    let dir = temp_dir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_passcode"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PASSCODE_ADDR", "127.0.0.1:0")
        .env("PASSCODE_DATA_DIR", &dir)
        .env("DATABASE_URL", format!("sqlite://{}?mode=rwc", dir.join("passcode.db").display()))
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started although it should have refused to: {env:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2), "{env:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// 1. Development rules (the outbox, a generated secret, texts to the
//    outbox) only for a server on this machine.

#[tokio::test]
async fn development_rules_only_for_a_server_nobody_else_can_reach() {
    let https = ("PASSCODE_PUBLIC_URL", "https://login.example.com");
    let secret = ("PASSCODE_SECRET", SECRET);
    let e = refuses_to_start(&[https]);
    assert!(e.contains("PASSCODE_SECRET") && e.contains("not this machine"), "{e}");
    let e = refuses_to_start(&[https, secret]);
    assert!(e.contains("PASSCODE_SMTP_URL") && e.contains("/dev/outbox"), "{e}");
    let e = refuses_to_start(&[https, secret, ("PASSCODE_ENV", "development")]);
    assert!(e.contains("PASSCODE_ENV"), "development is not for a public URL: {e}");
    // A loopback URL but a listener other machines reach: a deployment too.
    let e =
        refuses_to_start(&[("PASSCODE_ADDR", "0.0.0.0:0"), ("PASSCODE_PUBLIC_URL", "http://127.0.0.1:3000"), secret]);
    assert!(e.contains("PASSCODE_SMTP_URL") && e.contains("other machines"), "{e}");
    // A proxy in front, or a mail server elsewhere: a deployment too.
    let e = refuses_to_start(&[("PASSCODE_TRUSTED_PROXIES", "127.0.0.1"), secret]);
    assert!(e.contains("PASSCODE_SMTP_URL") && e.contains("PASSCODE_TRUSTED_PROXIES"), "{e}");
    let e = refuses_to_start(&[
        ("PASSCODE_SMTP_URL", "smtp://u:p@smtp.example.com"),
        ("PASSCODE_EMAIL_FROM", "sign-in@example.com"),
    ]);
    assert!(e.contains("PASSCODE_SECRET") && e.contains("mail server on another machine"), "{e}");
    let e = refuses_to_start(&[("PASSCODE_PUBLIC_URL", "http://login.example.com")]);
    assert!(e.contains("PASSCODE_PUBLIC_URL") && e.contains("https"), "{e}");

    // The review's case: https, a secret and SMTP, no PASSCODE_ENV.
    let dir = temp_dir();
    let db = TestDatabase::create(&dir).await;
    let server = start(
        &dir,
        &db.url,
        &[https, ("PASSCODE_SMTP_URL", "smtp://127.0.0.1:9"), ("PASSCODE_EMAIL_FROM", "sign-in@example.com")],
    );
    for path in ["/dev/outbox.json", "/dev/outbox"] {
        let res = reqwest::get(format!("{}{path}", server.base)).await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path} must not exist under production rules");
    }
    let browser = Browser::new();
    let res = browser.post(&server.base, "/api/request_code", &[("identifier", "+44 7911 123456")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert!(body.contains("We don't send codes by text message here"), "no texts into an outbox: {body}");
    assert!(server.log.lock().unwrap().iter().any(|l| l.contains("Production")), "the log says which rules apply");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);

    // On this machine, by omission: development.
    let dir = temp_dir();
    let db = TestDatabase::create(&dir).await;
    let server = start(&dir, &db.url, &[]);
    let res = reqwest::get(format!("{}/dev/outbox.json", server.base)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Never through a proxy, even one on this machine nobody configured.
    for header in ["x-forwarded-for", "forwarded", "x-real-ip"] {
        let res =
            browser.client.get(format!("{}/dev/outbox.json", server.base)).header(header, "for=203.0.113.9").send();
        assert_eq!(res.await.unwrap().status(), StatusCode::NOT_FOUND, "{header}");
    }
    // Nor one that adds no header: a Host that is not this machine's name,
    // or HTTP/1.0 (nginx's bare proxy_pass; `proxies.rs` runs a real one).
    for host in ["login.example.com", "127.0.0.1.nip.io", "localhost.example.com:3000"] {
        let res = browser.client.get(format!("{}/dev/outbox.json", server.base)).header("host", host).send();
        assert_eq!(res.await.unwrap().status(), StatusCode::NOT_FOUND, "{host}");
    }
    let raw = |request: &'static str| {
        let addr = server.base.trim_start_matches("http://").to_owned();
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut head = [0u8; 12];
            stream.read_exact(&mut head).await.unwrap();
            String::from_utf8_lossy(&head).into_owned()
        }
    };
    assert_eq!(raw("GET /dev/outbox.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").await, "HTTP/1.0 404");
    assert_eq!(raw("GET /dev/outbox.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await, "HTTP/1.1 200");
    // A proxy in front and development rules do not go together.
    drop(server);
    let dir2 = temp_dir();
    let db2 = TestDatabase::create(&dir2).await;
    let e = refuses_to_start(&[("PASSCODE_TRUSTED_PROXIES", "127.0.0.1"), ("PASSCODE_ENV", "development")]);
    assert!(e.contains("PASSCODE_ENV") && e.contains("PASSCODE_TRUSTED_PROXIES"), "{e}");
    // Forwarding headers with no trusted proxy: said once in the log.
    let server = start(&dir2, &db2.url, &[]);
    for _ in 0..3 {
        browser
            .client
            .get(format!("{}/sign-in", server.base))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let said = server.log.lock().unwrap().iter().filter(|l| l.contains("PASSCODE_TRUSTED_PROXIES is empty")).count();
    assert_eq!(said, 1, "{:?}", server.log.lock().unwrap());
    drop(server);
    let _ = std::fs::remove_dir_all(&dir2);
    let _ = std::fs::remove_dir_all(&dir);
}

// 2. One inbox, one account, one set of limits.

#[tokio::test]
async fn an_address_is_one_account_and_one_set_of_limits_whatever_its_case() {
    let app = spawn_app().await;
    assert_eq!(app.request_code("Jane@Example.com").await.status(), StatusCode::OK);
    let res = app.request_code("jane@example.COM").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the same inbox shares its cooldown");
    app.clock.advance_ms(31_000);
    app.sign_in("JANE@example.com", "jane@example.com").await;
    app.clear_cookies();
    app.clock.advance_ms(61_000);
    app.sign_in("jane@example.com", "jane@example.com").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1, "one account");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM destinations WHERE destination NOT LIKE 'from:%'").await,
        1,
        "one set of limits (and its one share for the client's network)"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM destinations WHERE destination LIKE 'from:%'").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(DISTINCT destination_hash) FROM audit_events WHERE destination_hash IS NOT NULL").await,
        1,
        "one audit key"
    );
}

async fn scalar(url: &str, sql: &str) -> i64 {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await.unwrap();
    let row = sqlx::query(sql).fetch_one(&mut conn).await.unwrap();
    sqlx::Row::get::<i64, _>(&row, 0)
}

#[tokio::test]
async fn the_migration_folds_addresses_that_differ_only_in_case() {
    sqlx::any::install_default_drivers();
    let dir = temp_dir();
    let db = TestDatabase::create(&dir).await;
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(if backend() == "postgres" {
        "postgres"
    } else {
        "sqlite"
    });
    // The schema as it was before: the earlier migrations, copied as they are
    // (so the real migrator recognises them), then rows that now collide.
    let before = dir.join("before");
    std::fs::create_dir_all(&before).unwrap();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "20261125000004" {
            std::fs::copy(&path, before.join(name)).unwrap();
        }
    }
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::migrate::Migrator::new(before.as_path()).await.unwrap().run(&pool).await.unwrap();
    for sql in [
        "INSERT INTO users (id, identifier, channel, created_at, last_sign_in_at) VALUES \
           ('u1', 'Jane@example.com', 'email', 100, 100), ('u2', 'jane@example.com', 'email', 200, 300), \
           ('u3', '+447911123456', 'sms', 50, 50)",
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES \
           ('h1', 'u2', 300, 9000000000000), ('h2', 'u1', 100, 9000000000000), ('h3', 'u3', 50, 9000000000000)",
        "INSERT INTO destinations (destination, hour_start, hour_count, day_start, day_count, next_send_at, \
           fail_start, fail_count, locked_until) VALUES \
           ('Jane@example.com', 1000, 3, 1000, 3, 5000, 0, 0, 0), ('jane@example.com', 2000, 1, 500, 8, 3000, 2000, 7, 9000)",
        "INSERT INTO challenges (id, destination, channel, code_hash, created_at, expires_at, attempts, max_attempts) VALUES \
           ('c1', 'Jane@example.com', 'email', 'x', 100, 9000000000000, 0, 5), \
           ('c2', 'jane@example.com', 'email', 'x', 200, 9000000000000, 0, 5)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    sqlx::migrate::Migrator::new(folder.as_path()).await.unwrap().run(&pool).await.unwrap();
    pool.close().await;

    let url = db.url.as_str();
    assert_eq!(scalar(url, "SELECT COUNT(*) FROM users").await, 2);
    assert_eq!(
        scalar(
            url,
            "SELECT COUNT(*) FROM users WHERE id = 'u1' AND identifier = 'jane@example.com' AND last_sign_in_at = 300"
        )
        .await,
        1,
        "the oldest account stays, under the folded address"
    );
    assert_eq!(scalar(url, "SELECT COUNT(*) FROM sessions WHERE user_id = 'u1'").await, 2, "sessions move to it");
    assert_eq!(scalar(url, "SELECT COUNT(*) FROM sessions WHERE user_id = 'u3'").await, 1, "phones are untouched");
    assert_eq!(scalar(url, "SELECT COUNT(*) FROM destinations").await, 1);
    assert_eq!(
        scalar(
            url,
            "SELECT COUNT(*) FROM destinations WHERE destination = 'jane@example.com' AND hour_start = 2000 \
             AND hour_count = 3 AND day_count = 8 AND next_send_at = 5000 AND fail_count = 7 AND locked_until = 9000"
        )
        .await,
        1,
        "the counters keep the strictest of each"
    );
    assert_eq!(
        scalar(url, "SELECT COUNT(*) FROM challenges WHERE superseded_at IS NULL AND id = 'c2'").await,
        1,
        "only the newest code stays open"
    );
    assert_eq!(scalar(url, "SELECT COUNT(*) FROM challenges WHERE superseded_at IS NULL").await, 1);
    assert_eq!(scalar(url, "SELECT COUNT(*) FROM challenges WHERE destination = 'jane@example.com'").await, 2);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One inbox under many spellings: full-width letters, an internationalised
/// domain and its punycode are one address (one account, one set of
/// limits); quoted local parts and invisible characters are refused before
/// anything is written or audited; plus tags are their own accounts but
/// draw on their base address's allowance.
#[tokio::test]
async fn one_inbox_under_many_spellings_is_one_address() {
    let app = spawn_app().await;
    assert_eq!(app.request_code("jane@ｅｘａｍｐｌｅ.com").await.status(), StatusCode::OK);
    let res = app.request_code("JANE@example.com").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the same inbox's cooldown");
    assert_eq!(app.latest_code("jane@example.com").await.len(), 6);
    assert_eq!(app.request_code("jo@bücher.example").await.status(), StatusCode::OK);
    let res = app.request_code("jo@xn--bcher-kva.example").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "an IDN and its punycode are one inbox");
    let rows = app.count("SELECT COUNT(*) FROM audit_events").await;
    for refused in [
        "\"\\j\\a\\n\\e\"@example.com",
        "\"x@victim.com\"@evil.com",
        "ja\u{200B}ne@example.com",
        "\u{202E}jane@example.com",
        "ｊａｎｅ@example.com",
    ] {
        let res = app.request_code(refused).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{refused:?}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events").await, rows, "nothing audited, nobody named");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE destination_masked LIKE '%victim%'").await, 0);
    // Plus tags: their own accounts, their base address's allowance.
    app.clock.advance_ms(31_000);
    app.clear_cookies();
    assert_eq!(app.request_code("jane+news@example.com").await.status(), StatusCode::OK);
    let res = app.request_code("jane+bank@example.com").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "a new tag is no new allowance");
    let res = app.verify(&app.latest_code("jane+news@example.com").await).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE identifier = 'jane+news@example.com'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE identifier = 'jane@example.com'").await, 0);
}

// 3. Device cookies: a stranger cannot keep the owner out.

/// A stranger with one address (and its /24) does everything it can to an
/// address: asks for every code it may, guesses wrong until the address
/// locks, and keeps at it. The owner's browser, which signed in before and
/// signed out since (keeping its device cookie), signs in at once; a browser
/// that never did, on another network, within the lock's 15 minutes; and
/// nobody's request retires the code somebody else is about to type.
#[tokio::test]
async fn a_stranger_who_spends_an_address_allowance_cannot_keep_its_owner_out() {
    let app = spawn_app_with(&BEHIND_PROXY).await;
    let owner = "owner@example.com";
    // The owner's browser (the app's own cookie jar, straight from this
    // machine) signs in once, then signs out.
    app.sign_in(owner, owner).await;
    let device = app.cookie(DEVICE).expect("signing in leaves a device cookie");
    let line = app.set_cookie_line(DEVICE).unwrap();
    assert!(line.contains("HttpOnly") && line.contains("Secure") && line.contains("Max-Age=31536000"), "{line}");
    assert!(!device.contains("owner"), "the cookie names the address without holding it");
    let res = app.post("/api/sign_out", &[]).await;
    let cleared: Vec<&str> = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(!cleared.iter().any(|l| l.starts_with(DEVICE)), "sign-out keeps the device cookie: {cleared:?}");
    assert!(cleared.iter().any(|l| l.starts_with(SESSION) && l.contains("Max-Age=0")), "{cleared:?}");
    assert_eq!(res.headers()["clear-site-data"], "\"cache\", \"storage\"", "not \"cookies\"");
    app.clock.advance_ms(DAY_MS + 1000);

    // A first-time browser on another network asks for a code; a stranger's
    // requests from 203.0.113.7 no longer retire it.
    let newcomer = Browser::forwarded("198.51.100.20");
    let base = app.url("");
    assert_eq!(newcomer.post(&base, "/api/request_code", &[("identifier", owner)]).await.status(), StatusCode::OK);
    let newcomers_code = app.latest_code(owner).await;
    let stranger = Browser::forwarded("203.0.113.7");
    let send = async |who: &Browser| who.post(&base, "/api/request_code", &[("identifier", owner)]).await.status();
    assert_eq!(send(&stranger).await, StatusCode::OK);
    let res = newcomer.post(&base, "/api/verify_code", &[("code", &newcomers_code)]).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    newcomer.post(&base, "/api/sign_out", &[]).await;

    // The stranger spends all it may of the day and locks the address with
    // wrong codes, hour after hour.
    let guess_wrong = async |times: usize| {
        let wrong = TestApp::wrong(&app.latest_code(owner).await);
        for _ in 0..times {
            stranger.post(&base, "/api/verify_code", &[("code", &wrong)]).await;
        }
    };
    let mut spent = 1;
    for _ in 0..12 {
        if send(&stranger).await == StatusCode::OK {
            spent += 1;
            guess_wrong(5).await;
        }
        app.clock.advance_ms(20 * 60_000);
    }
    assert_eq!(spent, 8, "one network's share of the day: eight of ten");
    assert_eq!(send(&stranger).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(send(&Browser::forwarded("203.0.113.99")).await, StatusCode::TOO_MANY_REQUESTS, "nor its /24");
    // A made-up device cookie is a stranger too.
    let forger = Browser::forwarded("203.0.113.8");
    forger.cookies.set(DEVICE, &"0".repeat(96));
    assert_eq!(send(&forger).await, StatusCode::TOO_MANY_REQUESTS);
    // A genuine device cookie, but for the stranger's own address.
    let mallory = Browser::forwarded("203.0.113.9");
    let res = mallory.post(&base, "/api/request_code", &[("identifier", "mallory@example.com")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let code = app.latest_code("mallory@example.com").await;
    assert_eq!(mallory.post(&base, "/api/verify_code", &[("code", &code)]).await.status(), StatusCode::OK);
    assert!(mallory.cookies.get(DEVICE).is_some());
    assert_eq!(send(&mallory).await, StatusCode::TOO_MANY_REQUESTS, "an entry counts only for its own address");

    assert!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'destination_locked'").await >= 1,
        "the stranger's guesses locked the address"
    );

    // The owner's known browser gets a code and signs in at once, lock or
    // no lock, whatever the stranger spent.
    let res = app.request_code(owner).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    let res = app.verify(&app.latest_code(owner).await).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    assert!(app.cookie(SESSION).is_some());
    assert_eq!(app.cookie(DEVICE).as_deref(), Some(device.as_str()), "the browser keeps its entry");

    // A browser that never signed in, on another network, gets in within
    // the lock's 15 minutes: a code is left for others, and no cooldown of
    // the stranger's applies to it.
    let first_timer = Browser::forwarded("192.0.2.50");
    let mut waited = 0;
    let code = loop {
        let res = first_timer.post(&base, "/api/request_code", &[("identifier", owner)]).await;
        if res.status() == StatusCode::OK {
            break app.latest_code(owner).await;
        }
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(waited < 15, "kept out for more than 15 minutes");
        app.clock.advance_ms(60_000);
        waited += 1;
    };
    let res = loop {
        let res = first_timer.post(&base, "/api/verify_code", &[("code", &code)]).await;
        if res.status() != StatusCode::TOO_MANY_REQUESTS {
            break res;
        }
        assert!(waited < 15, "kept out for more than 15 minutes");
        app.clock.advance_ms(60_000);
        waited += 1;
    };
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
}

#[tokio::test]
async fn new_device_ids_never_multiply_an_address_allowance() {
    let app = spawn_app().await;
    let base = app.url("");
    let to = "pump@example.com";
    // Two browsers sign in as the address, so each has a device entry.
    let (one, two) = (Browser::new(), Browser::new());
    for (i, browser) in [&one, &two].into_iter().enumerate() {
        app.clock.advance_ms(3_601_000);
        assert_eq!(browser.post(&base, "/api/request_code", &[("identifier", to)]).await.status(), StatusCode::OK);
        let code = app.latest_code(to).await;
        let res = browser.post(&base, "/api/verify_code", &[("code", &code)]).await;
        assert_eq!(res.status(), StatusCode::OK, "browser {i}");
    }
    assert_ne!(one.cookies.get(DEVICE), two.cookies.get(DEVICE));
    // Between them, the known browsers get one day's allowance (10), not two.
    app.clock.advance_ms(DAY_MS);
    let mut sent = 0;
    for i in 0..24 {
        app.clock.advance_ms(3_601_000);
        let browser = if i % 2 == 0 { &one } else { &two };
        if browser.post(&base, "/api/request_code", &[("identifier", to)]).await.status() == StatusCode::OK {
            sent += 1;
        }
    }
    assert_eq!(sent, 10, "the known browsers share one allowance");
}

// 4. Nothing a URL carries is shown as our words.

fn encoded(error: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(error.to_string())
}

fn with_params(path: &str, params: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    format!("{path}{}{query}", if path.contains('?') { '&' } else { '?' })
}

#[tokio::test]
async fn forged_error_parameters_never_reach_a_page() {
    let app = spawn_app().await;
    // A challenge, so the code page shows its forms.
    assert_eq!(app.request_code("victim@example.com").await.status(), StatusCode::OK);
    const WORDS: &str = "ACCOUNT SUSPENDED call 0800 123 456";
    let variants: [(&str, Value, &str); 9] = [
        ("/api/request_code", json!({ "InvalidIdentifier": WORDS }), WORDS),
        ("/api/request_code", json!({ "DeliveryFailed": { "destination": WORDS, "by_sms": true } }), WORDS),
        ("/api/request_code", json!({ "SendLimited": { "retry_after_secs": 4242 * 3600 } }), "4242"),
        ("/api/verify_code", json!({ "InvalidCode": WORDS }), WORDS),
        ("/api/verify_code", json!({ "WrongCode": { "attempts_left": 4242 } }), "4242"),
        ("/api/verify_code", json!({ "VerifyLimited": { "retry_after_secs": 4242 * 3600 } }), "4242"),
        ("/api/resend_code", json!({ "DeliveryFailed": { "destination": WORDS, "by_sms": false } }), WORDS),
        ("/api/switch_to_email", json!({ "InvalidIdentifier": WORDS }), WORDS),
        ("/api/confirm_link", json!({ "Request": WORDS }), WORDS),
    ];
    // A genuine signature, but made for another browser.
    let other = Browser::new();
    let res = other
        .client
        .post(app.url("/api/request_code"))
        .header("accept", "text/html")
        .header("referer", app.url("/sign-in"))
        .form(&[("identifier", "foo@")])
        .send()
        .await
        .unwrap();
    other.cookies.keep(&res);
    let theirs = res.headers()["location"].to_str().unwrap().to_owned();
    let their_sig = url::Url::parse(&theirs)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "__sig")
        .map(|(_, v)| v.into_owned())
        .expect("the server signs its own error redirects");
    // The control: in the browser it was made for, it shows.
    let page = other.get(&app.url(""), theirs.trim_start_matches(&app.url(""))).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Enter an email address like name@example.com."));

    // The clean page is always a path on this site.
    for (odd, clean) in [("//evil.example/", "/evil.example/"), ("/\\evil.example", "/evil.example")] {
        let res = app.get(&format!("{odd}?__err=x")).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{odd}");
        assert_eq!(res.headers()["location"], clean, "never a redirect to another host");
    }

    for page in ["/sign-in", "/sign-in?with=phone", "/verify", "/sign-in/confirm"] {
        for (server_fn, error, needle) in &variants {
            let err = encoded(error);
            for sig in [None, Some("0".repeat(64)), Some(their_sig.clone())] {
                let mut params = vec![("__path", *server_fn), ("__err", err.as_str())];
                if let Some(sig) = &sig {
                    params.push(("__sig", sig));
                }
                let forged = with_params(page, &params);
                let res = app.get(&forged).await;
                assert_eq!(res.status(), StatusCode::SEE_OTHER, "{forged}");
                assert_eq!(res.headers()["location"], page, "the same page, without the parameters");
                assert!(!res.text().await.unwrap().contains(needle));
                let clean = app.get(page).await.text().await.unwrap();
                assert!(!clean.contains(needle), "{page}: {clean}");
            }
        }
    }
}

#[tokio::test]
async fn without_javascript_each_error_in_a_row_shows() {
    let app = spawn_app().await;
    assert_eq!(app.request_code("twice@example.com").await.status(), StatusCode::OK);
    let wrong = TestApp::wrong(&app.latest_code("twice@example.com").await);
    // The browser posts from the page it is on: after the first error, an
    // address that already carries one.
    let mut page = "/verify".to_owned();
    for left in ["4 tries", "3 tries"] {
        let res = app.post_plain_form("/api/verify_code", &[("code", &wrong)], &page).await;
        assert_eq!(res.status(), StatusCode::FOUND);
        page = res.headers()["location"].to_str().unwrap().trim_start_matches(&app.url("")).to_owned();
        assert_eq!(page.matches("__err=").count(), 1, "one error, the newest: {page}");
        let res = app.get(&page).await;
        assert_eq!(res.status(), StatusCode::OK, "{page}");
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!("You have {left} left")), "{left}: {html}");
    }
}

// 5. The sign-in link names its account in full, and says so when another
//    browser asked for it.

fn link_path(body: &str) -> String {
    let start = body.find("/sign-in/email-link?token=").expect("the email has a sign-in link");
    body[start..].split_whitespace().next().unwrap().to_owned()
}

#[tokio::test]
async fn the_link_page_shows_the_whole_address_and_where_the_code_was_asked_for() {
    let app = spawn_app().await;
    let base = app.url("");
    // Mallory asks for a code for her own account, from Firefox on Windows...
    let mallory = Browser::new();
    let res = mallory
        .client
        .post(app.url("/api/request_code"))
        .header("user-agent", FIREFOX_ON_WINDOWS)
        .form(&[("identifier", "mallory@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    mallory.cookies.keep(&res);
    let outbox = app.outbox().await;
    let link = link_path(outbox[0]["body"].as_str().unwrap());

    // ... and mails the link to a victim, who opens it.
    let victim = Browser::new();
    assert_eq!(victim.get(&base, &link).await.status(), StatusCode::SEE_OTHER);
    let page = victim.get(&base, "/sign-in/confirm").await.text().await.unwrap();
    assert!(page.contains("mallory@example.com"), "the whole address: {page}");
    assert!(page.contains("Firefox on Windows") && page.contains(" UTC"), "where and when: {page}");
    assert!(page.contains("not in this browser"), "{page}");
    assert!(page.contains("Signing in here puts this browser in the account above"), "{page}");
    assert!(!page.contains(FIREFOX_ON_WINDOWS), "never the raw User-Agent");

    // In the browser that asked, the same page says nothing of the kind.
    assert_eq!(mallory.get(&base, &link).await.status(), StatusCode::SEE_OTHER);
    let page = mallory.get(&base, "/sign-in/confirm").await.text().await.unwrap();
    assert!(page.contains("mallory@example.com"), "{page}");
    assert!(!page.contains("not in this browser"), "{page}");
}

// 6. Bounded under flood (the per-IP map is a unit test in limits.rs).

#[tokio::test]
async fn a_full_hashing_queue_answers_busy_instead_of_queueing() {
    let app = spawn_app_with(&[
        ("PASSCODE_HASH_CONCURRENCY", "1"),
        ("PASSCODE_HASH_MAX_WAIT_MS", "1"),
        ("PASSCODE_ARGON2_MEMORY_KIB", "65536"),
        ("PASSCODE_ARGON2_ITERATIONS", "4"),
    ])
    .await;
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..6 {
        let (client, url) = (app.client.clone(), app.url("/api/request_code"));
        requests.spawn(async move {
            let res = client.post(url).form(&[("identifier", format!("busy{i}@example.com"))]).send().await.unwrap();
            let retry_after = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            (res.status(), retry_after, res.text().await.unwrap())
        });
    }
    let outcomes = requests.join_all().await;
    assert!(outcomes.iter().any(|(status, _, _)| *status == StatusCode::OK), "{outcomes:?}");
    let busy: Vec<_> = outcomes.iter().filter(|(status, _, _)| *status == StatusCode::SERVICE_UNAVAILABLE).collect();
    assert!(!busy.is_empty(), "{outcomes:?}");
    for (_, retry_after, body) in &busy {
        assert_eq!(body, "\"DeliveryBusy\"", "the same answer as a full delivery queue");
        assert_eq!(retry_after.as_deref(), Some("5"));
    }
    // A busy answer spent nothing: only the codes that went counted.
    let sent = outcomes.len() - busy.len();
    assert_eq!(
        app.count(
            "SELECT CAST(COALESCE(SUM(hour_count), 0) AS BIGINT) FROM destinations WHERE destination NOT LIKE 'from:%'"
        )
        .await,
        sent as i64
    );
}

// 7. SMS cost: a per-IP share, kept in the database.

#[tokio::test]
async fn a_few_addresses_cannot_spend_everyones_sms_budget() {
    let app = spawn_app_with(&[BEHIND_PROXY.as_slice(), &[("PASSCODE_SMS_PER_IP_PER_HOUR", "2")]].concat()).await;
    let numbers = ["+44 7911 123451", "+44 7911 123452", "+44 7911 123453"];
    assert_eq!(app.request_code_forwarded(numbers[0], "203.0.113.5").await.status(), StatusCode::OK);
    assert_eq!(app.request_code_forwarded(numbers[1], "203.0.113.5").await.status(), StatusCode::OK);
    let res = app.request_code_forwarded(numbers[2], "203.0.113.5").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_of(res).await, json!("SmsUnavailable"));
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 2);
    // Email still goes, and other clients still get texts.
    assert_eq!(app.request_code_forwarded("a@example.com", "203.0.113.5").await.status(), StatusCode::OK);
    assert_eq!(app.request_code_forwarded(numbers[2], "198.51.100.7").await.status(), StatusCode::OK);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sms_senders").await,
        4,
        "two clients and their networks, in the database"
    );
    app.clock.advance_ms(3_601_000);
    let res = app.request_code_forwarded("+44 7911 123454", "203.0.113.5").await;
    assert_eq!(res.status(), StatusCode::OK, "a new hour, a new share");
}

// 8. Smaller findings.

#[tokio::test]
async fn no_message_body_or_code_is_logged_at_any_level() {
    let dir = temp_dir();
    let db = TestDatabase::create(&dir).await;
    // Ten letters and digits: no timestamp or id in a log line matches by chance.
    let server = start(
        &dir,
        &db.url,
        &[("PASSCODE_LOG", "trace"), ("PASSCODE_CODE_ALPHABET", "alphanumeric"), ("PASSCODE_CODE_LENGTH", "10")],
    );
    let browser = Browser::new();
    let res = browser.post(&server.base, "/api/request_code", &[("identifier", "quiet@example.com")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let code = latest_code(&server.base, "quiet@example.com").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = server.log.lock().unwrap().join("\n");
    assert!(log.contains("DEBUG") || log.contains("TRACE"), "the log is at its most verbose");
    assert!(log.contains("message stored in the dev outbox"), "the log is being read");
    assert!(!log.contains(&code), "a code was logged");
    assert!(!log.contains("Nobody can sign in without"), "a message body was logged");
    assert!(!log.contains("/n?t="), "a report link was logged");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_right_code_that_lost_a_race_with_a_resend_is_told_a_newer_code_was_sent() {
    // Slow hashes (tens of milliseconds each) open the window the race needs:
    // the resend's new code lands while the right code is being checked.
    let app = spawn_app_with(&[("PASSCODE_ARGON2_MEMORY_KIB", "65536"), ("PASSCODE_ARGON2_ITERATIONS", "6")]).await;
    let to = "racer@example.com";
    let mut raced = 0;
    for _ in 0..4 {
        app.clock.advance_ms(3_601_000);
        let started = Instant::now();
        assert_eq!(app.request_code(to).await.status(), StatusCode::OK);
        let hash_time = started.elapsed();
        let code = app.latest_code(to).await;
        let old = app.cookie(PENDING).unwrap();
        app.clock.advance_ms(31_000);
        let resend = app.post("/api/resend_code", &[]);
        let verify = async {
            tokio::time::sleep(hash_time / 2).await;
            app.verify(&code).await
        };
        let (resent, verified) = tokio::join!(resend, verify);
        assert_eq!(resent.status(), StatusCode::OK, "{:?}", resent.text().await);
        let reserved = app.count(&format!("SELECT attempts FROM challenges WHERE id = '{old}'")).await;
        if verified.status() == StatusCode::OK || reserved == 0 {
            // The check finished first, or began after the new code: no race.
            app.clear_cookies();
            continue;
        }
        assert_eq!(verified.status(), StatusCode::GONE);
        assert_eq!(error_of(verified).await, json!("CodeSuperseded"), "not \"already been used\"");
        raced += 1;
        app.clear_cookies();
    }
    assert!(raced > 0, "the race never happened; the test proved nothing");
}

#[tokio::test]
async fn a_request_that_is_not_the_functions_arguments_is_the_clients_fault() {
    let app = spawn_app().await;
    for (path, form) in [("/api/request_code", vec![("who", "missing@example.com")]), ("/api/verify_code", vec![])] {
        let res =
            app.client.post(app.url(path)).header("sec-fetch-site", "same-origin").form(&form).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path} {form:?}");
        let body: Value = res.json().await.unwrap();
        assert!(body.get("Request").is_some(), "{path}: {body}");
    }
}

// 9. A sign-in link swapped in from another site (second review, item 5).

/// The path of the sign-in link in the newest message to `to` in the outbox.
async fn newest_link(app: &TestApp, to: &str) -> String {
    let outbox = app.outbox().await;
    link_path(outbox.iter().find(|m| m["to"] == to).unwrap()["body"].as_str().unwrap())
}

/// The victim's confirmation page is open, showing their own address. An
/// attacker's page (a popup it opened earlier, say) navigates this browser
/// to the attacker's own link, which replaces the link cookie. The victim
/// presses "Sign in": nobody is signed in, the page says the link changed
/// and now shows the attacker's address. And no cross-site navigation ends
/// the session the browser already had.
#[tokio::test]
async fn a_link_swapped_in_from_another_site_signs_nobody_in() {
    let app = spawn_app().await;
    let attacker = Browser::new();
    let base = app.url("");
    let res = attacker.post(&base, "/api/request_code", &[("identifier", "attacker@evil.example")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let attackers_link = newest_link(&app, "attacker@evil.example").await;
    // The victim asks for a code and opens their own link.
    assert_eq!(app.request_code("victim@example.com").await.status(), StatusCode::OK);
    app.get(&newest_link(&app, "victim@example.com").await).await;
    let page = app.get("/sign-in/confirm").await.text().await.unwrap();
    assert!(page.contains("victim@example.com"));
    let shown = shown_on(&page).unwrap();
    // The attacker's navigation: a cross-site GET of the attacker's link.
    let res = app
        .client
        .get(app.url(&attackers_link))
        .header("cookie", app.cookie_header())
        .header("sec-fetch-site", "cross-site")
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    app.keep_cookies(&res);
    // The victim presses "Sign in" on the page that showed their address.
    let res = app.post("/api/confirm_link", &[("shown", shown.as_str())]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_of(res).await, json!("LinkChanged"));
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0, "nobody is signed in");
    // Without JavaScript the same post comes back to the page, which now
    // names the attacker's address beside the warning.
    let res = app.post_plain_form("/api/confirm_link", &[("shown", &shown)], "/sign-in/confirm").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    let page = app.get(back.trim_start_matches(&app.url(""))).await.text().await.unwrap();
    assert!(page.contains("attacker@evil.example"), "{page}");
    assert!(page.contains("changed since this page was shown"), "{page}");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
    // The attacker's own page's value can't be had by the victim's page,
    // and the attacker's link is not used up by any of this.
    assert_eq!(app.count("SELECT COUNT(*) FROM challenges WHERE consumed_at IS NOT NULL").await, 0);

    // Signed in, a cross-site navigation to a link ends nothing.
    app.clear_cookies();
    app.clock.advance_ms(31_000);
    app.sign_in("victim@example.com", "victim@example.com").await;
    let session = app.cookie(SESSION).unwrap();
    let res = app
        .client
        .get(app.url(&attackers_link))
        .header("cookie", app.cookie_header())
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    app.keep_cookies(&res);
    assert_eq!(app.cookie(SESSION).as_deref(), Some(session.as_str()));
    assert_eq!(app.account_page().await.status(), StatusCode::OK, "still signed in");
    // A cross-site post of the button is refused outright.
    let res = app
        .client
        .post(app.url("/api/confirm_link"))
        .header("cookie", app.cookie_header())
        .header("sec-fetch-site", "cross-site")
        .form(&[("shown", "anything")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.account_page().await.status(), StatusCode::OK, "still signed in as the victim");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1, "the attacker's account was never created");
}
