//! Behind real reverse proxies: Debian's Caddy and nginx (installed by
//! `scripts/setup`), each run from the example files docs/deploying.md shows in
//! `docs/proxies/` with only `example.com`, the ports and the certificates
//! swapped, in front of Passcode and a small app that echoes the headers it
//! receives. One proxy per test, each test all of that proxy's cases.
//!
//! The client connects from 127.0.0.3, the proxies reach Passcode from
//! 127.0.0.1 (the one trusted proxy): a client-written forwarding header
//! must never be taken for the client's address.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// Where the test client connects from: loopback, but not the proxy.
const CLIENT_IP: &str = "127.0.0.3";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn docs(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/proxies").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A proxy process of this test's own, stopped on drop.
struct Proxy {
    child: Child,
    dir: PathBuf,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Proxy {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("proxy.log")).unwrap_or_default()
    }
}

/// The example file with the test's names and ports: `example.com` becomes
/// `domain`, Passcode's and the apps' addresses become the test's.
fn render(template: &str, domain: &str, passcode: SocketAddr, apps: [SocketAddr; 2]) -> String {
    template
        .replace("example.com", domain)
        .replace("127.0.0.1:3000", &passcode.to_string())
        .replace("127.0.0.1:8080", &apps[0].to_string())
        .replace("127.0.0.1:8081", &apps[1].to_string())
}

fn binary(name: &str) -> String {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"] {
        let path = format!("{dir}/{name}");
        if Path::new(&path).exists() {
            return path;
        }
    }
    panic!("{name} is not installed: run ./scripts/setup --for-tests (it installs Debian's caddy and nginx)");
}

fn start(mut cmd: Command, dir: PathBuf) -> Proxy {
    let log = std::fs::File::create(dir.join("proxy.log")).unwrap();
    cmd.stdout(Stdio::from(log.try_clone().unwrap())).stderr(Stdio::from(log));
    let child = cmd.spawn().unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    Proxy { child, dir }
}

