//! Abuse resistance: every limit, its 429 and its wait, and exactness under
//! concurrency.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

use app::web::PENDING_COOKIE as PENDING;

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_second_code_inside_the_cooldown_gets_429_with_retry_after_and_words() {
    let app = spawn_app().await;
    assert_eq!(app.request_code("a@example.com").await.status(), StatusCode::OK);
    app.clock.advance_ms(6_000);
    let res = app.request_code("a@example.com").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&res), 24);
    let body = error_of(res).await;
    assert_eq!(body, json!({"SendLimited": {"retry_after_secs": 24}}));
    // The page, without JavaScript, says it in words.
    let res = app.post_plain_form("/api/request_code", &[("identifier", "a@example.com")], "/sign-in").await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    // The browser that posted follows it (the error is signed for it).
    let page = app.get(location.trim_start_matches(&app.url(""))).await.text().await.unwrap();
    assert!(page.contains("You can request a new code in 24 seconds."), "{page}");
    assert_eq!(app.outbox().await.len(), 1);
}

/// A browser that signed in as the address before draws on the known
/// browsers' row: the address's whole allowance, with the cooldown.
#[tokio::test]
async fn the_cooldown_doubles_and_the_hourly_and_daily_caps_hold() {
    let app = spawn_app().await;
    app.sign_in("a@example.com", "a@example.com").await;
    app.post("/api/sign_out", &[]).await;
    assert!(app.cookie(app::web::DEVICE_COOKIE).is_some(), "signing out keeps the device cookie");
    app.clock.advance_ms(86_400_000);
    let mut waits = Vec::new();
    for _ in 0..5 {
        assert_eq!(app.request_code("a@example.com").await.status(), StatusCode::OK);
        let res = app.request_code("a@example.com").await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait = retry_after(&res);
        waits.push(wait);
        app.clock.advance_ms(wait as i64 * 1000);
    }
    // 30, 60, 120, 240 s; after the fifth code the hourly cap decides.
    assert_eq!(&waits[..4], &[30, 60, 120, 240]);
    assert!(waits[4] > 240, "{waits:?}");
    // The hour has passed: five more codes, then the daily cap of ten.
    app.clock.advance_ms(3_600_000);
    for _ in 0..5 {
        assert_eq!(app.request_code("a@example.com").await.status(), StatusCode::OK);
        app.clock.advance_ms(16 * 30_000);
    }
    app.clock.advance_ms(3_600_000);
    let res = app.request_code("a@example.com").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&res) > 3600, "the day's cap waits for the day: {}", retry_after(&res));
    assert_eq!(app.outbox().await.len(), 1 + 10, "the first sign-in's code, then the day's ten");
    // Another destination is unaffected.
    assert_eq!(app.request_code("b@example.com").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn fifty_parallel_sends_produce_exactly_one_code() {
    let app = Arc::new(spawn_app().await);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let app = app.clone();
        set.spawn(async move { app.request_code("a@example.com").await.status() });
    }
    let statuses = set.join_all().await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(app.outbox().await.len(), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM challenges").await, 1);
}

#[tokio::test]
async fn fifty_parallel_wrong_guesses_check_at_most_five() {
    let app = Arc::new(spawn_app_with(&[("PASSCODE_FAILURES_PER_HOUR", "100")]).await);
    app.request_code("a@example.com").await;
    let code = app.latest_code("a@example.com").await;
    let wrong = TestApp::wrong(&code);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (app, wrong) = (app.clone(), wrong.clone());
        set.spawn(async move { app.verify(&wrong).await.status() });
    }
    let statuses = set.join_all().await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert!(checked <= 4, "{statuses:?}");
    assert_eq!(app.count("SELECT attempts FROM challenges").await, 5);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'verification_failed'").await, 5);
    assert_eq!(app.verify(&code).await.status(), StatusCode::GONE, "the challenge is burned");
}

/// Wrong guesses spread over several codes for one address.
async fn fail_n_times(app: &TestApp, to: &str, n: usize) {
    let mut left = n;
    while left > 0 {
        app.clock.advance_ms(16 * 30_000);
        assert_eq!(app.request_code(to).await.status(), StatusCode::OK);
        let code = app.latest_code(to).await;
        for _ in 0..left.min(4) {
            assert_eq!(app.verify(&TestApp::wrong(&code)).await.status(), StatusCode::UNAUTHORIZED);
            left -= 1;
        }
    }
}

