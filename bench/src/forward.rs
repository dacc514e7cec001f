//! Forward-auth checks as a reverse proxy makes them: `GET /auth/forward`
//! with the original request in `X-Forwarded-*` and the browser's session
//! cookie, over HTTP/1.1 connections kept open, one per worker.

use bytes::Bytes;
use http_body_util::Empty;
use hyper::client::conn::http1::SendRequest;
use tokio::sync::Mutex;

pub struct Checker {
    /// One connection per worker (the lock is never contended; it only
    /// lets a shared `Arc` hand out `&mut`).
    connections: Vec<Mutex<SendRequest<Empty<Bytes>>>>,
    /// `Cookie` header values, `name=value`, one per signed-in browser.
    sessions: Vec<String>,
    authority: String,
}

impl Checker {
    pub async fn connect(url: &url::Url, workers: usize, sessions: Vec<String>) -> anyhow::Result<Self> {
        let addr =
            url.socket_addrs(|| Some(80))?.into_iter().next().ok_or_else(|| anyhow::anyhow!("{url} has no address"))?;
        let mut connections = Vec::with_capacity(workers);
        for _ in 0..workers {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            connections.push(Mutex::new(sender));
        }
        Ok(Self { connections, sessions, authority: addr.to_string() })
    }

    /// Check number `i`, on worker `worker`'s connection.
    pub async fn check(&self, worker: usize, i: usize) -> super::Outcome {
        let session = &self.sessions[i % self.sessions.len()];
        let req = hyper::Request::get("/auth/forward")
            .header("host", &self.authority)
            .header("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
            .header("cookie", session)
            .header("x-forwarded-method", "GET")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "wiki.bench.example.com")
            .header("x-forwarded-uri", "/page?id=42")
            .header("x-forwarded-for", "203.0.113.7")
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let mut sender = self.connections[worker].lock().await;
        sender.ready().await.map_err(|_| "connection closed".to_owned())?;
        let res = sender.send_request(req).await.map_err(|_| "connection error".to_owned())?;
        drop(sender);
        let (parts, body) = res.into_parts();
        // Read to the end, so the connection is ready for the next one.
        http_body_util::BodyExt::collect(body).await.map_err(|_| "connection error".to_owned())?;
        match (parts.status.as_u16(), parts.headers.contains_key("remote-user")) {
            (200, true) => Ok(None),
            (200, false) => Err("200 WITHOUT REMOTE-USER".into()),
            (status, _) => Err(status.to_string()),
        }
    }
}
