//! The metrics listener (`PASSCODE_METRICS_ADDR`): `/metrics` in the
//! Prometheus text format, on its own address and never on the public
//! router, and the middleware that counts and times every public request.
//! What is measured, and its names, are in `app::metrics`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: a sign-in page answers in milliseconds, an
/// SMTP handshake may take seconds.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The process-wide recorder, installed the first time metrics are asked
/// for (the `metrics` facade has one recorder per process; a second server
/// built in the same process, as the tests do, shares it).
pub fn recorder() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)?
        .install_recorder()?;
    app::metrics::describe();
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// The metrics listener's router: `GET /metrics`, and nothing else.
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move { ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()) }
        }),
    )
}

/// Histograms are folded into their buckets by `run_upkeep`; without the
/// exporter's own HTTP listener nothing else calls it.
pub fn spawn_upkeep(handle: PrometheusHandle) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    });
}

/// Counts and times every request by its route's template (never its
/// path, which can hold anything a client sends), method and status class.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    let res = next.run(req).await;
    // No route matched: static files and "not found" share one series.
    let route = route.as_deref().unwrap_or("unmatched");
    app::metrics::http_request(route, method, res.status().as_u16(), started.elapsed());
    res
}

fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