#[tokio::test]
async fn failures_across_codes_lock_the_destination_and_a_new_code_does_not_reset_them() {
    let app = spawn_app_with(&[("PASSCODE_CODES_PER_HOUR", "50"), ("PASSCODE_CODES_PER_DAY", "50")]).await;
    // Nine failures over three codes: each new code keeps the count.
    fail_n_times(&app, "a@example.com", 9).await;
    app.clock.advance_ms(16 * 30_000);
    app.request_code("a@example.com").await;
    let code = app.latest_code("a@example.com").await;
    // The tenth failure locks, whatever the challenge.
    assert_eq!(app.verify(&TestApp::wrong(&code)).await.status(), StatusCode::UNAUTHORIZED);
    let res = app.verify(&code).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "even the right code waits out the lock");
    assert_eq!(retry_after(&res), 900);
    assert_eq!(error_of(res).await, json!({"VerifyLimited": {"retry_after_secs": 900}}));
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'destination_locked'").await, 1);
    // Sending is refused during the lock too, with the same kind of answer.
    let res = app.request_code("a@example.com").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(error_of(res).await.get("SendLimited").is_some());
    // The owner gets back in once the lock expires.
    app.clock.advance_ms(900_000);
    app.sign_in("a@example.com", "a@example.com").await;
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let app = spawn_app_with(&[("PASSCODE_CODES_PER_HOUR", "50"), ("PASSCODE_CODES_PER_DAY", "50")]).await;
    fail_n_times(&app, "a@example.com", 8).await;
    app.clock.advance_ms(16 * 30_000);
    app.sign_in("a@example.com", "a@example.com").await;
    // Eight more failures would have locked without the reset.
    fail_n_times(&app, "a@example.com", 8).await;
    app.clock.advance_ms(16 * 30_000);
    app.sign_in("a@example.com", "a@example.com").await;
}

#[tokio::test]
async fn per_ip_send_limit_applies_across_destinations() {
    let app = spawn_app_with(&[("PASSCODE_IP_SEND_BURST", "3"), ("PASSCODE_IP_SENDS_PER_10_MIN", "10")]).await;
    for i in 0..3 {
        assert_eq!(app.request_code(&format!("u{i}@example.com")).await.status(), StatusCode::OK);
    }
    let res = app.request_code("u9@example.com").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=60).contains(&retry_after(&res)));
    assert_eq!(app.outbox().await.len(), 3);
}

#[tokio::test]
async fn per_ip_verify_limit() {
    let app = spawn_app_with(&[("PASSCODE_IP_VERIFY_BURST", "2"), ("PASSCODE_IP_VERIFIES_PER_10_MIN", "30")]).await;
    app.request_code("a@example.com").await;
    let code = app.latest_code("a@example.com").await;
    for _ in 0..2 {
        assert_eq!(app.verify(&TestApp::wrong(&code)).await.status(), StatusCode::UNAUTHORIZED);
    }
    let res = app.verify(&code).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(error_of(res).await.get("VerifyLimited").is_some());
}

#[tokio::test]
async fn spoofed_forwarding_headers_from_an_untrusted_peer_change_nothing() {
    let app = spawn_app_with(&[("PASSCODE_IP_SEND_BURST", "2")]).await;
    assert_eq!(app.request_code_forwarded("a@example.com", "203.0.113.1").await.status(), StatusCode::OK);
    assert_eq!(app.request_code_forwarded("b@example.com", "203.0.113.2").await.status(), StatusCode::OK);
    // Still counted as 127.0.0.1, whatever the header says.
    let res = app.request_code_forwarded("c@example.com", "203.0.113.3").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE ip = '127.0.0.1' AND kind = 'code_sent'").await, 2);
    app.auth.flush_refusals().await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE ip = '127.0.0.1' AND kind = 'rate_limited'").await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE ip LIKE '203.%'").await, 0);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_bucket() {
    let app = spawn_app_with(&[BEHIND_PROXY.as_slice(), &[("PASSCODE_IP_SEND_BURST", "1")]].concat()).await;
    assert_eq!(app.request_code_forwarded("a@example.com", "203.0.113.1").await.status(), StatusCode::OK);
    assert_eq!(app.request_code_forwarded("b@example.com", "203.0.113.2").await.status(), StatusCode::OK);
    // The client prepended a fake address; the proxy appended the real one.
    let res = app.request_code_forwarded("c@example.com", "198.51.100.9, 203.0.113.1").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE ip = '203.0.113.2'").await, 1);
}

