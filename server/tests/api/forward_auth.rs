//! Forward auth as a reverse proxy speaks it (the proxies themselves are in
//! `proxies.rs`): the header contract of `/auth/forward` and
//! `/auth/request`, the way back (`rd`) through every sign-in path, the
//! domain cookie and the access rules.

use reqwest::header::{CACHE_CONTROL, SET_COOKIE};
use reqwest::{Response, StatusCode};

use crate::helpers::*;

use app::web::{DOMAIN_SESSION_COOKIE, LINK_COOKIE, RETURN_COOKIE, SESSION_COOKIE};

const PUBLIC: &str = "https://login.example.com";

/// A deployment at `https://login.example.com` for every host under
/// `example.com`, behind a proxy on this machine. Codes go to the outbox
/// (allowed by name: an https public URL means production rules).
async fn protected_app(extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![
        ("PASSCODE_PUBLIC_URL", PUBLIC),
        ("PASSCODE_COOKIE_DOMAIN", "example.com"),
        ("PASSCODE_TRUSTED_PROXIES", "127.0.0.1"),
        ("PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION", "true"),
        ("PASSCODE_SMS_PROVIDER", "outbox"),
    ];
    env.extend_from_slice(extra);
    spawn_app_with(&env).await
}

/// The proxy's question for a browser (`accept`) holding this test's
/// cookies, about `url` requested with `method`.
async fn ask(app: &TestApp, path: &str, url: &str, method: &str, accept: &str, extra: &[(&str, &str)]) -> Response {
    let mut req = app.client.get(app.url(path)).header("cookie", app.cookie_header()).header("accept", accept);
    if path == "/auth/forward" {
        let parsed = url::Url::parse(url).unwrap();
        let host = match parsed.port() {
            Some(port) => format!("{}:{port}", parsed.host_str().unwrap()),
            None => parsed.host_str().unwrap().to_owned(),
        };
        let uri = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        req = req
            .header("x-forwarded-proto", parsed.scheme())
            .header("x-forwarded-host", host)
            .header("x-forwarded-uri", uri)
            .header("x-forwarded-method", method);
    } else {
        req = req.header("x-original-url", url).header("x-original-method", method);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

const PAGE: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn header<'a>(res: &'a Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).map(|v| v.to_str().unwrap())
}

fn sign_in_with_rd(rd: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(rd.as_bytes()).collect();
    format!("{PUBLIC}/sign-in?rd={encoded}")
}

/// Signs in through the outbox, asking for a code with `rd`; returns where
/// the sign-in sent the browser.
async fn sign_in_with(app: &TestApp, identifier: &str, normalised: &str, rd: Option<&str>) -> String {
    let mut form = vec![("identifier", identifier)];
    form.extend(rd.map(|rd| ("rd", rd)));
    let res = app.post("/api/request_code", &form).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    let code = app.latest_code(normalised).await;
    let res = app.verify(&code).await;
    assert_eq!(res.status(), StatusCode::OK);
    header(&res, "location").unwrap().to_owned()
}