/// Caddy with the example Caddyfile: every site on `https_port` with a
/// certificate from Caddy's own local CA.
fn caddy(domain: &str, passcode: SocketAddr, apps: [SocketAddr; 2], https_port: u16) -> Proxy {
    let dir = std::env::temp_dir().join(format!("passcode-caddy-{}", app::domain::random_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let globals = format!(
        "{{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n\thttp_port {}\n\thttps_port {https_port}\n\tstorage file_system {}\n}}\n\n",
        free_port(),
        dir.join("data").display()
    );
    let config = globals + &render(&docs("Caddyfile"), domain, passcode, apps);
    std::fs::write(dir.join("Caddyfile"), config).unwrap();
    let mut cmd = Command::new(binary("caddy"));
    cmd.args(["run", "--adapter", "caddyfile", "--config"])
        .arg(dir.join("Caddyfile"))
        .env("HOME", &dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"));
    start(cmd, dir)
}

/// nginx with the example server blocks, rendered once per site (a domain
/// and its own Passcode), and a self-signed certificate for them.
fn nginx(sites: &[(&str, SocketAddr)], apps: [SocketAddr; 2], https_port: u16, extra: &str) -> Proxy {
    let dir = std::env::temp_dir().join(format!("passcode-nginx-{}", app::domain::random_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let names: Vec<String> = sites.iter().flat_map(|(d, _)| [format!("DNS:{d}"), format!("DNS:*.{d}")]).collect();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=passcode test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .arg("-addext")
        .arg(format!("subjectAltName={}", names.join(",")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl makes the test certificate");
    assert!(status.success());
    let mut servers = String::new();
    for (domain, passcode) in sites {
        servers += &render(&docs("nginx.conf"), domain, *passcode, apps)
            .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{https_port} ssl;"))
            .replace(&format!("/etc/ssl/{domain}.crt"), &cert.display().to_string())
            .replace(&format!("/etc/ssl/{domain}.key"), &key.display().to_string());
    }
    let d = dir.display();
    let config = format!(
        "daemon off;\nuser root;\npid {d}/nginx.pid;\nerror_log stderr warn;\nevents {{}}\nhttp {{\n  access_log off;\n  \
         client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{servers}\n{extra}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
    let mut cmd = Command::new(binary("nginx"));
    cmd.arg("-p").arg(&dir).arg("-c").arg(dir.join("nginx.conf"));
    start(cmd, dir)
}

/// The app behind the proxy: answers every request with the headers it got.
async fn echo_app() -> SocketAddr {
    use axum::http::HeaderMap;
    async fn echo(uri: axum::http::Uri, headers: HeaderMap) -> axum::Json<Value> {
        let get = |name: &str| {
            let all: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
            if all.is_empty() { Value::Null } else { Value::String(all.join(", ")) }
        };
        axum::Json(serde_json::json!({
            "uri": uri.to_string(),
            "host": get("host"),
            "remote_user": get("remote-user"),
            "remote_email": get("remote-email"),
            "remote_phone": get("remote-phone"),
        }))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(echo)).await });
    addr
}

/// A browser-ish client from `ip` that reaches `hosts` at the proxy and
/// accepts its test certificates. Cookies by hand (a jar of its own).
fn client(hosts: &[String], port: u16, ip: &str) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .no_proxy()
        .local_address(ip.parse::<IpAddr>().unwrap());
    for host in hosts {
        builder = builder.resolve(host, SocketAddr::from(([127, 0, 0, 1], port)));
    }
    builder.build().unwrap()
}

/// Waits until the proxy answers on `url`.
async fn wait_for(proxy: &mut Proxy, client: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if client.get(url).send().await.is_ok() {
            return;
        }
        if let Ok(Some(status)) = proxy.child.try_wait() {
            panic!("the proxy exited ({status}):\n{}", proxy.log());
        }
        assert!(Instant::now() < deadline, "the proxy did not answer {url} within 30 s:\n{}", proxy.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A deployment at `https://login.<domain>:<port>` for every host under
/// `domain`, reached through a proxy on this machine.
async fn deployment(domain: &str, port: u16, extra: &[(&str, &str)]) -> TestApp {
    let public = format!("https://login.{domain}:{port}");
    let mut env = vec![
        ("PASSCODE_PUBLIC_URL", public.as_str()),
        ("PASSCODE_COOKIE_DOMAIN", domain),
        ("PASSCODE_TRUSTED_PROXIES", "127.0.0.1"),
        ("PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION", "true"),
        ("PASSCODE_SMS_PROVIDER", "outbox"),
        // The real limits, so that forged addresses would show.
        ("PASSCODE_IP_SENDS_PER_10_MIN", "10"),
        ("PASSCODE_IP_SEND_BURST", "5"),
    ];
    env.extend_from_slice(extra);
    spawn_app_with(&env).await
}

/// The client's attack on the per-IP limits: 30 code requests, each to a new
/// address and each claiming a new client address in a header it wrote
/// itself (10 of each kind). Behind a proxy we trust, only the proxy's own
/// record of the client counts: at most the burst gets through, and every
/// row of the audit trail names the real client.
async fn forged_addresses_are_not_believed(app: &TestApp, client: &reqwest::Client, login: &str, label: &str) {
    let mut accepted = 0;
    for i in 0..30u8 {
        let forged = format!("198.51.100.{}", i + 1);
        let (name, value) = match i % 3 {
            0 => ("forwarded", format!("for={forged}")),
            1 => ("x-real-ip", forged.clone()),
            _ => ("x-forwarded-for", forged.clone()),
        };
        let res = client
            .post(format!("{login}/api/request_code"))
            .header(name, value)
            .form(&[("identifier", format!("forged{i}.{label}@example.com"))])
            .send()
            .await
            .unwrap();
        match res.status() {
            StatusCode::OK => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{label}: {other}: {:?}", res.text().await),
        }
    }
    assert_eq!(accepted, 5, "{label}: the burst of one client, however many addresses it claims");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE ip <> '{CLIENT_IP}' AND destination_masked LIKE '%example.com'"
        ))
        .await,
        0,
        "{label}: every row names the real client"
    );
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM audit_events WHERE ip = '{CLIENT_IP}' AND kind = 'code_sent'")).await,
        5,
        "{label}"
    );
}

/// Signs in at the proxy's sign-in host with `identifier` (asking to go
/// back to `rd`); returns where the sign-in sent the browser and the session
/// cookie (`name=value`), checking it is the domain cookie.
async fn sign_in_via(
    app: &TestApp,
    client: &reqwest::Client,
    domain: &str,
    port: u16,
    identifier: &str,
    normalised: &str,
    rd: Option<&str>,
) -> (String, String) {
    let login = format!("https://login.{domain}:{port}");
    let pairs = |res: &reqwest::Response| -> Vec<String> {
        res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
    };
    let mut form = vec![("identifier", identifier)];
    form.extend(rd.map(|rd| ("rd", rd)));
    let res =
        client.post(format!("{login}/api/request_code")).header("origin", &login).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    let jar: Vec<String> = pairs(&res).iter().map(|l| l.split(';').next().unwrap().to_owned()).collect();
    let code = app.latest_code(normalised).await;
    let res = client
        .post(format!("{login}/api/verify_code"))
        .header("origin", &login)
        .header("cookie", jar.join("; "))
        .form(&[("code", code)])
        .send()
        .await
        .unwrap();
    let landed = res.headers()["location"].to_str().unwrap().to_owned();
    let session = pairs(&res).into_iter().find(|l| l.starts_with("__Secure-passcode_session=")).unwrap();
    assert!(session.to_ascii_lowercase().contains(&format!("domain={domain}")), "{session}");
    (landed, session.split(';').next().unwrap().to_owned())
}

/// A person opens a protected page: sent to sign in and back, the app is
/// told who it is (and nothing a client wrote), the second app needs no
/// new sign-in, scripts get 401.
async fn protects_apps(app: &TestApp, client: &reqwest::Client, domain: &str, port: u16) {
    let login = format!("https://login.{domain}:{port}");
    let wiki = format!("https://wiki.{domain}:{port}");
    let grafana = format!("https://grafana.{domain}:{port}");
    let page = "text/html,application/xhtml+xml,*/*;q=0.8";
    let target = format!("{wiki}/page?x=1&y=two%20words");

    // Not signed in: a page load goes to sign in, with the way back.
    let res = client.get(&target).header("accept", page).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND, "{domain}");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let rd: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
    assert_eq!(location, format!("{login}/sign-in?rd={rd}"), "{domain}");
    // A script: 401, not a redirect.
    let res = client.get(&target).header("accept", "*/*").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{domain}");

    // Sign in at the sign-in page, as the redirect says, and come back.
    let res = client.get(&location).header("accept", page).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("name=\"rd\""));
    let address = format!("jane.{domain}@example.com");
    let (landed, session) = sign_in_via(app, client, domain, port, &address, &address, Some(&target)).await;
    assert_eq!(landed, target, "back at the exact page");

    // The app gets the person, whatever the client wrote in the same names.
    let forged = [("remote-user", "admin"), ("remote-email", "boss@example.com"), ("remote-phone", "+15005550006")];
    let mut req = client.get(&target).header("accept", page).header("cookie", &session);
    for (k, v) in forged {
        req = req.header(k, v);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{domain}");
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["uri"], "/page?x=1&y=two%20words");
    assert_eq!(seen["remote_email"], address.as_str(), "{seen}");
    // Never what the client wrote: absent (nginx), or empty (Caddy 2.6
    // copies the empty header Passcode sends for what doesn't apply).
    assert!(matches!(&seen["remote_phone"], Value::Null) || seen["remote_phone"] == "", "{seen}");
    let user_id = seen["remote_user"].as_str().unwrap().to_owned();
    assert_eq!(app.count(&format!("SELECT COUNT(*) FROM users WHERE id = '{user_id}'")).await, 1);

    // The second app: the same sign-in.
    let res = client.get(format!("{grafana}/")).header("accept", page).header("cookie", &session).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["remote_user"], user_id.as_str());

    // A phone number's account: Remote-Phone, and no email.
    let (_, phone) = sign_in_via(app, client, domain, port, "+44 7911 123459", "+447911123459", None).await;
    let mut req = client.get(format!("{grafana}/")).header("accept", page).header("cookie", &phone);
    for (k, v) in forged {
        req = req.header(k, v);
    }
    let seen: Value = req.send().await.unwrap().json().await.unwrap();
    assert_eq!(seen["remote_phone"], "+447911123459", "{seen}");
    assert!(matches!(&seen["remote_email"], Value::Null) || seen["remote_email"] == "", "{seen}");
    assert_ne!(seen["remote_user"], "admin");
}

