//! Served like a production site: the release build's precompressed copies
//! by `Accept-Encoding`, names that change with the content and are cached
//! for a year, pages compressed on the fly and never kept by a shared cache.

use std::io::{Read, Write};
use std::path::PathBuf;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, ETAG, IF_NONE_MATCH, VARY};

use crate::helpers::{TestApp, WASM, release_like_site, spawn_app, spawn_app_with, try_spawn_app_with};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The value of `attr` on the first `<link rel="{rel}" …>` of the page.
fn link(html: &str, rel: &str) -> String {
    let start = html.find(&format!(r#"rel="{rel}""#)).unwrap_or_else(|| panic!("no {rel} link in {html}"));
    let tag = &html[html[..start].rfind('<').unwrap()..];
    let tag = &tag[..tag.find('>').unwrap()];
    let href = &tag[tag.find(r#"href=""#).unwrap() + 6..];
    href[..href.find('"').unwrap()].to_owned()
}

/// The script the islands' loader imports.
fn loaded_script(html: &str) -> String {
    let from = html.find(r#"import init from ""#).unwrap_or_else(|| panic!("no islands loader in {html}")) + 18;
    html[from..from + html[from..].find('"').unwrap()].to_owned()
}

struct Urls {
    script: String,
    wasm: String,
    stylesheet: String,
    icon: String,
}

async fn urls(app: &TestApp) -> Urls {
    let html = app.get("/").await.text().await.unwrap();
    Urls {
        script: loaded_script(&html),
        wasm: link(&html, "preload"),
        stylesheet: link(&html, "stylesheet"),
        icon: link(&html, "icon"),
    }
}

async fn fetch(app: &TestApp, path: &str, accept_encoding: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(value) = accept_encoding {
        req = req.header(ACCEPT_ENCODING, value);
    }
    req.send().await.unwrap()
}

fn header(res: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    res.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

fn brotli_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096).read_to_end(&mut out).expect("valid brotli");
    out
}

fn gzip_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("valid gzip");
    out
}

/// `/pkg/passcode.<16 hex digits>.<extension>` and the like.
fn is_hashed(url: &str, prefix: &str, extension: &str) -> bool {
    url.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(extension))
        .is_some_and(|hash| hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()))
}

fn site_of(app: &TestApp) -> PathBuf {
    app.data_dir.join("site")
}

#[tokio::test]
async fn every_asset_comes_as_the_encoding_asked_for_and_is_kept_for_a_year() {
    let app = spawn_app().await;
    let urls = urls(&app).await;
    assert!(is_hashed(&urls.script, "/pkg/passcode.", ".js"), "{}", urls.script);
    assert!(is_hashed(&urls.wasm, "/pkg/passcode.", ".wasm"), "{}", urls.wasm);
    assert!(is_hashed(&urls.stylesheet, "/pkg/passcode.", ".css"), "{}", urls.stylesheet);
    assert!(is_hashed(&urls.icon, "/favicon.", ".svg"), "{}", urls.icon);

    let site = site_of(&app);
    for (url, file) in [
        (&urls.script, "pkg/passcode.js"),
        (&urls.wasm, "pkg/passcode.wasm"),
        (&urls.stylesheet, "pkg/passcode.css"),
        (&urls.icon, "favicon.svg"),
    ] {
        let raw = std::fs::read(site.join(file)).unwrap();

        let res = fetch(&app, url, Some("gzip, deflate, br, zstd")).await;
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        assert_eq!(header(&res, CONTENT_ENCODING).as_deref(), Some("br"), "{url}");
        assert_eq!(header(&res, CACHE_CONTROL).as_deref(), Some(IMMUTABLE), "{url}");
        assert_eq!(header(&res, VARY).as_deref(), Some("accept-encoding"), "{url}");
        let body = res.bytes().await.unwrap();
        assert!(body.len() < raw.len(), "{url}: the copy is smaller");
        assert_eq!(brotli_decode(&body), raw, "{url}");

        let res = fetch(&app, url, Some("br;q=0, gzip")).await;
        assert_eq!(header(&res, CONTENT_ENCODING).as_deref(), Some("gzip"), "{url}");
        assert_eq!(gzip_decode(&res.bytes().await.unwrap()), raw, "{url}");

        // No Accept-Encoding (a proxy that compresses by itself asks this
        // way): the file as it is, with the same cache rules.
        let res = fetch(&app, url, None).await;
        assert_eq!(header(&res, CONTENT_ENCODING), None, "{url}");
        assert_eq!(header(&res, CACHE_CONTROL).as_deref(), Some(IMMUTABLE), "{url}");
        assert_eq!(header(&res, VARY).as_deref(), Some("accept-encoding"), "{url}");
        assert_eq!(res.bytes().await.unwrap(), raw, "{url}");
    }
    let res = fetch(&app, &urls.wasm, None).await;
    assert_eq!(header(&res, reqwest::header::CONTENT_TYPE).as_deref(), Some("application/wasm"));

    // A HEAD is answered with the same headers.
    let res = app.client.head(app.url(&urls.wasm)).header(ACCEPT_ENCODING, "br").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, CONTENT_ENCODING).as_deref(), Some("br"));
    assert_eq!(header(&res, CACHE_CONTROL).as_deref(), Some(IMMUTABLE));
}

