//! Stopping the real binary with signals: SIGTERM turns `/readyz` to 503
//! first while requests are still served, then accepts nothing new and
//! lets what is in flight finish, within `PASSCODE_SHUTDOWN_GRACE_SECS`;
//! what is still running past it is cut off; the jobs write what they hold.
//! A request "in flight" here is a code being sent to a text-message
//! provider (a webhook on loopback) that takes its time to answer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use reqwest::StatusCode;

use crate::helpers::TestDatabase;
use crate::two_instances::{Instance, start};

/// An SMS webhook that answers each message after `delay`, and tells when
/// one has arrived (the request that sent it is then in flight).
#[derive(Clone)]
struct SlowProvider {
    delay: Duration,
    arrived: Arc<Mutex<usize>>,
}

impl SlowProvider {
    async fn start(delay: Duration) -> (Self, String) {
        let provider = Self { delay, arrived: Arc::default() };
        let router = axum::Router::new()
            .route(
                "/sms",
                post(|axum::extract::State(p): axum::extract::State<SlowProvider>| async move {
                    *p.arrived.lock().unwrap() += 1;
                    tokio::time::sleep(p.delay).await;
                    "{}"
                }),
            )
            .with_state(provider.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (provider, url)
    }

    async fn wait_for_a_message(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while *self.arrived.lock().unwrap() == 0 {
            assert!(Instant::now() < deadline, "no message reached the provider");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn sms_through(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PASSCODE_ENV", "development".into()),
        ("PASSCODE_SMS_PROVIDER", "webhook".into()),
        ("PASSCODE_SMS_WEBHOOK_URL", url.into()),
        ("PASSCODE_SMS_WEBHOOK_TOKEN", "hook-token-0123456789".into()),
        ("PASSCODE_SMS_TIMEOUT_MS", "60000".into()),
    ]
}

/// Asks for a code by text message, in the background: the answer, or the
/// error of a connection that was cut.
fn send_a_text(base: &str) -> tokio::task::JoinHandle<Result<reqwest::Response, reqwest::Error>> {
    let url = format!("{base}/api/request_code");
    tokio::spawn(
        async move { reqwest::Client::new().post(url).form(&[("identifier", "+1 201 555 0123")]).send().await },
    )
}

async fn status_of(base: &str, path: &str) -> Result<(StatusCode, String), reqwest::Error> {
    // A new connection each time: what a proxy's health check opens.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let res = client.get(format!("{base}{path}")).send().await?;
    Ok((res.status(), res.text().await.unwrap_or_default()))
}

fn log_of(instance: &Instance) -> String {
    instance.log.lock().unwrap().join("\n")
}

#[tokio::test]
async fn sigterm_turns_unready_first_then_finishes_what_is_in_flight() {
    let dir = std::env::temp_dir().join(format!("passcode-drain-{}", app::domain::random_id()));
    let db = TestDatabase::create(&dir).await;
    // Generous times: some 160 tests share two cores with this one.
    let (provider, url) = SlowProvider::start(Duration::from_secs(8)).await;
    let mut env = sms_through(&url);
    env.extend([("PASSCODE_SHUTDOWN_UNREADY_SECS", "4".into()), ("PASSCODE_SHUTDOWN_GRACE_SECS", "30".into())]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut instance = start(&dir, &db.url, &env);
    let base = instance.base.clone();
    assert_eq!(status_of(&base, "/readyz").await.unwrap().0, StatusCode::OK);

    let send = send_a_text(&base);
    provider.wait_for_a_message().await;
    let signalled = Instant::now();
    instance.signal("TERM");

    // Unready at once, for the proxy's health check...
    let deadline = signalled + Duration::from_secs(2);
    loop {
        let (status, body) = status_of(&base, "/readyz").await.unwrap();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(body, "not ready: shutting down");
            break;
        }
        assert!(Instant::now() < deadline, "/readyz still {status} 2 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...while requests are still answered, on new connections too.
    assert_eq!(status_of(&base, "/healthz").await.unwrap().0, StatusCode::OK);
    assert!(signalled.elapsed() < Duration::from_millis(3500), "the checks above took too long to prove anything");

    // After the unready time nothing new is accepted, though the text is
    // still on its way.
    tokio::time::sleep_until((signalled + Duration::from_millis(5500)).into()).await;
    let refused = status_of(&base, "/healthz").await;
    assert!(refused.as_ref().is_err_and(reqwest::Error::is_connect), "{refused:?}");
    assert!(!send.is_finished(), "the send should still be waiting for the provider");

    // The request in flight finishes as if nothing happened.
    let res = send.await.unwrap().expect("the request in flight is answered");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().contains(app::web::PENDING_COOKIE)),
        "the person can go on to the code page"
    );
    let status = instance.exited_within(Duration::from_secs(15)).await;
    assert!(status.success(), "{status:?}");
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(14), "took {took:?}");
    let log = log_of(&instance);
    for said in ["shutting down", "every request in flight finished", "background jobs stopped"] {
        assert!(log.contains(said), "{said:?} missing from:\n{log}");
    }
    assert!(log.lines().last().is_some_and(|l| l.ends_with("passcode: stopped")), "{log}");
    assert!(!log.contains("still in flight"), "{log}");
    drop(instance);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn what_is_still_running_when_the_grace_ends_is_cut_off() {
    let dir = std::env::temp_dir().join(format!("passcode-grace-{}", app::domain::random_id()));
    let db = TestDatabase::create(&dir).await;
    let (provider, url) = SlowProvider::start(Duration::from_secs(60)).await;
    let mut env = sms_through(&url);
    env.extend([("PASSCODE_SHUTDOWN_UNREADY_SECS", "1".into()), ("PASSCODE_SHUTDOWN_GRACE_SECS", "3".into())]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut instance = start(&dir, &db.url, &env);
    let send = send_a_text(&instance.base);
    provider.wait_for_a_message().await;
    let signalled = Instant::now();
    instance.signal("TERM");
    let status = instance.exited_within(Duration::from_secs(10)).await;
    let took = signalled.elapsed();
    assert!(status.success(), "{status:?}");
    // The grace, then a second for the jobs: never the minute the text
    // would take.
    assert!(took >= Duration::from_secs(3) && took < Duration::from_millis(7500), "took {took:?}");
    // The person's browser sees the connection end, never a session.
    let answer = tokio::time::timeout(Duration::from_secs(5), send).await.expect("not left hanging").unwrap();
    assert!(answer.is_err(), "{answer:?}");
    let log = log_of(&instance);
    let cut = log.lines().find(|l| l.contains("ran out: stopping with requests still in flight"));
    assert!(cut.is_some_and(|l| l.contains("in_flight=1")), "{log}");
    drop(instance);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn ctrl_c_skips_the_unready_time_and_a_second_signal_stops_at_once() {
    let dir = std::env::temp_dir().join(format!("passcode-int-{}", app::domain::random_id()));
    let db = TestDatabase::create(&dir).await;
    let (provider, url) = SlowProvider::start(Duration::from_secs(60)).await;
    let mut env = sms_through(&url);
    env.extend([("PASSCODE_SHUTDOWN_UNREADY_SECS", "20".into()), ("PASSCODE_SHUTDOWN_GRACE_SECS", "60".into())]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut instance = start(&dir, &db.url, &env);
    let base = instance.base.clone();
    let send = send_a_text(&base);
    provider.wait_for_a_message().await;
    instance.signal("INT");
    // Not accepting at once: no unready time after a Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(2);
    while status_of(&base, "/healthz").await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting 2 s after SIGINT");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The send is still waited for, until a second Ctrl-C.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(instance.running(), "stopped without waiting for the request in flight");
    let second = Instant::now();
    instance.signal("INT");
    let status = instance.exited_within(Duration::from_secs(5)).await;
    assert!(status.success(), "{status:?}");
    assert!(second.elapsed() < Duration::from_secs(2), "took {:?} after the second signal", second.elapsed());
    assert!(send.await.unwrap().is_err());
    let log = log_of(&instance);
    let hurried = log.lines().find(|l| l.contains("a second signal: stopping now"));
    assert!(hurried.is_some_and(|l| l.contains("in_flight=1")), "{log}");
    drop(instance);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn refusals_not_yet_written_are_written_at_shutdown() {
    let dir = std::env::temp_dir().join(format!("passcode-flush-{}", app::domain::random_id()));
    let db = TestDatabase::create(&dir).await;
    // One send per client, then per-IP refusals (written as a summary row
    // once a minute, and at shutdown).
    let mut instance = start(
        &dir,
        &db.url,
        &[
            ("PASSCODE_IP_SEND_BURST", "1"),
            ("PASSCODE_IP_SENDS_PER_10_MIN", "1"),
            ("PASSCODE_SHUTDOWN_UNREADY_SECS", "0"),
        ],
    );
    // The job's first tick (a flush of nothing) comes as it starts; these
    // refusals come after it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/request_code", instance.base);
    let statuses: Vec<StatusCode> = three_sends(&client, &url).await;
    assert_eq!(statuses, [StatusCode::OK, StatusCode::TOO_MANY_REQUESTS, StatusCode::TOO_MANY_REQUESTS]);
    // The first summary was written at start-up (the minute's first tick),
    // before these refusals: none is in the trail yet.
    assert_eq!(rate_limited_rows(&db.url).await, Vec::<String>::new());
    instance.signal("TERM");
    assert!(instance.exited_within(Duration::from_secs(10)).await.success());
    let rows = rate_limited_rows(&db.url).await;
    assert!(rows.len() == 1 && rows[0].starts_with("2 send requests refused per IP"), "{rows:?}");
    drop(instance);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn rate_limited_rows(url: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT detail FROM audit_events WHERE kind = 'rate_limited'")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

async fn three_sends(client: &reqwest::Client, url: &str) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for to in ["a@example.com", "b@example.com", "c@example.com"] {
        statuses.push(client.post(url).form(&[("identifier", to)]).send().await.unwrap().status());
    }
    statuses
}