async fn refuses_by_the_rules(client: &reqwest::Client, app: &TestApp, domain: &str, port: u16) {
    let wiki = format!("https://wiki.{domain}:{port}");
    let who = format!("eve.{domain}@elsewhere.example");
    let (_, session) = sign_in_via(app, client, domain, port, &who, &who, None).await;
    let res = client
        .get(format!("{wiki}/secret"))
        .header("accept", "text/html")
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{domain}");
    let page = res.text().await.unwrap();
    assert!(page.contains(&who), "{domain}: {page}");
    assert!(page.contains("Sign in with another address"), "{domain}: {page}");
    // A full URL in the request line names the wiki, a Host header names an
    // app this person may open: the proxy serves the wiki, so the question
    // must be about the wiki.
    let request = format!(
        "GET https://wiki.{domain}:{port}/secret HTTP/1.1\r\nHost: grafana.{domain}:{port}\r\n\
         Cookie: {session}\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
    );
    let status = raw_tls(port, &format!("wiki.{domain}"), request).await;
    assert!(status.starts_with("HTTP/1.1 403"), "{domain}: the wiki answered {status:?} for a Host naming another app");
    // The forward-auth endpoints are not the world's to ask.
    for path in ["/auth/forward", "/auth/request"] {
        let res = client.get(format!("https://login.{domain}:{port}{path}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{domain}{path}");
    }
}

/// Sends `request` as it is over TLS to the proxy (openssl s_client), for
/// what an HTTP library won't send; returns the status line.
async fn raw_tls(port: u16, server_name: &str, request: String) -> String {
    let server_name = server_name.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut child = Command::new("openssl")
            .args(["s_client", "-quiet", "-ign_eof", "-connect", &format!("127.0.0.1:{port}")])
            .args(["-servername", &server_name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl runs");
        child.stdin.take().unwrap().write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        let _ = child.wait();
        out.lines().next().unwrap_or_default().to_owned()
    })
    .await
    .unwrap()
}

/// Only eve is kept out of the wiki; the grafana host takes anyone.
const RULES: &str = "default = \"signed-in\"\n\n[[rule]]\nhost = \"wiki.DOMAIN\"\nallow = [\"@example.com\"]\n";

fn rules_file(domain: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("passcode-rules-{}.toml", app::domain::random_id()));
    std::fs::write(&path, RULES.replace("DOMAIN", domain)).unwrap();
    path
}

