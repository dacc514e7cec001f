//! Running it: health checks, a database outage, the purge job, shutdown.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::*;

/// A TCP forwarder to the test Postgres that can be cut and restored, so
/// the server sees its database vanish and come back on the same address.
struct Cable {
    addr: SocketAddr,
    target: String,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Cable {
    async fn new(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cable =
            Cable { addr: listener.local_addr().unwrap(), target: target.to_owned(), tasks: Default::default() };
        cable.serve(listener);
        cable
    }

    fn serve(&self, listener: TcpListener) {
        let (target, tasks) = (self.target.clone(), self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(conn);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Closes the listener and every connection through it.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    async fn restore(&self) {
        let listener = TcpListener::bind(self.addr).await.expect("the port is free again");
        self.serve(listener);
    }
}

#[tokio::test]
async fn health_endpoints() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ready");
}

#[tokio::test]
async fn a_database_outage_fails_fast_with_503_and_recovers_by_itself() {
    let db = TestDatabase::create_postgres().await;
    let (base, name) = db.url.rsplit_once('/').unwrap();
    let host_port = base.rsplit_once('@').map_or(base, |(_, hp)| hp).trim_start_matches("postgres://");
    let cable = Cable::new(host_port).await;
    let user = base.trim_start_matches("postgres://").split('@').next().unwrap();
    let url = format!("postgres://{user}@{}/{name}", cable.addr);
    let app = spawn_app_with(&[("DATABASE_URL", &url), ("PASSCODE_DB_ACQUIRE_TIMEOUT_MS", "1000")]).await;
    assert_eq!(app.request_code("a@example.com").await.status(), StatusCode::OK);

    cable.cut();
    for address in ["b@example.com", "c@example.com"] {
        let started = Instant::now();
        let res = app.request_code(address).await;
        let took = started.elapsed();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error_of(res).await, json!("Unavailable"));
        // The acquire timeout (1 s) bounds the wait, plus scheduling slack.
        assert!(took < Duration::from_millis(2500), "a request hung for {took:?}");
    }
    assert_eq!(app.get("/readyz").await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "the process is alive");
    // Pages that need the database say so with a 503 and words.
    app.set_cookie(app::web::SESSION_COOKIE, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let page = app.account_page().await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.text().await.unwrap().contains("Please try again in a moment."));
    app.clear_cookies();
    // The sign-in page itself needs no database.
    assert_eq!(app.get("/sign-in").await.status(), StatusCode::OK);

    cable.restore().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = app.request_code("d@example.com").await.status();
        if status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "still {status} after the database came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    cable.cut();
    drop(app);
    drop(db);
}

#[tokio::test]
async fn the_purge_removes_only_what_has_expired() {
    let app = spawn_app().await;
    app.sign_in("old@example.com", "old@example.com").await;
    let store = app::store::SqlStore::new(app.pool.clone());
    // A day and a bit later, with a 30-day session still valid.
    app.clock.advance_ms(25 * 3_600_000);
    app.clear_cookies();
    app.request_code("new@example.com").await;
    let now = 1_800_000_000_000 + 25 * 3_600_000;
    let removed = store.purge(now, 90 * 86_400_000, 7 * 86_400_000).await.unwrap();
    assert!(removed >= 2, "the old challenge and the old counters: {removed}");
    assert_eq!(app.count("SELECT COUNT(*) FROM challenges").await, 1, "the new challenge stays");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1, "the session has not expired");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM destinations").await,
        2,
        "the new address's row and its requester's share"
    );
    // Twice at once, as two instances would: harmless.
    let (a, b) = tokio::join!(store.purge(now + 31 * 86_400_000, 1, 1), store.purge(now + 31 * 86_400_000, 1, 1));
    a.unwrap();
    b.unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events").await, 0);
}
