//! Passkeys against the real server and webauthn-rs, with registration and
//! assertion messages made by a software authenticator here (an ES256 key,
//! CBOR and the signature as an authenticator makes them): nothing of
//! webauthn-rs is mocked.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, spawn_app_with};

const ORIGIN: &str = "http://localhost:3000";
const EMAIL: &str = "pat@example.com";

/// A platform authenticator in software: one ES256 credential, a counter
/// the test can set, the user handle it was given.
struct SoftAuthenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    counter: u32,
    user_handle: Vec<u8>,
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    match bytes.len() {
        n if n < 24 => out.push(0x40 | n as u8),
        n if n < 256 => out.extend([0x58, n as u8]),
        n => out.extend([0x59, (n >> 8) as u8, n as u8]),
    }
    out.extend(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    out.push(0x60 | text.len() as u8);
    out.extend(text.as_bytes());
}

impl SoftAuthenticator {
    fn new() -> Self {
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
        let mut credential_id = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut credential_id);
        Self { key: SigningKey::from_slice(&secret).unwrap(), credential_id, counter: 0, user_handle: Vec::new() }
    }

    fn client_data(kind: &str, options: &Value) -> Vec<u8> {
        let challenge = options["publicKey"]["challenge"].as_str().expect("options carry a challenge");
        json!({ "type": kind, "challenge": challenge, "origin": ORIGIN, "crossOrigin": false }).to_string().into_bytes()
    }

    fn auth_data(&self, flags: u8) -> Vec<u8> {
        let mut data = sha256(b"localhost");
        data.push(flags);
        data.extend(self.counter.to_be_bytes());
        data
    }

    /// The browser's `toJSON()` of `navigator.credentials.create()`.
    fn register(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        assert_eq!(pk["rp"]["id"], "localhost");
        assert_eq!(pk["authenticatorSelection"]["residentKey"], "required", "a discoverable credential is asked for");
        self.user_handle = B64.decode(pk["user"]["id"].as_str().unwrap()).unwrap();
        let client_data = Self::client_data("webauthn.create", options);
        // User present, verified, attested credential data follows.
        let mut auth = self.auth_data(0x45);
        auth.extend([0u8; 16]); // AAGUID: none known, so the browser names it
        auth.extend((self.credential_id.len() as u16).to_be_bytes());
        auth.extend(&self.credential_id);
        let point = self.key.verifying_key().to_sec1_bytes();
        assert_eq!(point.len(), 65);
        // COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
        auth.extend([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21]);
        cbor_bytes(&mut auth, &point[1..33]);
        auth.push(0x22);
        cbor_bytes(&mut auth, &point[33..65]);
        let mut object = vec![0xa3];
        cbor_text(&mut object, "fmt");
        cbor_text(&mut object, "none");
        cbor_text(&mut object, "attStmt");
        object.push(0xa0);
        cbor_text(&mut object, "authData");
        cbor_bytes(&mut object, &auth);
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id, "rawId": id, "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(&client_data),
                "attestationObject": B64.encode(&object),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        })
    }

    /// The browser's `toJSON()` of `navigator.credentials.get()`.
    fn assert(&mut self, options: &Value) -> Value {
        let client_data = Self::client_data("webauthn.get", options);
        let auth = self.auth_data(0x05);
        let mut signed = auth.clone();
        signed.extend(sha256(&client_data));
        let signature: Signature = self.key.sign(&signed);
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id, "rawId": id, "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(&client_data),
                "authenticatorData": B64.encode(&auth),
                "signature": B64.encode(signature.to_der().as_bytes()),
                "userHandle": B64.encode(&self.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        })
    }
}

async fn passkey_app() -> TestApp {
    spawn_app_with(&[("PASSCODE_PUBLIC_URL", ORIGIN)]).await
}

impl TestApp {
    /// A POST as the passkey island makes it (JSON, this browser's cookies).
    async fn post_json(&self, path: &str, body: Option<&Value>) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).header(COOKIE, self.cookie_header());
        if let Some(body) = body {
            req = req.header(CONTENT_TYPE, "application/json").body(body.to_string());
        }
        let res = req.send().await.unwrap();
        self.keep_cookies(&res);
        res
    }

    async fn options(&self, path: &str) -> Value {
        let res = self.post_json(path, None).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    /// Signs in by code, then adds a passkey made by `auth`.
    async fn with_passkey(&self, auth: &mut SoftAuthenticator) {
        self.sign_in(EMAIL, EMAIL).await;
        let options = self.options("/passkeys/add/options").await;
        let res = self.post_json("/passkeys/add", Some(&auth.register(&options))).await;
        assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    }

    async fn passkey_sign_in(&self, auth: &mut SoftAuthenticator) -> reqwest::Response {
        let options = self.options("/passkeys/sign-in/options").await;
        auth.counter += 1;
        self.post_json("/passkeys/sign-in", Some(&auth.assert(&options))).await
    }
}