#[tokio::test]
async fn behind_caddy() {
    let domain = "caddy.test";
    let apps = [echo_app().await, echo_app().await];
    let port = free_port();
    let rules = rules_file(domain);
    let app = deployment(domain, port, &[("PASSCODE_ACCESS_FILE", rules.to_str().unwrap())]).await;
    let mut proxy = caddy(domain, app.addr, apps, port);
    let hosts: Vec<String> = ["login", "wiki", "grafana"].iter().map(|h| format!("{h}.{domain}")).collect();
    let client = client(&hosts, port, CLIENT_IP);
    wait_for(&mut proxy, &client, &format!("https://login.{domain}:{port}/healthz")).await;
    forged_addresses_are_not_believed(&app, &client, &format!("https://login.{domain}:{port}"), "caddy").await;
    // Another client, in another network, for people signing in: the first
    // spent its allowance and its /24's.
    let person = self::client(&hosts, port, "127.0.1.4");
    protects_apps(&app, &person, domain, port).await;
    refuses_by_the_rules(&person, &app, domain, port).await;
    let _ = std::fs::remove_file(rules);
}

#[tokio::test]
async fn behind_nginx() {
    let (domain, real_ip_domain) = ("nginx.test", "realip.test");
    let apps = [echo_app().await, echo_app().await];
    let port = free_port();
    let rules = rules_file(domain);
    let app = deployment(domain, port, &[("PASSCODE_ACCESS_FILE", rules.to_str().unwrap())]).await;
    // The same blocks for a second deployment that reads X-Real-IP, which
    // the example sets too.
    let real_ip = deployment(real_ip_domain, port, &[("PASSCODE_FORWARDED_HEADER", "x-real-ip")]).await;
    // And a development server behind nginx's bare proxy_pass, which adds no
    // forwarding header and sends its own Host (127.0.0.1:PORT) over HTTP/1.0.
    let dev = spawn_app().await;
    let bare_port = free_port();
    let bare =
        format!("server {{\n  listen 127.0.0.1:{bare_port};\n  location / {{ proxy_pass http://{}; }}\n}}\n", dev.addr);
    let mut proxy = nginx(&[(domain, app.addr), (real_ip_domain, real_ip.addr)], apps, port, &bare);
    let hosts: Vec<String> = [domain, real_ip_domain]
        .iter()
        .flat_map(|d| ["login", "wiki", "grafana"].map(|h| format!("{h}.{d}")))
        .collect();
    let client = client(&hosts, port, CLIENT_IP);
    wait_for(&mut proxy, &client, &format!("https://login.{domain}:{port}/healthz")).await;
    let through_bare = |path: &str| client.get(format!("http://127.0.0.1:{bare_port}{path}")).send();
    assert_eq!(through_bare("/sign-in").await.unwrap().status(), StatusCode::OK, "the proxy works");
    assert_eq!(
        through_bare("/dev/outbox.json").await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "the outbox is never shown through a proxy, even one that says nothing"
    );
    assert_eq!(dev.client.get(dev.url("/dev/outbox.json")).send().await.unwrap().status(), StatusCode::OK);
    forged_addresses_are_not_believed(&app, &client, &format!("https://login.{domain}:{port}"), "nginx").await;
    forged_addresses_are_not_believed(
        &real_ip,
        &client,
        &format!("https://login.{real_ip_domain}:{port}"),
        "nginx-real-ip",
    )
    .await;
    // Another client, in another network, for people signing in: the first
    // spent its allowance and its /24's.
    let person = self::client(&hosts, port, "127.0.1.4");
    protects_apps(&app, &person, domain, port).await;
    refuses_by_the_rules(&person, &app, domain, port).await;
    let _ = std::fs::remove_file(rules);
}