#[tokio::test]
async fn a_name_changes_when_its_file_does_and_only_then() {
    let first = spawn_app().await;
    let before = urls(&first).await;

    // Another instance of the same build names everything alike.
    let same = spawn_app().await;
    let again = urls(&same).await;
    assert_eq!((&before.script, &before.wasm, &before.stylesheet), (&again.script, &again.wasm, &again.stylesheet));

    // A new wasm: new names for it and its loader (built together), the
    // stylesheet keeps its name, and the old wasm name is gone.
    let site = TempSite::new();
    release_like_site(&site.0, b"\0asm\x01\0\0\0 a different build of the front end");
    let second = spawn_app_with(&[("LEPTOS_SITE_ROOT", site.path())]).await;
    let after = urls(&second).await;
    assert_ne!(after.wasm, before.wasm);
    assert_ne!(after.script, before.script);
    assert_eq!(after.stylesheet, before.stylesheet);
    assert_eq!(fetch(&second, &after.wasm, Some("br")).await.status(), StatusCode::OK);
    assert_eq!(fetch(&second, &before.wasm, Some("br")).await.status(), StatusCode::NOT_FOUND);

    // In development a rebuilt front end (`cargo leptos watch`) is picked
    // up by the running server; the copies of the old wasm no longer match.
    let rebuilt = b"\0asm\x01\0\0\0 rebuilt while the server runs";
    std::fs::write(site_of(&first).join("pkg/passcode.wasm"), rebuilt).unwrap();
    let now = urls(&first).await;
    assert_ne!(now.wasm, before.wasm);
    assert_eq!(now.stylesheet, before.stylesheet);
    let res = fetch(&first, &now.wasm, Some("br")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, CONTENT_ENCODING), None);
    assert_eq!(res.bytes().await.unwrap(), &rebuilt[..]);
}

#[tokio::test]
async fn without_a_matching_compressed_copy_the_file_goes_out_raw() {
    let app = spawn_app().await;
    let site = site_of(&app);
    // A debug build writes no copies; a copy left from another build must
    // not stand in for a file it does not match.
    std::fs::remove_file(site.join("pkg/passcode.wasm.br")).unwrap();
    std::fs::remove_file(site.join("pkg/passcode.wasm.gz")).unwrap();
    let mut stale = Vec::new();
    brotli::CompressorWriter::new(&mut stale, 4096, 5, 22).write_all(b"body { color: red }").unwrap();
    std::fs::write(site.join("pkg/passcode.css.br"), stale).unwrap();
    let restarted = spawn_app_with(&[("LEPTOS_SITE_ROOT", site.to_str().unwrap())]).await;
    let urls = urls(&restarted).await;

    let res = fetch(&restarted, &urls.wasm, Some("br, gzip")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, CONTENT_ENCODING), None);
    assert_eq!(header(&res, CACHE_CONTROL).as_deref(), Some(IMMUTABLE));
    assert_eq!(res.bytes().await.unwrap(), WASM);

    let css = std::fs::read(site.join("pkg/passcode.css")).unwrap();
    let res = fetch(&restarted, &urls.stylesheet, Some("br, gzip")).await;
    assert_eq!(header(&res, CONTENT_ENCODING).as_deref(), Some("gzip"), "the matching gzip copy, not the stale brotli");
    assert_eq!(gzip_decode(&res.bytes().await.unwrap()), css);
}

#[tokio::test]
async fn a_name_without_a_hash_is_revalidated_and_an_unchanged_file_costs_a_304() {
    let app = spawn_app().await;
    let res = fetch(&app, "/favicon.svg", Some("br")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, CACHE_CONTROL).as_deref(), Some("no-cache"));
    let etag = header(&res, ETAG).expect("an ETag");

    let res = app
        .client
        .get(app.url("/favicon.svg"))
        .header(ACCEPT_ENCODING, "br")
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&res, ETAG).as_deref(), Some(etag.as_str()));

    // The brotli bytes' tag does not validate the gzip bytes.
    let res = app
        .client
        .get(app.url("/favicon.svg"))
        .header(ACCEPT_ENCODING, "gzip")
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, CONTENT_ENCODING).as_deref(), Some("gzip"));
}