async fn error_words(res: reqwest::Response) -> String {
    let body: Value = res.json().await.unwrap();
    body["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_passkey_added_after_a_code_signs_in_without_one() {
    let app = passkey_app().await;
    let mut auth = SoftAuthenticator::new();
    // A browser that can make passkeys is offered one after its code.
    app.request_code(EMAIL).await;
    let code = app.latest_code(EMAIL).await;
    let res = app.post("/api/verify_code", &[("code", code.as_str()), ("webauthn", "true")]).await;
    assert_eq!(res.headers()[LOCATION], "/passkeys/offer");
    let offer = app.get("/passkeys/offer").await.text().await.unwrap();
    assert!(offer.contains("Sign in faster next time with a passkey"), "{offer}");
    assert!(offer.contains("data-passkey=\"add\"") && offer.contains(" hidden"), "controls wait for the island");

    let options = app.options("/passkeys/add/options").await;
    assert!(options["publicKey"]["excludeCredentials"].as_array().is_none_or(Vec::is_empty));
    let res = app.post_json("/passkeys/add", Some(&auth.register(&options))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["go"], "/account");
    assert!(app.cookie("__Host-passcode_ceremony").is_none(), "the ceremony's cookie goes with it");

    // The same authenticator can't add itself twice.
    let again = app.options("/passkeys/add/options").await;
    assert_eq!(again["publicKey"]["excludeCredentials"][0]["id"], B64.encode(&auth.credential_id));
    let res = app.post_json("/passkeys/add", Some(&auth.register(&again))).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys").await, 1);

    // Signed out, the passkey signs in: a session like a code's.
    app.post("/api/sign_out", &[]).await;
    assert!(app.cookie("__Host-passcode_session").is_none());
    let res = app.passkey_sign_in(&mut auth).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["go"], "/account");
    assert!(app.cookie("__Host-passcode_session").is_some());
    assert!(app.cookie("__Host-passcode_device").is_some());
    let page = app.account_page().await.text().await.unwrap();
    assert!(page.contains("Signed in with a passkey"), "{page}");
    assert!(page.contains("Passkey added: Unknown browser") || page.contains("Passkey added:"), "{page}");
    assert!(page.contains("data-testid=\"passkey\""));
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'signed_in' AND detail = 'passkey'").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys WHERE last_used_at IS NOT NULL").await, 1);

    // With a checked `rd`, the sign-in goes there; an unchecked one is dropped.
    let options = app.options("/passkeys/sign-in/options").await;
    auth.counter += 1;
    let res = app.post_json("/passkeys/sign-in?rd=https%3A%2F%2Fevil.example%2F", Some(&auth.assert(&options))).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["go"], "/account");
}

#[tokio::test]
async fn ceremony_state_is_used_once_expires_and_is_purged() {
    let app = passkey_app().await;
    let mut auth = SoftAuthenticator::new();
    app.with_passkey(&mut auth).await;
    app.post("/api/sign_out", &[]).await;

    // Once: the same answer with the same cookie a second time finds nothing.
    let options = app.options("/passkeys/sign-in/options").await;
    let cookie = app.cookie("__Host-passcode_ceremony").unwrap();
    auth.counter += 1;
    let answer = auth.assert(&options);
    assert_eq!(app.post_json("/passkeys/sign-in", Some(&answer)).await.status(), StatusCode::OK);
    app.set_cookie("__Host-passcode_ceremony", &cookie);
    let res = app.post_json("/passkeys/sign-in", Some(&answer)).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(error_words(res).await, "That passkey request expired. Please try again.");

    // Expired after five minutes.
    let options = app.options("/passkeys/sign-in/options").await;
    app.clock.advance_ms((5 * 60 + 1) * 1000);
    auth.counter += 1;
    let res = app.post_json("/passkeys/sign-in", Some(&auth.assert(&options))).await;
    assert_eq!(res.status(), StatusCode::GONE);

    // Started and never finished: nothing lives past five minutes.
    for _ in 0..3 {
        app.options("/passkeys/sign-in/options").await;
    }
    assert!(app.count("SELECT COUNT(*) FROM ceremonies").await >= 3);
    let store = app::store::SqlStore::new(app.pool.clone());
    store.purge(app.auth.now_ms() + 5 * 60_000 + 1, 86_400_000, 86_400_000).await.unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM ceremonies").await, 0);
}