/// Traefik is not packaged for Debian, so its example can't run here: it
/// must at least name the endpoint and the headers the others use.
#[test]
fn the_traefik_example_names_the_same_endpoint_and_headers() {
    let labels = docs("traefik.yml");
    assert!(labels.contains("forwardauth.address=http://passcode:3000/auth/forward"), "{labels}");
    assert!(labels.contains("forwardauth.authResponseHeaders=Remote-User,Remote-Email,Remote-Phone"), "{labels}");
    assert!(labels.contains("routers.wiki.middlewares=passcode"), "{labels}");
    for var in ["PASSCODE_PUBLIC_URL", "PASSCODE_COOKIE_DOMAIN", "PASSCODE_TRUSTED_PROXIES"] {
        assert!(labels.contains(var), "{var} in {labels}");
    }
}

/// docs/deploying.md, "Protect an app", shows excerpts of the files these
/// tests run: each fenced example there must be, word for word, in its file.
#[test]
fn the_docs_show_the_files_the_tests_run() {
    let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deploying.md")).unwrap();
    let section = page.split("## Protect an app").nth(1).unwrap().split("\n## ").next().unwrap();
    let mut checked = 0;
    for (fence, file) in [("```caddyfile\n", "Caddyfile"), ("```nginx\n", "nginx.conf"), ("```yaml\n", "traefik.yml")] {
        let example =
            section.split(fence).nth(1).unwrap_or_else(|| panic!("no {fence} example")).split("```").next().unwrap();
        assert!(example.lines().count() > 5, "{file}: {example}");
        assert!(docs(file).contains(example), "docs/deploying.md's {file} example is not the tested file:\n{example}");
        checked += 1;
    }
    assert_eq!(checked, 3);
}
