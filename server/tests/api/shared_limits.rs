//! Per-IP limits shared through Redis (`PASSCODE_REDIS_URL`): two real
//! server processes draw on one allowance; their buckets expire on their
//! own; when Redis goes away each falls back to its own buckets (limits
//! stay on) and says so, and picks Redis up again when it is back. Redis
//! here is a `redis-server` of the test's own on a spare port, so stopping
//! it touches nothing else on the machine.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::TestDatabase;
use crate::two_instances::{Browser, Instance, start};

struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    fn start(dir: &Path, port: Option<u16>) -> Self {
        let fixed = port;
        // Its own directory (Redis refuses to start in one that is missing).
        let dir = dir.join("redis");
        std::fs::create_dir_all(&dir).unwrap();
        let port = port.unwrap_or_else(|| TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
        let child = Command::new(std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into()))
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server runs (Debian's redis-server package)");
        let mut child = child;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            // The free port picked above was taken by another test's
            // process first: another one (only when none was asked for).
            if child.try_wait().unwrap().is_some() {
                assert!(fixed.is_none(), "redis-server could not listen on {port} again");
                return Self::start(dir.parent().unwrap(), None);
            }
            assert!(Instant::now() < deadline, "redis-server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child: Some(child), port, dir: dir.parent().unwrap().to_owned() }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The same server again, empty, on the same port.
    fn restart(&mut self) {
        self.stop();
        *self = Self::start(&self.dir.clone(), Some(self.port));
    }

    async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url()).unwrap().get_multiplexed_async_connection().await.unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn send(browser: &Browser, on: &Instance, to: &str) -> StatusCode {
    browser.post(&on.base, "/api/request_code", &[("identifier", to)]).await.status()
}

fn logged(instance: &Instance, words: &str) -> bool {
    instance.log.lock().unwrap().iter().any(|l| l.contains(words))
}

async fn gauge(instance: &Instance, name: &str) -> Option<String> {
    let url = {
        let log = instance.log.lock().unwrap();
        let line = log.iter().find(|l| l.contains("metrics on http://")).cloned().unwrap();
        line.split("metrics on ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned()
    };
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    text.lines().find(|l| l.starts_with(&format!("{name} "))).map(|l| l.split(' ').nth(1).unwrap().to_owned())
}

#[tokio::test]
async fn two_instances_share_one_per_ip_allowance_and_fall_back_while_redis_is_away() {
    let dir = std::env::temp_dir().join(format!("passcode-redis-{}", app::domain::random_id()));
    let db = TestDatabase::create(&dir).await;
    let mut redis = RedisServer::start(&dir, None);
    let url = redis.url();
    // Four sends per client per 10 minutes, all at once if it likes; one
    // check a second, ten at once.
    let env = [
        ("PASSCODE_REDIS_URL", url.as_str()),
        ("PASSCODE_REDIS_PREFIX", "t:"),
        ("PASSCODE_IP_SENDS_PER_10_MIN", "4"),
        ("PASSCODE_IP_SEND_BURST", "4"),
        ("PASSCODE_IP_VERIFIES_PER_10_MIN", "600"),
        ("PASSCODE_IP_VERIFY_BURST", "10"),
        ("PASSCODE_METRICS_ADDR", "127.0.0.1:0"),
    ];
    let a = start(&dir, &db.url, &env);
    let b = start(&dir, &db.url, &env);
    assert!(logged(&a, "per-IP limits shared by every instance through Redis"), "start-up says so");
    assert_eq!(gauge(&a, app::metrics::IP_LIMITS_SHARED).await.as_deref(), Some("1"));

    // One client, alternating between the instances, each send to a new
    // address (so only the per-IP limit can refuse): four in all, not four
    // on each.
    let browser = Browser::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("shared{n}@example.com")
    };
    for on in [&a, &b, &a, &b] {
        assert_eq!(send(&browser, on, &next()).await, StatusCode::OK);
    }
    for on in [&a, &b] {
        let res = browser.post(&on.base, "/api/request_code", &[("identifier", &next())]).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the shared allowance is spent, on {}", on.base);
        assert!(res.headers().contains_key("retry-after"));
    }

    // The buckets carry their own expiry: the client's is full again in 10
    // minutes (four sends of 150 s each), its network's sooner.
    let mut r = redis.connection().await;
    let keys: Vec<String> = redis::cmd("KEYS").arg("t:send:*").query_async(&mut r).await.unwrap();
    assert_eq!(keys.len(), 2, "the client's bucket and its network's: {keys:?}");
    for key in &keys {
        let ttl: i64 = redis::cmd("PTTL").arg(key).query_async(&mut r).await.unwrap();
        assert!(ttl > 0 && ttl <= 600_000, "{key} expires on its own ({ttl} ms)");
        if key.ends_with("/32") {
            assert!(ttl > 500_000, "{key}: four sends' worth ({ttl} ms)");
        }
    }
    // A check is a second's worth: its buckets are gone a second later.
    let res = browser.post(&a.base, "/api/verify_code", &[("code", "000000")]).await;
    assert_ne!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let keys: Vec<String> = redis::cmd("KEYS").arg("t:verify:*").query_async(&mut r).await.unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let keys: Vec<String> = redis::cmd("KEYS").arg("t:verify:*").query_async(&mut r).await.unwrap();
    assert!(keys.is_empty(), "expired: {keys:?}");
    drop(r);

    // Redis goes away: each instance counts on its own, at once (no hang),
    // and the limits stay on: four more on A, then A refuses.
    redis.stop();
    let started = Instant::now();
    for _ in 0..4 {
        assert_eq!(send(&browser, &a, &next()).await, StatusCode::OK, "A's own allowance");
    }
    assert_eq!(send(&browser, &a, &next()).await, StatusCode::TOO_MANY_REQUESTS, "limits stay on without Redis");
    assert!(started.elapsed() < Duration::from_secs(5), "no request waited long for Redis: {:?}", started.elapsed());
    assert!(logged(&a, "can't be reached"), "the log says so");
    assert_eq!(gauge(&a, app::metrics::IP_LIMITS_SHARED).await.as_deref(), Some("0"));
    let fallbacks = gauge(&a, app::metrics::IP_LIMITS_FALLBACKS).await.unwrap();
    assert!(fallbacks.parse::<f64>().unwrap() >= 5.0, "{fallbacks}");

    // Redis is back (empty): within a few seconds A asks it again, and its
    // fresh allowance is what counts, shared with B once more.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if send(&browser, &a, &next()).await == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "A did not pick Redis up again within 5 s");
    }
    assert!(logged(&a, "shared again"), "the log says so");
    assert_eq!(gauge(&a, app::metrics::IP_LIMITS_SHARED).await.as_deref(), Some("1"));
    for on in [&b, &a, &b] {
        assert_eq!(send(&browser, on, &next()).await, StatusCode::OK);
    }
    assert_eq!(send(&browser, &a, &next()).await, StatusCode::TOO_MANY_REQUESTS, "shared again");

    drop((a, b));
    redis.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
