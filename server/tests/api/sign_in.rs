use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

use app::web::{PENDING_COOKIE as PENDING, SESSION_COOKIE as SESSION};

#[tokio::test]
async fn email_happy_path_signs_in_and_shows_the_account() {
    let app = spawn_app().await;
    let res = app.request_code("  Jane@Example.COM ").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["location"], "/verify");
    assert!(app.cookie(PENDING).is_some());

    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0]["to"], "jane@example.com", "one address whatever its case");
    assert_eq!(outbox[0]["channel"], "email");
    assert_eq!(outbox[0]["subject"], "Your sign-in code");
    let code = outbox[0]["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    assert!(outbox[0]["body"].as_str().unwrap().contains(&code));

    // The code page names the destination, masked.
    let page = app.get("/verify").await.text().await.unwrap();
    assert!(page.contains("j•••@example.com"), "{page}");
    assert!(!page.contains(&code));

    let res = app.verify(&format!("{} {}", &code[..3], &code[3..])).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["location"], "/account");
    let body = res.text().await.unwrap();
    assert!(!body.contains(&code));
    assert!(app.cookie(SESSION).is_some());
    assert!(app.cookie(PENDING).is_none(), "the pending cookie is cleared");

    let page = app.account_page().await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("jane@example.com"));
    assert!(html.contains("Sign out"));
    assert!(!html.contains(&app.cookie(SESSION).unwrap()), "the token never appears in a page");
}

#[tokio::test]
async fn phone_happy_path_uses_e164_and_a_webotp_line() {
    let app = spawn_app().await;
    assert_eq!(app.request_code("+44 7700 900123").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.request_code("0044 7911 123456").await.status(), StatusCode::OK);
    let outbox = app.outbox().await;
    assert_eq!(outbox[0]["to"], "+447911123456");
    assert_eq!(outbox[0]["channel"], "sms");
    let code = outbox[0]["code"].as_str().unwrap();
    assert!(outbox[0]["body"].as_str().unwrap().ends_with(&format!("\n\n@127.0.0.1 #{code}")));
    let page = app.get("/verify").await.text().await.unwrap();
    assert!(page.contains("+44 •••• ••••123") || page.contains("+44 ••••"), "{page}");
    assert!(!page.contains("7911"));
    assert_eq!(app.verify(code).await.status(), StatusCode::OK);
    let html = app.account_page().await.text().await.unwrap();
    assert!(html.contains("+447911123456"));
}