#[tokio::test]
async fn pages_are_compressed_when_asked_and_never_kept_by_a_shared_cache() {
    let app = spawn_app().await;
    for (accept, encoding) in [(Some("gzip, deflate, br"), Some("br")), (Some("gzip"), Some("gzip")), (None, None)] {
        let res = fetch(&app, "/", accept).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header(&res, CONTENT_ENCODING).as_deref(), encoding, "{accept:?}");
        assert!(header(&res, VARY).is_some_and(|v| v.contains("accept-encoding")), "{accept:?}");
        assert_eq!(header(&res, CACHE_CONTROL).as_deref(), Some("no-cache"), "{accept:?}");
        let body = res.bytes().await.unwrap();
        let html = match encoding {
            Some("br") => brotli_decode(&body),
            Some(_) => gzip_decode(&body),
            None => body.to_vec(),
        };
        // Encoded once: what decodes is the page itself.
        assert!(String::from_utf8(html).unwrap().starts_with("<!DOCTYPE html>"), "{accept:?}");
    }

    // Once the browser holds a challenge, what it is shown is its own.
    assert_eq!(app.request_code("cache@example.com").await.status(), StatusCode::OK);
    let res = app.get("/verify").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, CACHE_CONTROL).as_deref(), Some("no-store"));
    let res = app.request_code("cache@example.com").await;
    assert_eq!(header(&res, CACHE_CONTROL).as_deref(), Some("no-store"), "server-function answers");
    let res = fetch(&app, "/no-such-page", Some("br")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&res, CACHE_CONTROL).as_deref(), Some("no-cache"));
}

#[tokio::test]
async fn a_site_made_of_symbolic_links_is_served() {
    let app = spawn_app().await;
    let linked = TempSite::new();
    std::fs::create_dir_all(linked.0.join("pkg")).unwrap();
    let site = site_of(&app);
    for name in ["pkg/passcode.js", "pkg/passcode.wasm", "pkg/passcode.css", "favicon.svg", "pkg/passcode.wasm.br"] {
        std::os::unix::fs::symlink(site.join(name), linked.0.join(name)).unwrap();
    }
    let env = [
        ("PASSCODE_PUBLIC_URL", "https://login.passcode.example"),
        ("PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION", "true"),
        ("LEPTOS_SITE_ROOT", linked.path()),
    ];
    let production = try_spawn_app_with(&env).await.expect("production starts with a linked site");
    let res = fetch(&production, &urls(&production).await.wasm, Some("br")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, CONTENT_ENCODING).as_deref(), Some("br"));
    assert_eq!(brotli_decode(&res.bytes().await.unwrap()), WASM);
}

#[tokio::test]
async fn a_page_shown_with_any_cookie_but_the_device_cookie_is_never_stored() {
    let app = spawn_app().await;
    // The no-JavaScript error page's cookie (server/src/web/form_errors.rs).
    app.set_cookie("__Host-passcode_form_error", "nonce");
    let res = app.get("/").await;
    assert_eq!(header(&res, CACHE_CONTROL).as_deref(), Some("no-store"));
    app.clear_cookies();
    app.set_cookie(app::web::DEVICE_COOKIE, "not-even-valid");
    let res = app.get("/").await;
    assert_eq!(header(&res, CACHE_CONTROL).as_deref(), Some("no-cache"));
}

#[tokio::test]
async fn the_outbox_is_never_compressed() {
    // It shows codes beside addresses anyone can choose: the one page that
    // compression could turn into a guessing oracle (BREACH).
    let app = spawn_app().await;
    for to in ["outbox1@example.com", "outbox2@example.com", "outbox3@example.com"] {
        assert_eq!(app.request_code(to).await.status(), StatusCode::OK);
        app.clear_cookies();
    }
    for path in ["/dev/outbox", "/dev/outbox.json"] {
        let res = fetch(&app, path, Some("gzip, deflate, br")).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&res, CONTENT_ENCODING), None, "{path}");
        assert!(res.content_length().unwrap_or(0) > 1024, "{path}: big enough to be compressed if allowed");
        assert_eq!(header(&res, CACHE_CONTROL).as_deref(), Some("no-store"), "{path}");
    }
}

#[tokio::test]
async fn production_rules_refuse_to_start_without_a_built_front_end() {
    let empty = TempSite::new();
    let env = [
        ("PASSCODE_PUBLIC_URL", "https://login.passcode.example"),
        ("PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION", "true"),
        ("LEPTOS_SITE_ROOT", empty.path()),
    ];
    let err = try_spawn_app_with(&env).await.err().expect("no server without its front end");
    assert!(err.contains("front end is not built") && err.contains("passcode.wasm"), "{err}");

    // Development starts anyway (pages work without script or style).
    assert!(try_spawn_app_with(&[("LEPTOS_SITE_ROOT", empty.path())]).await.is_ok());
}

/// A site directory of its own, removed afterwards.
struct TempSite(PathBuf);

impl TempSite {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("passcode-site-{}", app::domain::random_id())))
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempSite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
