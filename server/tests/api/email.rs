//! Email over real SMTP: maildev (from end2end's npm packages) listens on
//! loopback and its REST API shows what arrived. A small scripted SMTP server
//! covers the replies maildev never gives (4xx, 5xx, silence).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::helpers::*;

use app::web::{LINK_COOKIE, PENDING_COOKIE, SESSION_COOKIE};

/// A maildev process of this test's own, on free ports, killed on drop.
struct Maildev {
    child: std::process::Child,
    smtp_port: u16,
    web: String,
    client: reqwest::Client,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Drop for Maildev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Maildev {
    async fn start() -> Self {
        Self::start_with(&[]).await
    }

    async fn start_with(extra: &[&str]) -> Self {
        let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end/node_modules/.bin/maildev");
        assert!(bin.exists(), "{} is missing: run ./scripts/setup (it installs end2end's npm packages)", bin.display());
        let spawn = || {
            let (smtp_port, web_port) = (free_port(), free_port());
            let child = std::process::Command::new(&bin)
                .args(["--ip", "127.0.0.1", "--smtp", &smtp_port.to_string(), "--web", &web_port.to_string()])
                .args(extra)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
            (child, smtp_port, web_port)
        };
        let (mut child, mut smtp_port, mut web_port) = spawn();
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut tries = 1;
        loop {
            // A free port picked here can be taken by another test's
            // process before maildev binds it (EADDRINUSE): then maildev
            // exits, and it starts again on other ports.
            if child.try_wait().unwrap().is_some() && tries < 5 {
                (child, smtp_port, web_port) = spawn();
                tries += 1;
            }
            let web = format!("http://127.0.0.1:{web_port}");
            let web_up = client.get(format!("{web}/email")).send().await.is_ok_and(|r| r.status().is_success());
            let smtp_up = tokio::net::TcpStream::connect(("127.0.0.1", smtp_port)).await.is_ok();
            if web_up && smtp_up {
                break;
            }
            assert!(Instant::now() < deadline, "maildev did not start within 20 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let web = format!("http://127.0.0.1:{web_port}");
        Maildev { child, smtp_port, web, client }
    }

    fn smtp_url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.smtp_port)
    }

    async fn emails(&self) -> Vec<Value> {
        self.client.get(format!("{}/email", self.web)).send().await.unwrap().json().await.unwrap()
    }

    /// The newest email to `to`, waiting a little for it to arrive.
    async fn email_to(&self, to: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let emails = self.emails().await;
            if let Some(email) = emails.iter().rev().find(|e| e["to"][0]["address"] == to) {
                return email.clone();
            }
            assert!(Instant::now() < deadline, "no email to {to} arrived; maildev has {emails:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The message exactly as it crossed the wire.
    async fn source(&self, email: &Value) -> String {
        let id = email["id"].as_str().unwrap();
        self.client.get(format!("{}/email/{id}/source", self.web)).send().await.unwrap().text().await.unwrap()
    }
}

async fn spawn_app_with_smtp(smtp_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![
        ("PASSCODE_SMTP_URL", smtp_url),
        ("PASSCODE_EMAIL_FROM", "sign-in@passcode.example"),
        ("PASSCODE_EMAIL_FROM_NAME", "Passcode"),
        ("PASSCODE_PUBLIC_URL", "https://login.passcode.example"),
        // An https public URL means production rules; texts still go to the
        // dev outbox here, which production allows only when asked by name.
        ("PASSCODE_SMS_PROVIDER", "outbox"),
        ("PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION", "true"),
    ];
    env.extend_from_slice(extra);
    spawn_app_with(&env).await
}

/// The code from the text part: the line that is only the code.
fn code_in(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_owned()
}

fn link_in(text: &str) -> String {
    text.split_whitespace()
        .find(|w| w.starts_with("https://login.passcode.example/"))
        .unwrap_or_else(|| panic!("no sign-in link in {text:?}"))
        .to_owned()
}

/// The path and query of a link, to open it on the test server.
fn path_of(link: &str) -> &str {
    link.strip_prefix("https://login.passcode.example").unwrap()
}

#[tokio::test]
async fn a_code_arrives_by_smtp_as_text_and_html_and_signs_in() {
    let maildev = Maildev::start().await;
    let app = spawn_app_with_smtp(&maildev.smtp_url(), &[]).await;
    let res = app
        .client
        .post(app.url("/api/request_code"))
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
        .form(&[("identifier", "Someone@Example.COM")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.keep_cookies(&res);

    let email = maildev.email_to("someone@example.com").await;
    assert_eq!(email["subject"], "Your sign-in code", "the code stays out of the subject by default");
    assert_eq!(email["from"][0]["address"], "sign-in@passcode.example");
    assert_eq!(email["from"][0]["name"], "Passcode");
    let text = email["text"].as_str().unwrap();
    let html = email["html"].as_str().unwrap();
    let code = code_in(text);
    assert!(html.contains(&code), "the HTML part shows the code too");
    for part in [text, html] {
        assert!(part.contains("expires in 10 minutes"), "{part}");
        assert!(part.contains("requested from 127.0.0.1 (Firefox on Linux)"), "{part}");
        assert!(part.contains("Not you?"), "{part}");
        assert!(part.contains("https://login.passcode.example/n?t="), "every message has its report link: {part}");
    }
    let source = maildev.source(&email).await;
    assert!(source.contains("multipart/alternative"), "{source}");
    assert!(source.contains("Auto-Submitted: auto-generated"));
    // Nothing went to the dev outbox.
    assert!(app.outbox().await.is_empty());

    let res = app.verify(&code).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    assert!(app.cookie(SESSION_COOKIE).is_some());
}

#[tokio::test]
async fn credentials_in_the_url_log_in_to_the_smtp_server() {
    let maildev = Maildev::start_with(&["--incoming-user", "mailer", "--incoming-pass", "p@ss/word"]).await;
    // Wrong password: the server refuses, the person is told, nothing arrives.
    let wrong = format!("smtp://mailer:nope@127.0.0.1:{}", maildev.smtp_port);
    let app = spawn_app_with_smtp(&wrong, &[]).await;
    assert_eq!(app.request_code("someone@example.com").await.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Right one, percent-encoded as docs/configuration.md says.
    let right = format!("smtp://mailer:p%40ss%2Fword@127.0.0.1:{}", maildev.smtp_port);
    let app = spawn_app_with_smtp(&right, &[]).await;
    assert_eq!(app.request_code("someone@example.com").await.status(), StatusCode::OK);
    let email = maildev.email_to("someone@example.com").await;
    assert_eq!(maildev.emails().await.len(), 1, "only the authenticated send arrived");
    assert_eq!(email["subject"], "Your sign-in code");
}

#[tokio::test]
async fn the_code_can_go_in_the_subject_when_configured() {
    let maildev = Maildev::start().await;
    let app = spawn_app_with_smtp(&maildev.smtp_url(), &[("PASSCODE_EMAIL_CODE_IN_SUBJECT", "true")]).await;
    assert_eq!(app.request_code("someone@example.com").await.status(), StatusCode::OK);
    let email = maildev.email_to("someone@example.com").await;
    let code = code_in(email["text"].as_str().unwrap());
    assert_eq!(email["subject"], format!("{code} is your Passcode sign-in code"));
}

#[tokio::test]
async fn the_sign_in_link_is_used_only_by_the_button_and_never_comes_from_the_host_header() {
    let maildev = Maildev::start().await;
    let app = spawn_app_with_smtp(&maildev.smtp_url(), &[]).await;
    // An attacker asks for a code for the victim with a forged Host (and
    // X-Forwarded-Host): a link built from them would hand the token over.
    let res = app
        .client
        .post(app.url("/api/request_code"))
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .form(&[("identifier", "victim@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.keep_cookies(&res);
    let pending = app.cookie(PENDING_COOKIE).unwrap();
    let email = maildev.email_to("victim@example.com").await;
    let (text, html) = (email["text"].as_str().unwrap(), email["html"].as_str().unwrap());
    assert!(!text.contains("evil.example") && !html.contains("evil.example"));
    let link = link_in(text);
    assert!(link.starts_with("https://login.passcode.example/sign-in/email-link?token="), "{link}");
    let code = code_in(text);
    assert!(!link.contains(&code), "the link carries its own token, not the code");

    // A mail scanner opens the link, follows the redirect and reads the page,
    // twice: nothing is used up.
    for _ in 0..2 {
        app.clear_cookies();
        let res = app.get(path_of(&link)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()["location"], "/sign-in/confirm");
        assert_eq!(res.headers()["referrer-policy"], "no-referrer");
        let line = app.set_cookie_line(LINK_COOKIE).expect("the token moves into a cookie");
        assert!(line.contains("HttpOnly") && line.contains("Secure"), "{line}");
        let page = app.get("/sign-in/confirm").await;
        assert_eq!(page.status(), StatusCode::OK);
        let body = page.text().await.unwrap();
        assert!(body.contains("victim@example.com"), "the page names the account in full: {body}");
        assert!(!body.contains(&app.cookie(LINK_COOKIE).unwrap()), "the page never shows the token");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM challenges WHERE consumed_at IS NULL").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);

    // The person presses "Sign in" (a POST) in the browser that opened it.
    app.clear_cookies();
    app.get(path_of(&link)).await;
    let link_cookie = app.cookie(LINK_COOKIE).unwrap();
    let res = app.confirm_link().await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    assert!(app.cookie(SESSION_COOKIE).is_some());
    assert!(app.cookie(LINK_COOKIE).is_none(), "the link cookie is cleared");
    let account = app.account_page().await.text().await.unwrap();
    assert!(account.contains("victim@example.com"));

    // The link and the code were one challenge: both are now spent.
    app.clear_cookies();
    app.set_cookie(LINK_COOKIE, &link_cookie);
    let res = app.confirm_link().await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(error_of(res).await.to_string().contains("LinkUnusable"));
    app.clear_cookies();
    app.set_cookie(PENDING_COOKIE, &pending);
    assert_eq!(app.verify(&code).await.status(), StatusCode::GONE);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1);
}

#[tokio::test]
async fn replaced_expired_and_made_up_links_do_not_sign_in() {
    let maildev = Maildev::start().await;
    let app = spawn_app_with_smtp(&maildev.smtp_url(), &[]).await;
    assert_eq!(app.request_code("someone@example.com").await.status(), StatusCode::OK);
    let first = link_in(maildev.email_to("someone@example.com").await["text"].as_str().unwrap());
    app.clock.advance_ms(31_000);
    assert_eq!(app.request_code("someone@example.com").await.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    let second = loop {
        let link = link_in(maildev.email_to("someone@example.com").await["text"].as_str().unwrap());
        if link != first {
            break link;
        }
        assert!(Instant::now() < deadline, "the second email did not arrive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // A newer code retires the older link.
    app.clear_cookies();
    app.get(path_of(&first)).await;
    let page = app.get("/sign-in/confirm").await.text().await.unwrap();
    assert!(page.contains("This link can&#x27;t be used") || page.contains("This link can't be used"), "{page}");
    assert_eq!(app.confirm_link().await.status(), StatusCode::GONE);

    // A made-up or malformed token leaves no cookie and signs nobody in.
    for path in ["/sign-in/email-link?token=not-a-token", "/sign-in/email-link"] {
        app.clear_cookies();
        assert_eq!(app.get(path).await.status(), StatusCode::SEE_OTHER);
        assert!(app.cookie(LINK_COOKIE).is_none());
        assert_eq!(app.confirm_link().await.status(), StatusCode::GONE);
    }
    let forged = format!("/sign-in/email-link?token={}", app::domain::LinkToken::generate().expose());
    app.clear_cookies();
    app.get(&forged).await;
    assert_eq!(app.confirm_link().await.status(), StatusCode::GONE);

    // Past the code's expiry the newest link is dead too.
    app.clock.advance_ms(601_000);
    app.clear_cookies();
    app.get(path_of(&second)).await;
    assert_eq!(app.confirm_link().await.status(), StatusCode::GONE);
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
}

#[tokio::test]
async fn not_you_from_a_real_email_ends_the_code_without_javascript() {
    let maildev = Maildev::start().await;
    let app = spawn_app_with_smtp(&maildev.smtp_url(), &[]).await;
    assert_eq!(app.request_code("someone@example.com").await.status(), StatusCode::OK);
    let email = maildev.email_to("someone@example.com").await;
    let text = email["text"].as_str().unwrap();
    let code = code_in(text);
    let report = text
        .split_whitespace()
        .find(|w| w.starts_with("https://login.passcode.example/n?t="))
        .unwrap_or_else(|| panic!("no report link in {text:?}"));
    assert!(email["html"].as_str().unwrap().contains(report), "the HTML part links it too");

    // Opened on a phone, without JavaScript.
    let phone = crate::two_instances::Browser::new();
    let base = app.url("");
    assert_eq!(phone.get(&base, path_of(report)).await.status(), StatusCode::SEE_OTHER);
    let page = phone.get(&base, "/not-you").await.text().await.unwrap();
    assert!(page.contains(r#"action="/api/report_not_me""#), "a plain form: {page}");
    let res = phone
        .client
        .post(format!("{base}/api/report_not_me"))
        .header("cookie", phone.cookies.header())
        .header("accept", "text/html")
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    phone.cookies.keep(&res);
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/not-you");
    let page = phone.get(&base, "/not-you").await.text().await.unwrap();
    assert!(page.contains("Thanks for telling us"), "{page}");
    assert_eq!(error_of(app.verify(&code).await).await, serde_json::json!("CodeExpired"));
}

#[tokio::test]
async fn the_link_works_without_javascript() {
    let maildev = Maildev::start().await;
    let app = spawn_app_with_smtp(&maildev.smtp_url(), &[]).await;
    assert_eq!(app.request_code("someone@example.com").await.status(), StatusCode::OK);
    let link = link_in(maildev.email_to("someone@example.com").await["text"].as_str().unwrap());
    app.clear_cookies();
    app.get(path_of(&link)).await;
    let page = app.get("/sign-in/confirm").await.text().await.unwrap();
    assert!(page.contains(r#"action="/api/confirm_link""#), "a plain form posts the button: {page}");
    let shown = shown_on(&page).expect("the form names the link it shows");
    let res = app.post_plain_form("/api/confirm_link", &[("shown", &shown)], "/sign-in/confirm").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/account");
    assert!(app.cookie(SESSION_COOKIE).is_some());
}

#[tokio::test]
async fn header_injection_is_refused_before_anything_reaches_smtp() {
    let maildev = Maildev::start().await;
    let app = spawn_app_with_smtp(&maildev.smtp_url(), &[]).await;
    for hostile in [
        "victim@example.com\r\nBcc: attacker@example.com",
        "victim@example.com\nBcc: attacker@example.com",
        "victim@example.com>\r\nRCPT TO:<attacker@example.com",
        "victim@example.com, attacker@example.com",
        "Victim <victim@example.com>",
        "victim@example.com\r\nSubject: free money",
    ] {
        let res = app.request_code(hostile).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{hostile:?}");
    }
    // Delivery itself works: a good address gets exactly one email, and it is
    // the only email that arrived.
    assert_eq!(app.request_code("control@example.com").await.status(), StatusCode::OK);
    let email = maildev.email_to("control@example.com").await;
    let emails = maildev.emails().await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(email["envelope"]["to"].as_array().unwrap().len(), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM challenges").await, 1);
}

#[tokio::test]
async fn a_person_whose_text_failed_can_switch_to_email_on_the_code_page() {
    let maildev = Maildev::start().await;
    let app = spawn_app_with_smtp(&maildev.smtp_url(), &[]).await;
    assert_eq!(app.request_code("+44 7911 123456").await.status(), StatusCode::OK);
    let res = app.post("/api/switch_to_email", &[("email", "+44 7911 123456")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "only an email address will do");
    let res = app.post("/api/switch_to_email", &[("email", "someone@example.com")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["masked_destination"], "s•••@example.com");
    assert_eq!(view["channel"], "email");
    let code = code_in(maildev.email_to("someone@example.com").await["text"].as_str().unwrap());
    assert_eq!(app.verify(&code).await.status(), StatusCode::OK);
    let account = app.account_page().await.text().await.unwrap();
    assert!(account.contains("someone@example.com"));
}

#[tokio::test]
async fn switching_to_email_works_without_javascript() {
    let maildev = Maildev::start().await;
    let app = spawn_app_with_smtp(&maildev.smtp_url(), &[]).await;
    assert_eq!(app.request_code("+44 7911 123456").await.status(), StatusCode::OK);
    let page = app.get("/verify").await.text().await.unwrap();
    assert!(page.contains("Send the code by email instead") && page.contains(r#"action="/api/switch_to_email""#));
    let res = app.post_plain_form("/api/switch_to_email", &[("email", "not an address")], "/verify").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&app.url("/verify?")) && back.contains("__err"), "{back}");
    let page = app.get(back.strip_prefix(&app.url("")).unwrap()).await.text().await.unwrap();
    assert!(page.contains("Enter an email address like name@example.com."), "the error shows by the field: {page}");
    let res = app.post_plain_form("/api/switch_to_email", &[("email", "someone@example.com")], "/verify").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    // Leptos drops its error parameters from the Referer, leaving a bare "?".
    let back = res.headers()["location"].to_str().unwrap();
    assert_eq!(back.trim_end_matches('?'), app.url("/verify"));
    let page = app.get("/verify").await.text().await.unwrap();
    assert!(page.contains("s•••@example.com"), "the page now names the email address: {page}");
    assert!(!page.contains("Send the code by email instead"));
    maildev.email_to("someone@example.com").await;
}

/// What the scripted SMTP server answers to RCPT TO.
#[derive(Clone, Copy)]
enum Reply {
    /// 451: try again later (transient).
    TryLater,
    /// 550: no such mailbox (permanent).
    NoSuchMailbox,
    /// Accept the connection, then say nothing.
    Silence,
}

/// Just enough SMTP to reach RCPT TO. Counts connections.
async fn scripted_smtp(reply: Reply) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                if matches!(reply, Reply::Silence) {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return;
                }
                write.write_all(b"220 scripted ESMTP\r\n").await.unwrap();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                    // Like many servers, the refusal quotes the recipient.
                    let recipient = line.split_once(':').map_or("", |(_, r)| r.trim()).to_owned();
                    let answer = match (verb.as_str(), reply) {
                        ("EHLO" | "HELO", _) => "250 scripted\r\n".to_owned(),
                        ("MAIL", _) | ("RSET", _) | ("NOOP", _) => "250 OK\r\n".to_owned(),
                        ("RCPT", Reply::TryLater) => "451 4.3.0 Mailbox temporarily unavailable\r\n".to_owned(),
                        ("RCPT", _) => format!("550 5.1.1 {recipient}: No such mailbox\r\n"),
                        ("QUIT", _) => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => "502 Not implemented\r\n".to_owned(),
                    };
                    if write.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, connections)
}

async fn assert_delivery_failed(app: &TestApp, res: reqwest::Response) {
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = error_of(res).await.to_string();
    assert!(body.contains("s•••@example.com"), "{body}");
    // The challenge nobody received is not usable.
    assert_eq!(app.count("SELECT COUNT(*) FROM challenges WHERE superseded_at IS NULL").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'delivery_failed'").await, 1);
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn smtp_failures_fail_cleanly_and_only_transient_ones_are_retried() {
    // 550: permanent, one attempt.
    let (url, connections) = scripted_smtp(Reply::NoSuchMailbox).await;
    let app = spawn_app_with_smtp(&url, &[]).await;
    let res = app.request_code("someone@example.com").await;
    assert_delivery_failed(&app, res).await;
    let detail = app.count("SELECT COUNT(*) FROM audit_events WHERE detail LIKE '%550%s•••@example.com%'").await;
    assert_eq!(detail, 1, "the audit trail keeps the server's answer, with the address masked");
    let leaked = app.count("SELECT COUNT(*) FROM audit_events WHERE detail LIKE '%someone@%'").await;
    assert_eq!(leaked, 0);
    let sends = app.count("SELECT COUNT(*) FROM audit_events WHERE detail LIKE '%retry%'").await;
    assert_eq!(sends, 0, "a permanent refusal is not retried");
    assert!(connections.load(Ordering::SeqCst) >= 1);

    // 451: transient, tried twice.
    let (url, _) = scripted_smtp(Reply::TryLater).await;
    let app = spawn_app_with_smtp(&url, &[]).await;
    let res = app.request_code("someone@example.com").await;
    assert_delivery_failed(&app, res).await;
    let retried = app.count("SELECT COUNT(*) FROM audit_events WHERE detail LIKE '%451%retry%451%'").await;
    assert_eq!(retried, 1, "a transient failure is retried once");

    // Nothing listening.
    let port = free_port();
    let app = spawn_app_with_smtp(&format!("smtp://127.0.0.1:{port}"), &[]).await;
    let res = app.request_code("someone@example.com").await;
    assert_delivery_failed(&app, res).await;

    // A server that never speaks: the timeout ends it.
    let (url, _) = scripted_smtp(Reply::Silence).await;
    let app = spawn_app_with_smtp(&url, &[("PASSCODE_SMTP_TIMEOUT_SECS", "1")]).await;
    let started = Instant::now();
    let res = app.request_code("someone@example.com").await;
    assert_delivery_failed(&app, res).await;
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
}
