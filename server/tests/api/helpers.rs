use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use app::auth::ManualClock;
use passcode::config::Config;
use reqwest::header::{ACCEPT, COOKIE, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::Value;

/// A deployment behind a proxy on this machine: production rules (a proxy
/// means a deployment), codes still in the outbox (by name), which answers
/// only requests made directly from this machine.
pub const BEHIND_PROXY: [(&str, &str); 3] = [
    ("PASSCODE_TRUSTED_PROXIES", "127.0.0.1"),
    ("PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION", "true"),
    ("PASSCODE_SMS_PROVIDER", "outbox"),
];

pub const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A database for one test: a fresh SQLite file, or (with
/// `TEST_DATABASE=postgres`) a fresh Postgres database, dropped afterwards.
pub struct TestDatabase {
    pub url: String,
    postgres: Option<(String, String)>,
}

pub fn backend() -> String {
    std::env::var("TEST_DATABASE").unwrap_or_else(|_| "sqlite".into())
}

fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl TestDatabase {
    pub async fn create(data_dir: &std::path::Path) -> Self {
        match backend().as_str() {
            "sqlite" => {
                Self { url: format!("sqlite://{}?mode=rwc", data_dir.join("passcode.db").display()), postgres: None }
            }
            "postgres" => Self::create_postgres().await,
            other => panic!("TEST_DATABASE must be sqlite or postgres, not {other:?}"),
        }
    }

    /// A fresh database on the test Postgres server, whatever the backend
    /// under test.
    pub async fn create_postgres() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!(
            "passcode_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let admin = postgres_admin_url();
        sqlx::any::install_default_drivers();
        // Fails, never skips, when Postgres is not there.
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("Postgres at {admin} (TEST_POSTGRES_URL) is unreachable: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
        let base = admin.rsplit_once('/').expect("TEST_POSTGRES_URL has a database path").0;
        Self { url: format!("{base}/{name}"), postgres: Some((admin, name)) }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else { return };
        // Drop runs inside the test's runtime; a thread of its own may block.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}

/// What a browser keeps: name -> (value, the whole Set-Cookie line).
#[derive(Default)]
pub struct CookieJar(Mutex<HashMap<String, (String, String)>>);

impl CookieJar {
    /// The `Cookie` request header.
    pub fn header(&self) -> String {
        let jar = self.0.lock().unwrap();
        jar.iter().map(|(k, (v, _))| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// Applies a response's `Set-Cookie` lines (an empty value or
    /// `Max-Age=0` deletes).
    pub fn keep(&self, res: &Response) {
        let mut jar = self.0.lock().unwrap();
        for line in res.headers().get_all(SET_COOKIE) {
            let line = line.to_str().unwrap().to_owned();
            let (pair, _) = line.split_once(';').unwrap_or((&line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || line.to_ascii_lowercase().contains("max-age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), (value.to_owned(), line.clone()));
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.0.lock().unwrap().get(name).map(|(v, _)| v.clone())
    }

    pub fn line(&self, name: &str) -> Option<String> {
        self.0.lock().unwrap().get(name).map(|(_, l)| l.clone())
    }

    pub fn set(&self, name: &str, value: &str) {
        self.0.lock().unwrap().insert(name.into(), (value.into(), String::new()));
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub db: TestDatabase,
    /// The server's own pool, for calling the store directly.
    pub pool: sqlx::AnyPool,
    pub clock: ManualClock,
    /// The server's auth service, for driving its background work.
    pub auth: Arc<app::web::Auth>,
    pub client: reqwest::Client,
    pub data_dir: PathBuf,
    jar: CookieJar,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The server stops with its handle, and with it whatever it holds
        // (a test that starts many servers keeps only the live ones).
        self.server.abort();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Stands in for the wasm in the sites tests build; what matters is that it
/// compresses and that a test can tell two builds apart.
pub const WASM: &[u8] = b"\0asm\x01\0\0\0 the built front end, as far as the server can tell. \
    the built front end, as far as the server can tell. the built front end.";

/// Writes the site directory that `cargo leptos build --release
/// --precompress` writes (the loader, the wasm, the stylesheet and the icon,
/// each beside its brotli and gzip copies), with `wasm` as the wasm.
pub fn release_like_site(dir: &std::path::Path, wasm: &[u8]) {
    use std::io::Write;
    let loader = "export default async function init(m) { /* wasm-bindgen's loader */ }\n".repeat(20);
    let css = "body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 32rem; }\n".repeat(20);
    let icon = r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7"/></svg>"#;
    let files: [(&str, &[u8]); 4] = [
        ("pkg/passcode.js", loader.as_bytes()),
        ("pkg/passcode.wasm", wasm),
        ("pkg/passcode.css", css.as_bytes()),
        ("favicon.svg", icon.as_bytes()),
    ];
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let mut br = Vec::new();
        brotli::CompressorWriter::new(&mut br, 4096, 11, 22).write_all(bytes).unwrap();
        std::fs::write(format!("{}.br", path.display()), br).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(bytes).unwrap();
        std::fs::write(format!("{}.gz", path.display()), gz.finish().unwrap()).unwrap();
    }
}

pub async fn spawn_app_with(env: &[(&str, &str)]) -> TestApp {
    try_spawn_app_with(env).await.unwrap_or_else(|e| panic!("server builds: {e}"))
}

/// As `spawn_app_with`, with the start-up error (all its causes) instead of a panic.
pub async fn try_spawn_app_with(env: &[(&str, &str)]) -> Result<TestApp, String> {
    let data_dir = std::env::temp_dir().join(format!("passcode-test-{}", app::domain::random_id()));
    let db = TestDatabase::create(&data_dir).await;
    // Production rules refuse to start without a built front end.
    let site = data_dir.join("site");
    release_like_site(&site, WASM);
    let mut src: HashMap<String, String> = HashMap::new();
    src.insert("DATABASE_URL".into(), db.url.clone());
    src.insert("PASSCODE_DATA_DIR".into(), data_dir.display().to_string());
    src.insert("PASSCODE_SECRET".into(), SECRET.into());
    // Small but real argon2id: keeps the suite fast on two cores.
    src.insert("PASSCODE_ARGON2_MEMORY_KIB".into(), "1024".into());
    src.insert("PASSCODE_ADDR".into(), "127.0.0.1:0".into());
    src.insert("PASSCODE_PUBLIC_URL".into(), "http://127.0.0.1:3000".into());
    src.insert("LEPTOS_SITE_ROOT".into(), site.display().to_string());
    // Every test comes from 127.0.0.1: per-IP limits are tested on their own.
    src.insert("PASSCODE_IP_SEND_BURST".into(), "100000".into());
    src.insert("PASSCODE_IP_VERIFY_BURST".into(), "100000".into());
    for (k, v) in env {
        src.insert((*k).into(), (*v).into());
    }
    let config = Config::from_source(&src).expect("test configuration is valid");
    let clock = ManualClock::new(1_800_000_000_000);
    let built = match passcode::build(&config, Arc::new(clock.clone())).await {
        Ok(built) => built,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&data_dir);
            return Err(format!("{e:#}"));
        }
    };
    let (router, pool, auth) = (built.router, built.pool, built.auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(passcode::serve(listener, router, std::future::pending()));
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Ok(TestApp { addr, db, pool, clock, auth, client, data_dir, jar: CookieJar::default(), server })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn cookie_header(&self) -> String {
        self.jar.header()
    }

    pub fn keep_cookies(&self, res: &Response) {
        self.jar.keep(res);
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.get(name)
    }

    pub fn set_cookie_line(&self, name: &str) -> Option<String> {
        self.jar.line(name)
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar.set(name, value);
    }

    pub fn clear_cookies(&self) {
        self.jar.clear();
    }

    /// A server-function call as the hydrated page makes it.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let res = self
            .client
            .post(self.url(path))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("request reaches the server");
        self.keep_cookies(&res);
        res
    }

    /// The same call as a browser without JavaScript makes it: a plain form
    /// post that expects HTML and follows redirects itself.
    pub async fn post_plain_form(&self, path: &str, form: &[(&str, &str)], referer: &str) -> Response {
        let res = self
            .client
            .post(self.url(path))
            .header(COOKIE, self.cookie_header())
            .header(ACCEPT, "text/html,application/xhtml+xml")
            .header("referer", self.url(referer))
            .header("sec-fetch-site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&res);
        res
    }

    pub async fn get(&self, path: &str) -> Response {
        let res = self
            .client
            .get(self.url(path))
            .header(COOKIE, self.cookie_header())
            .header(ACCEPT, "text/html")
            .send()
            .await
            .unwrap();
        self.keep_cookies(&res);
        res
    }

    pub async fn request_code(&self, identifier: &str) -> Response {
        self.post("/api/request_code", &[("identifier", identifier)]).await
    }

    /// The same, as if from `ip` behind a proxy (or claiming to be).
    pub async fn request_code_forwarded(&self, identifier: &str, forwarded_for: &str) -> Response {
        self.client
            .post(self.url("/api/request_code"))
            .header("x-forwarded-for", forwarded_for)
            .form(&[("identifier", identifier)])
            .send()
            .await
            .unwrap()
    }

    pub async fn verify(&self, code: &str) -> Response {
        self.post("/api/verify_code", &[("code", code)]).await
    }

    pub async fn outbox(&self) -> Vec<Value> {
        let res = self.client.get(self.url("/dev/outbox.json")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    /// The code most recently sent to `to` (normalised form).
    pub async fn latest_code(&self, to: &str) -> String {
        let outbox = self.outbox().await;
        let msg = outbox.iter().find(|m| m["to"] == to).unwrap_or_else(|| panic!("no message to {to} in {outbox:?}"));
        msg["code"].as_str().unwrap().to_owned()
    }

    /// A code of the right shape that is not the one sent.
    pub fn wrong(code: &str) -> String {
        code.chars()
            .map(|c| if c == '9' { '0' } else { char::from_digit(c.to_digit(10).unwrap() + 1, 10).unwrap() })
            .collect()
    }

    pub async fn account_page(&self) -> Response {
        self.get("/account").await
    }

    pub async fn sign_in(&self, identifier: &str, normalised: &str) {
        let res = self.request_code(identifier).await;
        assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
        let code = self.latest_code(normalised).await;
        let res = self.verify(&code).await;
        assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.db.url).await.unwrap();
        let row = sqlx::query(sql).fetch_one(&mut conn).await.unwrap();
        sqlx::Row::get::<i64, _>(&row, 0)
    }
}

pub async fn error_of(res: Response) -> Value {
    res.json().await.expect("error body is JSON")
}

impl TestApp {
    /// "Sign in" on the sign-in link's confirmation page, as a browser
    /// presses it: the page, then its form (which names the link shown).
    pub async fn confirm_link(&self) -> Response {
        let page = self.get("/sign-in/confirm").await.text().await.unwrap();
        let shown = shown_on(&page).unwrap_or_default();
        self.post("/api/confirm_link", &[("shown", shown.as_str())]).await
    }
}

/// The link a confirmation page shows (its form's hidden `shown`).
pub fn shown_on(page: &str) -> Option<String> {
    let at = page.find("name=\"shown\" value=\"")? + "name=\"shown\" value=\"".len();
    Some(page[at..].split('"').next()?.to_owned())
}
