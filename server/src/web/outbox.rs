//! The development outbox pages: what would have been sent, newest first.
//! Mounted only while email or SMS goes to the outbox.

use axum::Json;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;

use app::auth::escape_html;
use app::delivery::OutboxEntry;
use app::web::{AppState, ForwardedHeader};

const SHOWN: i64 = 50;

/// The outbox shows every code, so only to this machine, asked directly: the
/// TCP peer must be a loopback address, the `Host` a loopback name, HTTP/1.1
/// or newer, and no forwarding header present. Anything else gets the answer
/// an unknown page gets. These catch the usual proxies on this machine that
/// nobody told us about (nginx's bare `proxy_pass` speaks HTTP/1.0; most
/// pass the browser's `Host` on), not every one: a tunnel that copies bytes
/// (`ssh -R`, a TCP-mode balancer) looks exactly like this machine, and a
/// client behind it can write `Host: localhost`. What keeps the outbox off
/// the internet is that development rules need a loopback listener and a
/// loopback public URL, and a proxy in front means production rules.
pub async fn direct_only(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if !is_direct(&req) {
        tracing::warn!("refused the dev outbox to a request that did not come straight from this machine");
        return StatusCode::NOT_FOUND.into_response();
    }
    next.run(req).await
}

fn is_direct(req: &axum::extract::Request) -> bool {
    let peer_is_local = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|c| app::web::client_ip::canonical(c.0.ip()).is_loopback());
    let host = req.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    // HTTP/1.0 is what nginx speaks to its upstreams unless told otherwise
    // (with its own Host, 127.0.0.1:PORT); no browser does.
    let browser_http = req.version() >= http::Version::HTTP_11;
    peer_is_local
        && browser_http
        && is_loopback_host(host)
        && !ForwardedHeader::ALL.iter().any(|h| req.headers().contains_key(h.name()))
}

/// A `Host` header that names this machine: `localhost`, `127.x.y.z` or
/// `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host
            .rsplit_once(':')
            .map_or(host, |(name, port)| if port.chars().all(|c| c.is_ascii_digit()) { name } else { host }),
    };
    app::domain::is_loopback_host(name)
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_this_machines_names_are_loopback_hosts() {
        for ok in ["localhost", "LOCALHOST:3000", "127.0.0.1", "127.0.0.1:3000", "127.1.2.3:80", "[::1]", "[::1]:3000"]
        {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "",
            "login.example.com",
            "localhost.example.com",
            "127.0.0.1.nip.io:3000",
            "10.0.0.1",
            "[2001:db8::1]:3000",
            "example.com:localhost",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}

async fn entries(state: &AppState) -> Result<Vec<OutboxEntry>, Response> {
    let Some(outbox) = &state.outbox else { return Err(StatusCode::NOT_FOUND.into_response()) };
    outbox.recent(SHOWN).await.map_err(|e| {
        tracing::error!(error = %e, "reading the dev outbox");
        (StatusCode::SERVICE_UNAVAILABLE, "The outbox could not be read. Try again in a moment.").into_response()
    })
}

#[derive(serde::Serialize)]
struct JsonEntry {
    to: String,
    channel: String,
    subject: String,
    body: String,
    code: String,
    /// RFC 3339, UTC.
    sent_at: String,
}

fn rfc3339(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

pub async fn outbox_json(State(state): State<AppState>) -> Response {
    match entries(&state).await {
        Ok(list) => {
            let list: Vec<JsonEntry> = list
                .into_iter()
                .map(|e| JsonEntry {
                    to: e.to,
                    channel: e.channel.as_str().to_owned(),
                    subject: e.subject,
                    body: e.body,
                    code: e.code,
                    sent_at: rfc3339(e.sent_at),
                })
                .collect();
            ([(http::header::CACHE_CONTROL, "no-store")], Json(list)).into_response()
        }
        Err(r) => r,
    }
}

/// Makes the sign-in link in an (already escaped) body clickable.
fn linkify(escaped: &str) -> String {
    let word = |w: &str| {
        if w.starts_with("http://") || w.starts_with("https://") {
            format!("<a href=\"{w}\">{w}</a>")
        } else {
            w.to_owned()
        }
    };
    escaped
        .split('\n')
        .map(|line| line.split(' ').map(word).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

pub async fn outbox_html(state: AppState, stylesheet: String) -> Response {
    let list = match entries(&state).await {
        Ok(list) => list,
        Err(r) => return r,
    };
    let mut rows = String::new();
    for e in &list {
        rows.push_str(&format!(
            "<article class=\"card outbox-message\"><p class=\"meta\">{channel} to <strong>{to}</strong> · <time>{at}</time></p>\
             <h2>{subject}</h2><p class=\"code\">Code: <output>{code}</output></p><pre>{body}</pre></article>",
            channel = e.channel.as_str(),
            to = escape_html(&e.to),
            at = rfc3339(e.sent_at),
            subject = escape_html(&e.subject),
            code = escape_html(&e.code),
            body = linkify(&escape_html(&e.body)),
        ));
    }
    if list.is_empty() {
        rows.push_str(
            "<p class=\"card\">Nothing sent yet. Request a code on the <a href=\"/sign-in\">sign-in page</a>.</p>",
        );
    }
    let css = escape_html(&stylesheet);
    // no-store: the page shows every code.
    let page = Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\"><meta http-equiv=\"refresh\" content=\"5\">\
         <title>Dev outbox · Passcode</title><link rel=\"stylesheet\" href=\"{css}\"></head>\
         <body><main class=\"page outbox\"><h1>Development outbox</h1>\
         <p class=\"lede\">Messages Passcode would have sent, newest first. This page exists only while the dev outbox is the delivery; \
         it refreshes every 5 seconds. JSON: <a href=\"/dev/outbox.json\">/dev/outbox.json</a>.</p>{rows}</main></body></html>"
    ));
    ([(http::header::CACHE_CONTROL, "no-store")], page).into_response()
}