#[tokio::test]
async fn the_global_sms_budget_stops_texts_but_not_email() {
    let app = spawn_app_with(&[("PASSCODE_SMS_PER_HOUR", "2")]).await;
    assert_eq!(app.request_code("+447911123456").await.status(), StatusCode::OK);
    assert_eq!(app.request_code("+447911123457").await.status(), StatusCode::OK);
    let res = app.request_code("+447911123458").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_of(res).await, json!("SmsUnavailable"));
    assert_eq!(app.request_code("a@example.com").await.status(), StatusCode::OK);
    app.clock.advance_ms(3_600_000);
    assert_eq!(app.request_code("+447911123459").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn known_and_unknown_addresses_get_the_same_answer() {
    let app = spawn_app().await;
    app.sign_in("known@example.com", "known@example.com").await;
    app.clear_cookies();
    app.clock.advance_ms(30_000);
    let known = app.request_code("known@example.com").await;
    let (known_status, known_location) = (known.status(), known.headers().get("location").cloned());
    let known_body = known.text().await.unwrap();
    let unknown = app.request_code("new@example.com").await;
    assert_eq!(unknown.status(), known_status);
    assert_eq!(unknown.headers().get("location").cloned(), known_location);
    assert_eq!(unknown.text().await.unwrap(), known_body);
}

#[tokio::test]
async fn the_audit_trail_records_security_events_without_secrets() {
    let app = spawn_app().await;
    app.request_code("a@example.com").await;
    let code = app.latest_code("a@example.com").await;
    app.verify(&TestApp::wrong(&code)).await;
    app.verify(&code).await;
    let token = app.cookie(app::web::SESSION_COOKIE).unwrap();
    app.post("/api/sign_out", &[]).await;
    for kind in ["code_sent", "verification_failed", "signed_in", "signed_out"] {
        assert_eq!(app.count(&format!("SELECT COUNT(*) FROM audit_events WHERE kind = '{kind}'")).await, 1, "{kind}");
    }
    // Nothing secret, and no plain address, in any column.
    for needle in [code.as_str(), token.as_str(), "a@example.com"] {
        let n = app
            .count(&format!(
                "SELECT COUNT(*) FROM audit_events WHERE COALESCE(destination_hash,'') || COALESCE(destination_masked,'') || COALESCE(detail,'') || COALESCE(user_agent,'') LIKE '%{needle}%'"
            ))
            .await;
        assert_eq!(n, 0, "{needle} leaked into the audit trail");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE destination_masked = 'a•••@example.com'").await, 1);
    let _ = PENDING;
}

/// An IPv6 /48 holds 65,536 /64s and an IPv4 /24 256 addresses: each
/// network has an allowance of its own (PASSCODE_IP_NETWORK_FACTOR clients'
/// worth), counted beside every client's, for code requests and for the
/// per-IP SMS share alike.
#[tokio::test]
async fn a_network_is_counted_however_many_addresses_it_holds() {
    let app = spawn_app_with(
        &[
            BEHIND_PROXY.as_slice(),
            &[
                ("PASSCODE_IP_SEND_BURST", "2"),
                ("PASSCODE_IP_NETWORK_FACTOR", "3"),
                ("PASSCODE_SMS_PER_IP_PER_HOUR", "1"),
            ],
        ]
        .concat(),
    )
    .await;
    let mut passed = 0;
    for i in 0..20 {
        let res = app.request_code_forwarded(&format!("v6-{i}@example.com"), &format!("2001:db8:77:{i:x}::1")).await;
        passed += usize::from(res.status() == StatusCode::OK);
    }
    assert_eq!(passed, 6, "one /48: three clients' worth (2 × 3), not 2 per /64");
    let mut passed = 0;
    for i in 1..=20 {
        let res = app.request_code_forwarded(&format!("v4-{i}@example.com"), &format!("198.51.100.{i}")).await;
        passed += usize::from(res.status() == StatusCode::OK);
    }
    assert_eq!(passed, 6, "one /24 the same");
    // Texts: one per /64 and hour, three per /48.
    let mut texts = 0;
    for i in 0..5 {
        let res = app.request_code_forwarded(&format!("+44 7911 12345{i}"), &format!("2001:db8:99:{i:x}::1")).await;
        texts += usize::from(res.status() == StatusCode::OK);
    }
    assert_eq!(texts, 3, "the /48's share of texts");
    // Another network is untouched.
    assert_eq!(app.request_code_forwarded("other@example.com", "2001:db8:100::1").await.status(), StatusCode::OK);
}

/// A client's flood of requests refused by the per-IP limit writes nothing
/// while it lasts, and one summary row after (per client and minute); an
/// honest sign-in meanwhile, on SQLite's one connection, is never turned
/// away as busy.
#[tokio::test]
async fn a_flood_of_refused_requests_writes_one_summary_not_a_row_each() {
    let app = spawn_app_with(&[BEHIND_PROXY.as_slice(), &[("PASSCODE_IP_SEND_BURST", "3")]].concat()).await;
    let rows = || app.count("SELECT COUNT(*) FROM audit_events");
    let before = rows().await;
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let (client, url) = (app.client.clone(), app.url("/api/request_code"));
        flood.spawn(async move {
            client
                .post(url)
                .header("x-forwarded-for", "203.0.113.66")
                .form(&[("identifier", format!("flood{i}@example.com"))])
                .send()
                .await
                .unwrap()
                .status()
        });
        // The honest person signs in while the flood is under way.
        if i == 300 {
            let res = app.request_code("honest@example.com").await;
            assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
            let code = app.latest_code("honest@example.com").await;
            assert_eq!(app.verify(&code).await.status(), StatusCode::OK);
        }
    }
    let mut refused = 0;
    while let Some(status) = flood.join_next().await {
        let status = status.unwrap();
        assert_ne!(status, StatusCode::SERVICE_UNAVAILABLE);
        refused += usize::from(status == StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(refused, 997, "the burst of 3 got through");
    // Three codes sent and one sign-in (its code and itself): nothing for
    // the 997 refusals.
    assert_eq!(rows().await - before, 3 + 2);
    app.auth.flush_refusals().await;
    assert_eq!(rows().await - before, 3 + 2 + 1, "one summary row");
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.db.url).await.unwrap();
    let row = sqlx::query("SELECT ip, detail FROM audit_events WHERE kind = 'rate_limited'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(sqlx::Row::get::<String, _>(&row, 0), "203.0.113.66");
    let detail = sqlx::Row::get::<String, _>(&row, 1);
    assert!(detail.starts_with("997 send requests refused per IP"), "{detail}");
    app.auth.flush_refusals().await;
    assert_eq!(rows().await - before, 6, "each refusal is summed once");
}

/// A browser the address doesn't know draws on its network's share: all but
/// a quarter of the address's allowance, with the cooldown of its own; the
/// rest stays for everyone else, who never wait on that cooldown.
#[tokio::test]
async fn one_network_gets_a_share_and_leaves_the_rest_for_others() {
    let app = spawn_app_with(&BEHIND_PROXY).await;
    let from = |ip: &'static str| {
        let app = &app;
        async move { app.request_code_forwarded("a@example.com", ip).await }
    };
    let mut waits = Vec::new();
    for _ in 0..3 {
        assert_eq!(from("203.0.113.7").await.status(), StatusCode::OK);
        let res = from("203.0.113.8").await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the same /24");
        let wait = retry_after(&res);
        waits.push(wait);
        app.clock.advance_ms(wait as i64 * 1000);
    }
    assert_eq!(waits, [30, 60, 120], "the network's own cooldown");
    assert_eq!(from("203.0.113.7").await.status(), StatusCode::OK);
    let res = from("203.0.113.7").await;
    assert!(retry_after(&res) > 240, "four of the hour's five: the share is spent: {}", retry_after(&res));
    // Another network, at once: the fifth code of the hour, no cooldown.
    assert_eq!(from("198.51.100.9").await.status(), StatusCode::OK);
    let res = from("192.0.2.1").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the address's five for the hour are gone");
    assert!(retry_after(&res) > 240);
    // The next hour: the network gets four more (eight of the day's ten),
    // everyone else the last two.
    app.clock.advance_ms(3_600_000);
    let mut sent = 0;
    for _ in 0..6 {
        sent += usize::from(from("203.0.113.7").await.status() == StatusCode::OK);
        app.clock.advance_ms(16 * 30_000);
    }
    assert_eq!(sent, 4);
    app.clock.advance_ms(3_600_000);
    assert_eq!(from("203.0.113.7").await.status(), StatusCode::TOO_MANY_REQUESTS, "the network's eight of the day");
    assert_eq!(from("198.51.100.9").await.status(), StatusCode::OK, "the day's last ones are others'");
}
