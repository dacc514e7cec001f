//! Two real server processes on one SQLite file: whatever limits brute force
//! and flooding must hold when requests alternate between them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{CookieJar, SECRET, TestApp, TestDatabase, WASM, backend, release_like_site};

pub(crate) struct Instance {
    child: Child,
    /// Reads the server's log until the pipe closes (the process ended).
    reader: Option<std::thread::JoinHandle<()>>,
    pub(crate) base: String,
    /// Everything the server logged (INFO and up).
    pub(crate) log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance {
    /// Sends the signal `name` (TERM, INT, …) to the process.
    pub(crate) fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([&format!("-{name}"), &pid]).status().unwrap().success());
    }

    pub(crate) fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the process to end, failing the test past `limit`; the
    /// log is complete when this returns.
    pub(crate) async fn exited_within(&mut self, limit: std::time::Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(std::time::Instant::now() < deadline, "still running {limit:?} later");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        // The pipe's last lines reach the log: the reader ends when the
        // pipe closes.
        if let Some(reader) = self.reader.take() {
            let _ = tokio::task::spawn_blocking(move || reader.join()).await;
        }
        status
    }
}

/// Starts the real binary and waits for its "listening on" line.
pub(crate) fn start(data_dir: &std::path::Path, database_url: &str, extra: &[(&str, &str)]) -> Instance {
    // Production rules refuse to start without a built front end.
    let site = data_dir.join("site");
    release_like_site(&site, WASM);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_passcode"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PASSCODE_ADDR", "127.0.0.1:0")
        .env("PASSCODE_PUBLIC_URL", "http://127.0.0.1:3000")
        .env("PASSCODE_DATA_DIR", data_dir)
        .env("LEPTOS_SITE_ROOT", &site)
        .env("DATABASE_URL", database_url)
        .env("PASSCODE_SECRET", SECRET)
        .env("PASSCODE_ARGON2_MEMORY_KIB", "1024")
        .env("PASSCODE_IP_SEND_BURST", "1000")
        .env("PASSCODE_IP_VERIFY_BURST", "1000")
        .env("PASSCODE_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the passcode binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let base = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        log.lock().unwrap().push(line.clone());
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining the pipe so the server never blocks on logging.
    let sink = log.clone();
    let reader = std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Instance { child, reader: Some(reader), base, log }
}

/// One browser talking to either instance: one cookie jar, any base URL.
pub(crate) struct Browser {
    pub(crate) client: reqwest::Client,
    pub(crate) cookies: CookieJar,
}

impl Browser {
    pub(crate) fn new() -> Self {
        Self {
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            cookies: CookieJar::default(),
        }
    }

    /// A browser elsewhere, as a trusted proxy on this machine reports it
    /// (`X-Forwarded-For: ip` on every request).
    pub(crate) fn forwarded(ip: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", ip.parse().unwrap());
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                .build()
                .unwrap(),
            cookies: CookieJar::default(),
        }
    }

    pub(crate) async fn post(&self, base: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let res = self
            .client
            .post(format!("{base}{path}"))
            .header("cookie", self.cookies.header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.cookies.keep(&res);
        res
    }

    /// The account page as a browser loads it: 200 when signed in, a 302 to
    /// sign-in otherwise.
    /// A page as a browser without JavaScript loads it.
    pub(crate) async fn get(&self, base: &str, path: &str) -> reqwest::Response {
        let res = self
            .client
            .get(format!("{base}{path}"))
            .header("cookie", self.cookies.header())
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        self.cookies.keep(&res);
        res
    }

    pub(crate) async fn account(&self, base: &str) -> StatusCode {
        self.client
            .get(format!("{base}/account"))
            .header("cookie", self.cookies.header())
            .header("accept", "text/html")
            .send()
            .await
            .unwrap()
            .status()
    }
}