#[tokio::test]
async fn the_forward_contract_redirects_page_loads_and_tells_scripts_401() {
    let app = protected_app(&[]).await;
    let target = "https://wiki.example.com/page?a=1&b=two%20words";
    // A page load: 302 to sign in, carrying the original URL.
    let res = ask(&app, "/auth/forward", target, "GET", PAGE, &[]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(header(&res, "location"), Some(sign_in_with_rd(target).as_str()));
    assert_eq!(header(&res, "cache-control"), Some("no-store"));
    assert_eq!(res.text().await.unwrap(), "");
    // HEAD too; another method gets 303 so the browser comes back with GET.
    let res = ask(&app, "/auth/forward", target, "HEAD", PAGE, &[]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let res = ask(&app, "/auth/forward", target, "POST", PAGE, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(&res, "location"), Some(sign_in_with_rd(target).as_str()));
    // Scripts and API clients: 401, with where to sign in.
    for (accept, extra) in
        [("application/json", &[][..]), ("*/*", &[][..]), (PAGE, &[("x-requested-with", "XMLHttpRequest")][..])]
    {
        let res = ask(&app, "/auth/forward", target, "GET", accept, extra).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{accept} {extra:?}");
        assert_eq!(header(&res, "location"), Some(sign_in_with_rd(target).as_str()));
        assert_eq!(header(&res, "x-passcode-redirect"), None);
        assert_eq!(header(&res, "cache-control"), Some("no-store"));
    }
    // A page outside the return rules: sign in, without a way back.
    let res = ask(&app, "/auth/forward", "https://evil.example/x", "GET", PAGE, &[]).await;
    assert_eq!(header(&res, "location"), Some(format!("{PUBLIC}/sign-in").as_str()));
    // The proxy left out what it must send: a loud 400, never a pass.
    let res =
        app.client.get(app.url("/auth/forward")).header("x-forwarded-host", "wiki.example.com").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_request_contract_answers_401_and_marks_page_loads_for_nginx() {
    let app = protected_app(&[]).await;
    let target = "https://wiki.example.com/dash?x=1";
    for method in ["GET", "HEAD", "POST"] {
        let res = ask(&app, "/auth/request", target, method, PAGE, &[]).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "nginx can't follow a redirect from auth_request");
        assert_eq!(header(&res, "location"), Some(sign_in_with_rd(target).as_str()));
        assert_eq!(header(&res, "x-passcode-redirect"), Some(sign_in_with_rd(target).as_str()), "{method}");
    }
    let res = ask(&app, "/auth/request", target, "GET", "application/json", &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&res, "location"), Some(sign_in_with_rd(target).as_str()));
    assert_eq!(header(&res, "x-passcode-redirect"), None, "a script gets the 401, not a redirect");
    let res = ask(&app, "/auth/request", target, "GET", PAGE, &[("x-requested-with", "XMLHttpRequest")]).await;
    assert_eq!(header(&res, "x-passcode-redirect"), None);
}

#[tokio::test]
async fn signed_in_the_proxy_is_told_who_it_is() {
    let app = protected_app(&[]).await;
    sign_in_with(&app, "Jane@Example.com", "jane@example.com", None).await;
    let user_id = {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.db.url).await.unwrap();
        let row = sqlx::query("SELECT id FROM users").fetch_one(&mut conn).await.unwrap();
        sqlx::Row::get::<String, _>(&row, 0)
    };
    for path in ["/auth/forward", "/auth/request"] {
        for accept in [PAGE, "application/json"] {
            let res = ask(&app, path, "https://wiki.example.com/", "GET", accept, &[]).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&res, "remote-user"), Some(user_id.as_str()));
            assert_eq!(header(&res, "remote-email"), Some("jane@example.com"));
            assert_eq!(header(&res, "remote-phone"), Some(""), "present and empty (see let_through)");
            assert_eq!(res.headers().get(CACHE_CONTROL).unwrap(), "no-store");
            assert_eq!(res.text().await.unwrap(), "", "an empty body");
        }
    }
    // A phone number's account: Remote-Phone.
    app.clear_cookies();
    sign_in_with(&app, "+44 7911 123456", "+447911123456", None).await;
    let res = ask(&app, "/auth/forward", "https://wiki.example.com/", "GET", PAGE, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "remote-phone"), Some("+447911123456"));
    assert_eq!(header(&res, "remote-email"), Some(""));
    // A session that ended: signed out again.
    app.post("/api/sign_out", &[]).await;
    let res = ask(&app, "/auth/forward", "https://wiki.example.com/", "GET", PAGE, &[]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    // A forged or stale token opens nothing.
    app.set_cookie(DOMAIN_SESSION_COOKIE, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let res = ask(&app, "/auth/request", "https://wiki.example.com/", "GET", PAGE, &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// Checks are reads: a busy app asking on every request does not turn the
/// idle-timeout bookkeeping into a write per check.
#[tokio::test]
async fn checks_write_last_seen_at_most_once_an_hour() {
    let app = protected_app(&[]).await;
    sign_in_with(&app, "jane@example.com", "jane@example.com", None).await;
    let seen = || app.count("SELECT last_seen_at FROM sessions");
    let at_sign_in = seen().await;
    for _ in 0..20 {
        app.clock.advance_ms(60_000);
        let res = ask(&app, "/auth/forward", "https://wiki.example.com/", "GET", PAGE, &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(seen().await, at_sign_in, "20 minutes of checks, no write");
    }
    app.clock.advance_ms(41 * 60_000);
    ask(&app, "/auth/forward", "https://wiki.example.com/", "GET", PAGE, &[]).await;
    assert!(seen().await > at_sign_in, "after an hour, one write");
}

/// Only trusted proxies are answered, and the log says what to set.
#[tokio::test]
async fn a_peer_that_is_not_a_trusted_proxy_is_refused() {
    let dir = std::env::temp_dir().join(format!("passcode-fa-{}", app::domain::random_id()));
    let db = TestDatabase::create(&dir).await;
    let server = crate::two_instances::start(
        &dir,
        &db.url,
        &[("PASSCODE_TRUSTED_PROXIES", "10.0.0.0/8"), ("PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION", "true")],
    );
    let client = reqwest::Client::new();
    for path in ["/auth/forward", "/auth/request"] {
        let res = client
            .get(format!("{}{path}", server.base))
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "wiki.example.com")
            .header("x-forwarded-uri", "/")
            .header("x-original-url", "https://wiki.example.com/")
            .header("accept", PAGE)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(header(&res, "remote-user"), None);
        assert_eq!(header(&res, "location"), None);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !server.log.lock().unwrap().iter().any(|l| l.contains("PASSCODE_TRUSTED_PROXIES") && l.contains("127.0.0.1"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no log line names the variable: {:?}",
            server.log.lock().unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every row of the return rules' table, through the real server: the
/// sign-in page carries `rd` on only when the rules take it, and after
/// signing in the browser lands where the table says.
#[tokio::test]
async fn every_return_address_lands_where_the_table_says() {
    let app = protected_app(&[]).await;
    for (i, (rd, expected)) in app::domain::RETURN_TO_CASES.iter().enumerate() {
        app.clear_cookies();
        let encoded: String = url::form_urlencoded::byte_serialize(rd.as_bytes()).collect();
        let page = app.get(&format!("/sign-in?rd={encoded}")).await.text().await.unwrap();
        let hidden = page.contains("name=\"rd\"");
        assert_eq!(hidden, expected.is_some(), "{rd:?}: hidden rd on the sign-in page");
        if let Some(expected) = expected {
            let escaped = expected.replace('&', "&amp;");
            let at = page.find("name=\"rd\"").unwrap();
            assert!(
                page.contains(&format!("value=\"{escaped}\"")),
                "{rd:?} in {}",
                &page[at.saturating_sub(200)..at + 200]
            );
        }
        let address = format!("rd{i}@example.com");
        let landed = sign_in_with(&app, &address, &address, Some(rd)).await;
        assert_eq!(landed, expected.unwrap_or("/account"), "{rd:?}");
        assert!(app.cookie(RETURN_COOKIE).is_none(), "{rd:?}: the way back is used once");
    }
}

/// `rd` survives every path to a session: a wrong code, a resend, a text
/// message, switching to email, the sign-in page's other tab, and the link
/// in the same browser; the link in another browser goes to the account.
#[tokio::test]
async fn the_way_back_survives_every_path() {
    let app = protected_app(&[("PASSCODE_RESEND_COOLDOWN_SECS", "1")]).await;
    let rd = "https://wiki.example.com/page?q=1";

    // Wrong code first, then the right one.
    app.post("/api/request_code", &[("identifier", "a@example.com"), ("rd", rd)]).await;
    let code = app.latest_code("a@example.com").await;
    let res = app.verify(&TestApp::wrong(&code)).await;
    assert_ne!(res.status(), StatusCode::OK);
    let res = app.verify(&code).await;
    assert_eq!(header(&res, "location"), Some(rd));

    // A resend.
    app.clear_cookies();
    app.post("/api/request_code", &[("identifier", "b@example.com"), ("rd", rd)]).await;
    app.clock.advance_ms(5_000);
    assert_eq!(app.post("/api/resend_code", &[]).await.status(), StatusCode::OK);
    let code = app.latest_code("b@example.com").await;
    let res = app.verify(&code).await;
    assert_eq!(header(&res, "location"), Some(rd));

    // A text message, then switching to email from the code page.
    app.clear_cookies();
    app.post("/api/request_code", &[("identifier", "+44 7911 123457"), ("rd", rd)]).await;
    let code = app.latest_code("+447911123457").await;
    let res = app.verify(&code).await;
    assert_eq!(header(&res, "location"), Some(rd));
    app.clear_cookies();
    app.post("/api/request_code", &[("identifier", "+44 7911 123458"), ("rd", rd)]).await;
    // The code page's links keep the way back for starting over.
    let verify_page = app.get("/verify").await.text().await.unwrap();
    let encoded: String = url::form_urlencoded::byte_serialize(rd.as_bytes()).collect();
    assert!(verify_page.contains(&format!("href=\"/sign-in?with=phone&amp;rd={encoded}\"")), "{verify_page}");
    assert_eq!(app.post("/api/switch_to_email", &[("email", "c@example.com")]).await.status(), StatusCode::OK);
    let code = app.latest_code("c@example.com").await;
    let res = app.verify(&code).await;
    assert_eq!(header(&res, "location"), Some(rd));

    // Without JavaScript: plain form posts, a wrong code's error page, and
    // the right code.
    app.clear_cookies();
    let res = app
        .post_plain_form(
            "/api/request_code",
            &[("identifier", "d@example.com"), ("rd", rd)],
            &format!("/sign-in?rd={encoded}"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(header(&res, "location"), Some("/verify"));
    let code = app.latest_code("d@example.com").await;
    let res = app.post_plain_form("/api/verify_code", &[("code", &TestApp::wrong(&code))], "/verify").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(header(&res, "location").unwrap().contains("/verify?"), "{:?}", header(&res, "location"));
    let res = app.post_plain_form("/api/verify_code", &[("code", &code)], "/verify").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(header(&res, "location"), Some(rd));
    // A bad address typed first: the error page keeps rd in its address.
    app.clear_cookies();
    let res = app
        .post_plain_form(
            "/api/request_code",
            &[("identifier", "not an address"), ("rd", rd)],
            &format!("/sign-in?rd={encoded}"),
        )
        .await;
    let back = header(&res, "location").unwrap().to_owned();
    assert!(back.contains(&format!("rd={encoded}")), "{back}");

    // The email's link, confirmed in the browser that asked: back to rd.
    app.clear_cookies();
    app.post("/api/request_code", &[("identifier", "e@example.com"), ("rd", rd)]).await;
    let link = link_to(&app, "e@example.com").await;
    app.get(&link).await;
    assert!(app.cookie(LINK_COOKIE).is_some());
    let res = app.confirm_link().await;
    assert_eq!(header(&res, "location"), Some(rd));

    // The same link in another browser: the account page, never rd.
    app.clear_cookies();
    app.post("/api/request_code", &[("identifier", "f@example.com"), ("rd", rd)]).await;
    let link = link_to(&app, "f@example.com").await;
    app.clear_cookies();
    app.get(&link).await;
    let res = app.confirm_link().await;
    assert_eq!(header(&res, "location"), Some("/account"));

    // A later sign-in without rd does not go back to an old one.
    app.clear_cookies();
    app.post("/api/request_code", &[("identifier", "g@example.com"), ("rd", rd)]).await;
    app.clock.advance_ms(5_000);
    let landed = sign_in_with(&app, "g@example.com", "g@example.com", None).await;
    assert_eq!(landed, "/account");
}

/// The path and query of the sign-in link in the newest message to `to`.
async fn link_to(app: &TestApp, to: &str) -> String {
    let outbox = app.outbox().await;
    let body = outbox.iter().find(|m| m["to"] == to).unwrap()["body"].as_str().unwrap().to_owned();
    let link = body.split_whitespace().find(|w| w.contains("/sign-in/email-link?token=")).unwrap();
    link.strip_prefix(PUBLIC).unwrap().to_owned()
}

#[tokio::test]
async fn the_domain_cookie_reaches_every_host_under_the_domain() {
    let app = protected_app(&[]).await;
    let res = app.post("/api/request_code", &[("identifier", "jane@example.com")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let code = app.latest_code("jane@example.com").await;
    let res = app.verify(&code).await;
    let lines: Vec<String> = res.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    app.keep_cookies(&res);
    let session = lines
        .iter()
        .find(|l| l.starts_with(&format!("{DOMAIN_SESSION_COOKIE}=")))
        .unwrap_or_else(|| panic!("{lines:?}"));
    let attrs: Vec<String> = session.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect();
    for attr in ["domain=example.com", "httponly", "secure", "samesite=lax", "path=/"] {
        assert!(attrs.iter().any(|a| a == attr), "{attr} in {session}");
    }
    assert!(!lines.iter().any(|l| l.starts_with(SESSION_COOKIE)), "no host-only session cookie: {lines:?}");
    // The account page and the proxies read it.
    assert_eq!(app.account_page().await.status(), StatusCode::OK);
    // Sign-out removes it for the same domain.
    let res = app.post("/api/sign_out", &[]).await;
    let cleared: Vec<&str> = res.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    let gone = cleared.iter().find(|l| l.starts_with(&format!("{DOMAIN_SESSION_COOKIE}="))).unwrap();
    let gone = gone.to_ascii_lowercase();
    assert!(gone.contains("domain=example.com") && gone.contains("max-age=0"), "{gone}");
    assert!(header(&res, "clear-site-data").is_some());
    // Without the setting nothing changes: the host-only cookie.
    let plain = spawn_app().await;
    plain.sign_in("jane@example.com", "jane@example.com").await;
    assert!(plain.set_cookie_line(SESSION_COOKIE).unwrap().to_ascii_lowercase().contains("secure"));
    assert!(!plain.set_cookie_line(SESSION_COOKIE).unwrap().to_ascii_lowercase().contains("domain="));
}

#[tokio::test]
async fn the_cross_site_guard_still_takes_only_the_public_origin() {
    let app = protected_app(&[]).await;
    // A sibling host is same-site, not same-origin: still refused.
    let res = app
        .client
        .post(app.url("/api/request_code"))
        .header("sec-fetch-site", "same-site")
        .form(&[("identifier", "jane@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .client
        .post(app.url("/api/request_code"))
        .header("origin", "https://wiki.example.com")
        .form(&[("identifier", "jane@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .client
        .post(app.url("/api/request_code"))
        .header("origin", PUBLIC)
        .form(&[("identifier", "jane@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

const RULES: &str = r#"
default = "deny"

[[rule]]
host = "wiki.example.com"
allow = ["@example.com"]

[[rule]]
host = "ops.example.com"
allow = ["+44 7911 123456", "boss@elsewhere.example"]

[[rule]]
host = "*.tools.example.com"
allow = ["signed-in"]
"#;

async fn app_with_rules() -> (TestApp, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!("passcode-rules-{}.toml", app::domain::random_id()));
    std::fs::write(&path, RULES).unwrap();
    let app = protected_app(&[("PASSCODE_ACCESS_FILE", path.to_str().unwrap())]).await;
    (app, path)
}

#[tokio::test]
async fn the_rules_decide_who_enters_and_a_refusal_says_who_is_signed_in() {
    let (app, rules) = app_with_rules().await;
    sign_in_with(&app, "eve@elsewhere.example", "eve@elsewhere.example", None).await;
    // Anyone signed in may open a tools host.
    assert_eq!(
        ask(&app, "/auth/forward", "https://a.tools.example.com/", "GET", PAGE, &[]).await.status(),
        StatusCode::OK
    );
    // Not the wiki: a 403 page that says who is signed in and offers another address.
    for path in ["/auth/forward", "/auth/request"] {
        let res = ask(&app, path, "https://wiki.example.com/secret?x=1", "GET", PAGE, &[]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(header(&res, "remote-user"), None);
        assert_eq!(header(&res, "cache-control"), Some("no-store"));
        assert!(header(&res, "content-type").unwrap().starts_with("text/html"));
        let csp = header(&res, "content-security-policy").unwrap().to_owned();
        assert!(csp.contains(&format!("style-src {PUBLIC}")) && csp.contains("default-src 'none'"), "{csp}");
        let page = res.text().await.unwrap();
        assert!(page.contains("eve@elsewhere.example"), "{page}");
        assert!(page.contains("Sign in with another address"), "{page}");
        let again = sign_in_with_rd("https://wiki.example.com/secret?x=1").replace('&', "&amp;");
        assert!(page.contains(&format!("href=\"{again}\"")), "{page}");
        assert!(
            page.contains(&format!("href=\"{PUBLIC}/pkg/passcode.")),
            "the stylesheet comes from the public URL: {page}"
        );
    }
    // A host no rule names: the default (deny).
    assert_eq!(
        ask(&app, "/auth/forward", "https://other.example.com/", "GET", PAGE, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    // The refusal is in the audit trail, once per host in the window,
    // however often the app asks.
    for _ in 0..5 {
        ask(&app, "/auth/forward", "https://wiki.example.com/", "GET", PAGE, &[]).await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'access_refused'").await, 2, "wiki and other");
    // Allowed decisions write nothing.
    let before = app.count("SELECT COUNT(*) FROM audit_events").await;
    for _ in 0..5 {
        ask(&app, "/auth/forward", "https://a.tools.example.com/", "GET", PAGE, &[]).await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events").await, before);
    // The account page's activity list says so in our words, not the host.
    let account = app.account_page().await.text().await.unwrap();
    assert!(account.contains("This account was refused entry to an app"), "{account}");

    // Someone at example.com opens the wiki; the account page lists it.
    app.clear_cookies();
    sign_in_with(&app, "bob@example.com", "bob@example.com", None).await;
    let res = ask(&app, "/auth/request", "https://wiki.example.com/", "GET", PAGE, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "remote-email"), Some("bob@example.com"));
    assert_eq!(
        ask(&app, "/auth/request", "https://ops.example.com/", "GET", PAGE, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    let account = app.account_page().await.text().await.unwrap();
    assert!(account.contains("href=\"https://wiki.example.com/\""), "{account}");
    assert!(!account.contains("ops.example.com"), "{account}");
    // The phone number on the ops list gets in there, and only there.
    app.clear_cookies();
    sign_in_with(&app, "+44 7911 123456", "+447911123456", None).await;
    assert_eq!(ask(&app, "/auth/forward", "https://ops.example.com/", "GET", PAGE, &[]).await.status(), StatusCode::OK);
    assert_eq!(
        ask(&app, "/auth/forward", "https://wiki.example.com/", "GET", PAGE, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    let _ = std::fs::remove_file(rules);
}

#[tokio::test]
async fn a_broken_rules_file_stops_start_up_with_its_line() {
    let path = std::env::temp_dir().join(format!("passcode-rules-{}.toml", app::domain::random_id()));
    std::fs::write(&path, "default = \"deny\"\n\n[[rule]]\nhost = \"wiki.example.com\"\nallow = [\"jane@\"]\n")
        .unwrap();
    let e = try_spawn_config(&[("PASSCODE_ACCESS_FILE", path.to_str().unwrap())]);
    assert!(e.contains("PASSCODE_ACCESS_FILE") && e.contains("line 5") && e.contains("jane@"), "{e}");
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn the_cookie_domain_must_cover_the_public_url() {
    let e = try_spawn_config(&[("PASSCODE_COOKIE_DOMAIN", "example.org")]);
    assert!(e.contains("PASSCODE_COOKIE_DOMAIN") && e.contains("PASSCODE_PUBLIC_URL"), "{e}");
    assert!(e.contains("login.example.com"), "{e}");
}

/// The configuration error a protected deployment with `extra` gets.
fn try_spawn_config(extra: &[(&str, &str)]) -> String {
    let mut src: std::collections::HashMap<String, String> = [
        ("PASSCODE_PUBLIC_URL", PUBLIC),
        ("PASSCODE_COOKIE_DOMAIN", "example.com"),
        ("PASSCODE_TRUSTED_PROXIES", "127.0.0.1"),
        ("PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION", "true"),
        ("PASSCODE_SECRET", SECRET),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        src.insert((*k).into(), (*v).into());
    }
    passcode::config::Config::from_source(&src).map(|_| String::new()).unwrap_or_else(|e| e.to_string())
}

#[tokio::test]
async fn the_sign_in_page_keeps_rd_only_when_it_is_ours() {
    let app = protected_app(&[]).await;
    let rd = "https://wiki.example.com/a?b=c";
    let encoded: String = url::form_urlencoded::byte_serialize(rd.as_bytes()).collect();
    let page = app.get(&format!("/sign-in?rd={encoded}")).await.text().await.unwrap();
    // The tabs and the form carry it on.
    assert!(page.contains(&format!("href=\"/sign-in?rd={encoded}\"")), "{page}");
    assert!(page.contains(&format!("href=\"/sign-in?with=phone&amp;rd={encoded}\"")), "{page}");
    assert!(page.contains("type=\"hidden\" name=\"rd\""), "{page}");
    let evil = app.get("/sign-in?rd=https%3A%2F%2Fevil.example%2F").await.text().await.unwrap();
    assert!(!evil.contains("evil.example"), "nothing of a refused rd on the page: {evil}");
}

/// Several instances on Postgres: forward auth remembers a session for a
/// moment, and a session ended on one instance stops opening apps on the
/// others at once (they hear of it by NOTIFY), not when the moment is over.
#[tokio::test]
async fn a_session_ended_on_one_instance_is_refused_by_the_others_at_once() {
    use crate::two_instances::{Browser, latest_code, start};
    let dir = std::env::temp_dir().join(format!("passcode-fa2-{}", app::domain::random_id()));
    let db = TestDatabase::create_postgres().await;
    let env = [
        ("PASSCODE_TRUSTED_PROXIES", "127.0.0.1"),
        ("PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION", "true"),
        // Long enough that only the notice explains a refusal within it.
        ("PASSCODE_FORWARD_AUTH_CACHE_MS", "10000"),
    ];
    let a = start(&dir, &db.url, &env);
    let b = start(&dir, &db.url, &env);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b.log.lock().unwrap().iter().any(|l| l.contains("listening for sessions ended")) {
        assert!(std::time::Instant::now() < deadline, "B never listened: {:?}", b.log.lock().unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let check = |base: &str, token: &str| {
        let (url, cookie) = (format!("{base}/auth/forward"), format!("{SESSION_COOKIE}={token}"));
        async move {
            reqwest::Client::new()
                .get(url)
                .header("cookie", cookie)
                .header("accept", "application/json")
                .header("x-forwarded-proto", "https")
                .header("x-forwarded-host", "wiki.example.com")
                .header("x-forwarded-uri", "/")
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let sign_in = |address: &'static str| {
        let base = a.base.clone();
        async move {
            let browser = Browser::new();
            browser.post(&base, "/api/request_code", &[("identifier", address)]).await;
            let code = latest_code(&base, address).await;
            browser.post(&base, "/api/verify_code", &[("code", &code)]).await;
            let token = browser.cookies.get(SESSION_COOKIE).unwrap();
            (browser, token)
        }
    };

    // B remembers: a session whose row vanished behind its back (no notice)
    // still opens apps there for the cache's time.
    let (_x, x) = sign_in("x@example.com").await;
    assert_eq!(check(&b.base, &x).await, StatusCode::OK);
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db.url).await.unwrap();
    sqlx::query("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE identifier = 'x@example.com')")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(check(&b.base, &x).await, StatusCode::OK, "remembered");
    assert_eq!(check(&a.base, &x).await, StatusCode::UNAUTHORIZED, "A never looked it up");

    // Signing out on A: B refuses at once.
    let (z_browser, z) = sign_in("z@example.com").await;
    assert_eq!(check(&b.base, &z).await, StatusCode::OK);
    assert_eq!(check(&b.base, &z).await, StatusCode::OK);
    z_browser.post(&a.base, "/api/sign_out", &[]).await;
    let started = std::time::Instant::now();
    while check(&b.base, &z).await != StatusCode::UNAUTHORIZED {
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "B still lets an ended session in");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop((a, b));
    drop(conn);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