#[tokio::test]
async fn a_counter_that_goes_back_is_refused() {
    let app = passkey_app().await;
    let mut auth = SoftAuthenticator::new();
    app.with_passkey(&mut auth).await;
    auth.counter = 10;
    let options = app.options("/passkeys/sign-in/options").await;
    assert_eq!(app.post_json("/passkeys/sign-in", Some(&auth.assert(&options))).await.status(), StatusCode::OK);
    // A copy of the authenticator, behind on its counter.
    auth.counter = 7;
    let options = app.options("/passkeys/sign-in/options").await;
    let res = app.post_json("/passkeys/sign-in", Some(&auth.assert(&options))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(error_words(res).await.contains("Sign in with a code instead"));
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'passkey_refused'").await, 1);
    // The same counter again is no better.
    auth.counter = 10;
    let options = app.options("/passkeys/sign-in/options").await;
    assert_eq!(
        app.post_json("/passkeys/sign-in", Some(&auth.assert(&options))).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn fifty_parallel_finishes_with_one_answer_give_one_session() {
    let app = passkey_app().await;
    let mut auth = SoftAuthenticator::new();
    app.with_passkey(&mut auth).await;
    app.post("/api/sign_out", &[]).await;
    let options = app.options("/passkeys/sign-in/options").await;
    auth.counter += 1;
    let answer = auth.assert(&options).to_string();
    let cookies = app.cookie_header();
    let sessions_before = app.count("SELECT COUNT(*) FROM sessions").await;
    let tries = (0..50).map(|_| {
        let (client, url, cookies, answer) =
            (app.client.clone(), app.url("/passkeys/sign-in"), cookies.clone(), answer.clone());
        tokio::spawn(async move {
            client
                .post(url)
                .header(COOKIE, cookies)
                .header(CONTENT_TYPE, "application/json")
                .body(answer)
                .send()
                .await
                .unwrap()
                .status()
        })
    });
    let statuses: Vec<StatusCode> = futures_join(tries).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::GONE), "{statuses:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, sessions_before + 1);
}

async fn futures_join(handles: impl Iterator<Item = tokio::task::JoinHandle<StatusCode>>) -> Vec<StatusCode> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn sensitive_actions_need_a_fresh_proof() {
    let app = passkey_app().await;
    let mut auth = SoftAuthenticator::new();
    app.with_passkey(&mut auth).await;
    // A second browser of the same person, to end from this one.
    let second = spawn_second_session(&app).await;
    let passkey_id: String = sqlx::query_scalar("SELECT id FROM passkeys").fetch_one(&app.pool).await.unwrap();
    app.clock.advance_ms(6 * 60 * 1000);

    // Not fresh: every sensitive action goes to "confirm it's you", and
    // nothing happens.
    for (path, form) in [
        ("/api/end_other_sessions", vec![]),
        ("/api/end_session", vec![("id", second.as_str())]),
        ("/api/remove_passkey", vec![("id", passkey_id.as_str())]),
    ] {
        let res = app.post(path, &form).await;
        assert_eq!(res.headers()[LOCATION], "/account/confirm", "{path}");
    }
    let res = app.post_json("/passkeys/add/options", None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["go"], "/account/confirm");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys").await, 1);
    let page = app.get("/account/confirm").await.text().await.unwrap();
    assert!(page.contains("Confirm it") && page.contains("Email me a code"), "{page}");

    // A new code to the account's address proves it, without a new session.
    let res = app.post("/api/send_confirmation_code", &[]).await;
    assert_eq!(res.headers()[LOCATION], "/account/confirm");
    let code = app.latest_code(EMAIL).await;
    let res = app.post("/api/confirm_with_code", &[("code", TestApp::wrong(&code).as_str())]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.post("/api/confirm_with_code", &[("code", code.as_str())]).await;
    assert_eq!(res.headers()[LOCATION], "/account");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 2);
    // Used once.
    let res = app.post("/api/confirm_with_code", &[("code", code.as_str())]).await;
    assert_ne!(res.status(), StatusCode::OK);
    let res = app.post("/api/end_session", &[("id", second.as_str())]).await;
    assert_eq!(res.headers()[LOCATION], "/account");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1);

    // Five minutes on, a passkey proves it too.
    app.clock.advance_ms(6 * 60 * 1000);
    let res = app.post("/api/remove_passkey", &[("id", passkey_id.as_str())]).await;
    assert_eq!(res.headers()[LOCATION], "/account/confirm");
    let options = app.options("/passkeys/confirm/options").await;
    assert_eq!(options["publicKey"]["allowCredentials"][0]["id"], B64.encode(&auth.credential_id));
    auth.counter += 1;
    let res = app.post_json("/passkeys/confirm", Some(&auth.assert(&options))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.post("/api/remove_passkey", &[("id", passkey_id.as_str())]).await;
    assert_eq!(res.headers()[LOCATION], "/account");
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys").await, 0);
    let page = app.account_page().await.text().await.unwrap();
    assert!(page.contains("Passkey removed"), "{page}");
    assert!(
        page.contains("Confirmed it&#x27;s you with a passkey") || page.contains("Confirmed it's you with a passkey")
    );
    // A removed passkey signs nobody in, and says so.
    app.post("/api/sign_out", &[]).await;
    let res = app.passkey_sign_in(&mut auth).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(error_words(res).await.contains("isn't registered with us"));
}

#[tokio::test]
async fn a_passkey_signs_in_past_the_authenticator_app() {
    use crate::authenticator::{base32_decode, codes_after, totp};
    use app::auth::Clock;
    let app = passkey_app().await;
    let mut auth = SoftAuthenticator::new();
    app.with_passkey(&mut auth).await;
    let res = app.post("/api/start_authenticator", &[]).await;
    assert_eq!(res.headers()[LOCATION], "/account/authenticator");
    let page = app.get("/account/authenticator").await.text().await.unwrap();
    let secret = base32_decode(&codes_after(&page, "data-testid=\"totp-secret\"")[0]);
    let res = app.post("/api/enable_authenticator", &[("code", &totp(&secret, app.clock.now_ms()))]).await;
    assert_eq!(res.headers()[LOCATION], "/account/authenticator");

    // A passkey is both steps: straight in.
    app.post("/api/sign_out", &[]).await;
    let res = app.passkey_sign_in(&mut auth).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["go"], "/account");
    assert!(app.cookie("__Host-passcode_session").is_some());
    assert_eq!(app.count("SELECT COUNT(*) FROM second_steps").await, 0);

    // A code is the first of two.
    app.post("/api/sign_out", &[]).await;
    app.clock.advance_ms(120_000);
    app.request_code(EMAIL).await;
    let code = app.latest_code(EMAIL).await;
    let res = app.verify(&code).await;
    assert_eq!(res.headers()[LOCATION], "/sign-in/authenticator");
    assert!(app.cookie("__Host-passcode_session").is_none());
}

/// Signs the same account in from a second browser; its session's handle.
async fn spawn_second_session(app: &TestApp) -> String {
    let mine = app.cookie_header();
    app.clear_cookies();
    // After the address's cool-down between codes.
    app.clock.advance_ms(120_000);
    app.sign_in(EMAIL, EMAIL).await;
    let theirs: String = sqlx::query_scalar("SELECT id FROM sessions ORDER BY created_at DESC, id LIMIT 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    app.clear_cookies();
    for pair in mine.split("; ").filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap();
        app.set_cookie(k, v);
    }
    theirs
}

#[tokio::test]
async fn passkey_attempts_count_in_the_per_ip_limits() {
    let app = spawn_app_with(&[("PASSCODE_PUBLIC_URL", ORIGIN), ("PASSCODE_IP_VERIFY_BURST", "3")]).await;
    for _ in 0..3 {
        assert_eq!(app.post_json("/passkeys/sign-in/options", None).await.status(), StatusCode::OK);
    }
    let res = app.post_json("/passkeys/sign-in/options", None).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(error_words(res).await.starts_with("Too many attempts"));
}

#[tokio::test]
async fn passkeys_are_off_where_the_public_url_is_an_address() {
    let app = spawn_app_with(&[]).await;
    let res = app.post_json("/passkeys/sign-in/options", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let page = app.get("/sign-in").await.text().await.unwrap();
    assert!(!page.contains("Sign in with a passkey"));
    // And where they are on, the sign-in page offers them (hidden until
    // the island runs) with the autofill hint on the address field.
    let app = passkey_app().await;
    let page = app.get("/sign-in").await.text().await.unwrap();
    assert!(page.contains("Sign in with a passkey") && page.contains("autocomplete=\"username webauthn\""));
}