#[tokio::test]
async fn wrong_code_says_how_many_tries_are_left_and_the_right_one_still_works() {
    let app = spawn_app().await;
    app.request_code("a@example.com").await;
    let code = app.latest_code("a@example.com").await;
    let res = app.verify(&TestApp::wrong(&code)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(res).await, json!({"WrongCode": {"attempts_left": 4}}));
    assert!(app.cookie(SESSION).is_none());
    assert_eq!(app.verify(&code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn fifth_wrong_code_burns_the_challenge() {
    let app = spawn_app().await;
    app.request_code("a@example.com").await;
    let code = app.latest_code("a@example.com").await;
    let wrong = TestApp::wrong(&code);
    for left in (1..=4).rev() {
        assert_eq!(error_of(app.verify(&wrong).await).await, json!({"WrongCode": {"attempts_left": left}}));
    }
    assert_eq!(error_of(app.verify(&wrong).await).await, json!("TooManyAttempts"));
    // Burned: even the right code is refused now.
    let res = app.verify(&code).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(error_of(res).await, json!("TooManyAttempts"));
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
}

#[tokio::test]
async fn expired_code_is_refused() {
    let app = spawn_app().await;
    app.request_code("a@example.com").await;
    let code = app.latest_code("a@example.com").await;
    app.clock.advance_ms(10 * 60 * 1000);
    let res = app.verify(&code).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(error_of(res).await, json!("CodeExpired"));
}

#[tokio::test]
async fn code_is_good_until_just_before_expiry() {
    let app = spawn_app().await;
    app.request_code("a@example.com").await;
    let code = app.latest_code("a@example.com").await;
    app.clock.advance_ms(10 * 60 * 1000 - 1);
    assert_eq!(app.verify(&code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn used_code_cannot_be_reused() {
    let app = spawn_app().await;
    app.request_code("a@example.com").await;
    let pending = app.cookie(PENDING).unwrap();
    let code = app.latest_code("a@example.com").await;
    assert_eq!(app.verify(&code).await.status(), StatusCode::OK);
    // Replay with the same challenge cookie.
    app.set_cookie(PENDING, &pending);
    let res = app.verify(&code).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(error_of(res).await, json!("CodeUsed"));
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1);
}

#[tokio::test]
async fn concurrent_right_answers_give_exactly_one_session() {
    let app = std::sync::Arc::new(spawn_app().await);
    app.request_code("a@example.com").await;
    let code = app.latest_code("a@example.com").await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (app, code) = (app.clone(), code.clone());
        set.spawn(async move { app.verify(&code).await.status() });
    }
    let statuses = set.join_all().await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::GONE), "{statuses:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1);
}

#[tokio::test]
async fn a_new_code_invalidates_the_old_one() {
    let app = spawn_app().await;
    app.request_code("a@example.com").await;
    let first_pending = app.cookie(PENDING).unwrap();
    let first = app.latest_code("a@example.com").await;

    // "Send a new code" on the code page, after the cooldown.
    app.clock.advance_ms(30_000);
    assert_eq!(app.post("/api/resend_code", &[]).await.status(), StatusCode::OK);
    let second_pending = app.cookie(PENDING).unwrap();
    let second = app.latest_code("a@example.com").await;
    assert_ne!(first_pending, second_pending);
    assert_eq!(app.outbox().await.len(), 2);

    app.set_cookie(PENDING, &first_pending);
    assert_eq!(error_of(app.verify(&first).await).await, json!("CodeSuperseded"));

    // A fresh request from the sign-in page retires it too (this browser's
    // code, which its pending cookie names).
    app.set_cookie(PENDING, &second_pending);
    app.clock.advance_ms(60_000);
    assert_eq!(app.request_code("a@example.com").await.status(), StatusCode::OK);
    let third = app.latest_code("a@example.com").await;
    let third_pending = app.cookie(PENDING).unwrap();
    app.set_cookie(PENDING, &second_pending);
    assert_eq!(error_of(app.verify(&second).await).await, json!("CodeSuperseded"));
    app.set_cookie(PENDING, &third_pending);
    assert_eq!(app.verify(&third).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn malformed_identifiers_get_specific_messages_and_write_nothing() {
    let app = spawn_app().await;
    let long = "a".repeat(300) + "@example.com";
    let cases: [(&str, &str); 8] = [
        ("", "Enter your email address or phone number."),
        ("foo@", "Enter an email address like name@example.com."),
        ("foo@bar", "Enter an email address like name@example.com."),
        ("+1 12", "Enter a phone number with its country code, like +44 7911 123456."),
        ("07911 123456", "Enter a phone number with its country code, like +44 7911 123456."),
        (&long, "That is too long to be an email address or phone number."),
        (
            "jane\r\nBcc: x@example.com",
            "That contains characters that can't be part of an email address or phone number.",
        ),
        (
            "hello",
            "Enter an email address like name@example.com or a phone number with its country code, like +44 7911 123456.",
        ),
    ];
    for (input, message) in cases {
        let res = app.request_code(input).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{input:?}");
        assert_eq!(error_of(res).await, json!({ "InvalidIdentifier": message }), "{input:?}");
    }
    // A request missing its field entirely is a 4xx too.
    let res = app.post("/api/request_code", &[]).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(app.count("SELECT COUNT(*) FROM challenges").await, 0);
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn malformed_codes_get_specific_messages_and_cost_no_attempt() {
    let app = spawn_app().await;
    app.request_code("a@example.com").await;
    for (input, message) in [
        ("", "Enter the code from your message."),
        ("12345", "The code has 6 characters; you entered 5."),
        ("1234567", "The code has 6 characters; you entered 7."),
        ("12345x", "The code is made of digits only."),
    ] {
        let res = app.verify(input).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_of(res).await, json!({ "InvalidCode": message }));
    }
    assert_eq!(app.count("SELECT attempts FROM challenges").await, 0);
}

#[tokio::test]
async fn verify_without_or_with_a_tampered_challenge_cookie() {
    let app = spawn_app().await;
    let res = app.verify("123456").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_of(res).await, json!("NoChallenge"));
    app.set_cookie(PENDING, "not-a-challenge");
    assert_eq!(error_of(app.verify("123456").await).await, json!("NoChallenge"));
    app.set_cookie(PENDING, "AAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(error_of(app.verify("123456").await).await, json!("NoChallenge"));
    let page = app.get("/verify").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("There is no sign-in in progress"));
}

#[tokio::test]
async fn session_cookie_has_safe_attributes() {
    let app = spawn_app().await;
    app.sign_in("a@example.com", "a@example.com").await;
    let line = app.set_cookie_line(SESSION).unwrap();
    let lower = line.to_ascii_lowercase();
    assert!(line.starts_with("__Host-passcode_session="), "{line}");
    for attr in ["httponly", "secure", "samesite=lax", "path=/", "max-age="] {
        assert!(lower.contains(attr), "{attr} missing from {line}");
    }
    assert!(!lower.contains("domain="), "{line}");
    let token = app.cookie(SESSION).unwrap();
    assert_eq!(token.len(), 43, "256 bits, base64url");
    // Only the SHA-256 of the token is stored.
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM sessions WHERE token_hash = '{token}'")).await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions WHERE length(token_hash) = 64").await, 1);
}

#[tokio::test]
async fn every_sign_in_gets_a_new_token() {
    let app = spawn_app().await;
    app.sign_in("a@example.com", "a@example.com").await;
    let first = app.cookie(SESSION).unwrap();
    app.clock.advance_ms(30_000);
    app.sign_in("a@example.com", "a@example.com").await;
    assert_ne!(app.cookie(SESSION).unwrap(), first);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
}

#[tokio::test]
async fn sign_out_ends_the_server_session() {
    let app = spawn_app().await;
    app.sign_in("a@example.com", "a@example.com").await;
    let token = app.cookie(SESSION).unwrap();
    let res = app.post("/api/sign_out", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["location"], "/sign-in");
    assert!(app.cookie(SESSION).is_none(), "cookie cleared");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
    // The old token, replayed, no longer works.
    app.set_cookie(SESSION, &token);
    let page = app.account_page().await;
    assert_eq!(page.status(), StatusCode::FOUND);
    assert_eq!(page.headers()["location"], "/sign-in");
}

#[tokio::test]
async fn account_without_a_valid_session_redirects_to_sign_in() {
    let app = spawn_app().await;
    for cookie in [None, Some("garbage"), Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] {
        app.clear_cookies();
        if let Some(c) = cookie {
            app.set_cookie(SESSION, c);
        }
        let page = app.account_page().await;
        assert_eq!(page.status(), StatusCode::FOUND, "{cookie:?}");
        assert_eq!(page.headers()["location"], "/sign-in");
    }
}

#[tokio::test]
async fn expired_session_is_not_accepted() {
    let app = spawn_app_with(&[("PASSCODE_SESSION_TTL_SECS", "3600")]).await;
    app.sign_in("a@example.com", "a@example.com").await;
    assert_eq!(app.account_page().await.status(), StatusCode::OK);
    app.clock.advance_ms(3600 * 1000);
    assert_eq!(app.account_page().await.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let app = spawn_app().await;
    for (header, value) in
        [("sec-fetch-site", "cross-site"), ("sec-fetch-site", "same-site"), ("origin", "https://evil.example")]
    {
        for path in ["/api/request_code", "/api/verify_code", "/api/resend_code", "/api/sign_out"] {
            let res = app
                .client
                .post(app.url(path))
                .header(header, value)
                .form(&[("identifier", "a@example.com"), ("code", "123456")])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} with {header}: {value}");
        }
    }
    assert!(app.outbox().await.is_empty());
    // Same-origin requests pass.
    let res = app
        .client
        .post(app.url("/api/request_code"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", "http://127.0.0.1:3000")
        .form(&[("identifier", "a@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn state_changing_functions_refuse_get() {
    let app = spawn_app().await;
    for path in ["/api/request_code?identifier=a@example.com", "/api/verify_code?code=123456", "/api/sign_out"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
    }
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app().await;
    let huge = "a".repeat(64 * 1024);
    let res = app.request_code(&huge).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.count("SELECT COUNT(*) FROM challenges").await, 0);
}

#[tokio::test]
async fn no_javascript_flow_uses_redirects() {
    let app = spawn_app().await;
    // Error: back to the form, with the error in the query string, signed
    // for this browser (see the forged-parameter tests in hardening.rs).
    let res = app.post_plain_form("/api/request_code", &[("identifier", "foo@")], "/sign-in").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("/sign-in?") && location.contains("__err=") && location.contains("__sig="), "{location}");
    let page = app.get(location.trim_start_matches(&app.url(""))).await.text().await.unwrap();
    assert!(page.contains("Enter an email address like name@example.com."), "the error is rendered next to the field");

    // Success: on to the code page.
    let res = app.post_plain_form("/api/request_code", &[("identifier", "a@example.com")], "/sign-in").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/verify");
    let code = app.latest_code("a@example.com").await;

    let res = app.post_plain_form("/api/verify_code", &[("code", &TestApp::wrong(&code))], "/verify").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let page = app.get(location.trim_start_matches(&app.url(""))).await.text().await.unwrap();
    assert!(page.contains("That code isn&#x27;t right") || page.contains("That code isn't right"), "{page}");
    assert!(!location.contains(&code));

    let res = app.post_plain_form("/api/verify_code", &[("code", &code)], "/verify").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/account");
    assert_eq!(app.account_page().await.status(), StatusCode::OK);

    let res = app.post_plain_form("/api/sign_out", &[], "/account").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/sign-in");
}

#[tokio::test]
async fn unknown_pages_are_404_and_security_headers_are_set() {
    let app = spawn_app().await;
    let res = app.get("/nope").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.get("/sign-in").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let html = res.text().await.unwrap();
    // Passkeys are off here (an IP address): plain autofill hints.
    assert!(html.contains(r#"type="email""#) && html.contains(r#"autocomplete="email""#));
    let html = app.get("/sign-in?with=phone").await.text().await.unwrap();
    assert!(html.contains(r#"type="tel""#) && html.contains(r#"autocomplete="tel""#));
}