pub(crate) async fn latest_code(base: &str, to: &str) -> String {
    let list: Vec<Value> = reqwest::get(format!("{base}/dev/outbox.json")).await.unwrap().json().await.unwrap();
    list.iter().find(|m| m["to"] == to).expect("a message was sent")["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn limits_and_sessions_hold_across_two_processes_on_one_database() {
    let dir = std::env::temp_dir().join(format!("passcode-two-{}", app::domain::random_id()));
    let db = TestDatabase::create(&dir).await;
    eprintln!("two instances on {}", backend());
    let limits = [("PASSCODE_FAILURES_PER_HOUR", "3"), ("PASSCODE_RESEND_COOLDOWN_SECS", "30")];
    // One after the other: the first applies the migrations.
    let a = start(&dir, &db.url, &limits);
    let b = start(&dir, &db.url, &limits);

    // A code requested on A, then again on B inside the cooldown: refused.
    let browser = Browser::new();
    assert_eq!(
        browser.post(&a.base, "/api/request_code", &[("identifier", "x@example.com")]).await.status(),
        StatusCode::OK
    );
    let res = browser.post(&b.base, "/api/request_code", &[("identifier", "x@example.com")]).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    // Requested on A, verified on B; the session then works on both.
    let code = latest_code(&b.base, "x@example.com").await;
    assert_eq!(browser.post(&b.base, "/api/verify_code", &[("code", &code)]).await.status(), StatusCode::OK);
    let token = browser.cookies.get(app::web::SESSION_COOKIE).unwrap();
    let mut secrets = vec![code.clone(), token, "x@example.com".to_owned()];
    assert_eq!(browser.account(&a.base).await, StatusCode::OK);
    assert_eq!(browser.account(&b.base).await, StatusCode::OK);

    // Wrong guesses alternating between the instances count together: the
    // third locks the address on both.
    let attacker = Browser::new();
    assert_eq!(attacker.account(&a.base).await, StatusCode::FOUND, "no session, no account page");
    assert_eq!(
        attacker.post(&b.base, "/api/request_code", &[("identifier", "y@example.com")]).await.status(),
        StatusCode::OK
    );
    let code = latest_code(&a.base, "y@example.com").await;
    for base in [&a.base, &b.base, &a.base] {
        assert_eq!(
            attacker.post(base, "/api/verify_code", &[("code", &TestApp::wrong(&code))]).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    for base in [&b.base, &a.base] {
        let res = attacker.post(base, "/api/verify_code", &[("code", &code)]).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "locked on {base}");
    }

    // Neither server logged a code, a token or a full address at INFO.
    secrets.push(code);
    secrets.push("y@example.com".to_owned());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for instance in [&a, &b] {
        let log = instance.log.lock().unwrap();
        assert!(log.iter().any(|l| l.contains("code sent")), "the log is being read");
        for secret in &secrets {
            assert!(!log.iter().any(|l| l.contains(secret.as_str())), "{secret} appears in the log");
        }
    }
    drop((a, b));
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn migrate_only_applies_the_schema_and_exits() {
    let dir = std::env::temp_dir().join(format!("passcode-migrate-{}", app::domain::random_id()));
    let db = TestDatabase::create(&dir).await;
    let status = Command::new(env!("CARGO_BIN_EXE_passcode"))
        .arg("--migrate-only")
        .env("DATABASE_URL", &db.url)
        .env("PASSCODE_DATA_DIR", &dir)
        .env("PASSCODE_SECRET", SECRET)
        .env("PASSCODE_LOG", "warn")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db.url).await.unwrap();
    let row = sqlx::query("SELECT COUNT(*) FROM audit_events").fetch_one(&mut conn).await.unwrap();
    assert_eq!(sqlx::Row::get::<i64, _>(&row, 0), 0, "the newest table exists");
    drop(conn);
    let bad = Command::new(env!("CARGO_BIN_EXE_passcode")).arg("--bogus").stderr(Stdio::null()).status().unwrap();
    assert_eq!(bad.code(), Some(2));
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
