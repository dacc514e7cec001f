//! The metrics listener (`PASSCODE_METRICS_ADDR`), on a real server process
//! of its own: the `metrics` facade has one recorder per process, so the
//! counters seen here are this scenario's alone. Also: the metrics that
//! `docs/metrics.md` lists and the starter Grafana dashboard queries are
//! exactly the ones `app::metrics::CATALOGUE` names.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::StatusCode;

use crate::helpers::{TestApp, TestDatabase};
use crate::two_instances::{Browser, latest_code, start};

/// One scrape: each series (its name and labels, sorted) with its value.
type Scrape = BTreeMap<String, f64>;

fn series(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<_> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

/// Parses the Prometheus text format (`name{a="1",b="2"} 3`), keying each
/// series by its name and its labels in sorted order.
fn parse(text: &str) -> Scrape {
    let mut out = Scrape::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (series_part, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("malformed line {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("malformed value in {line:?}"));
        let (name, labels) = match series_part.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series_part, ""),
        };
        let pairs: Vec<(&str, &str)> = labels
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k, v.trim_matches('"'))
            })
            .collect();
        out.insert(series(name, &pairs), value);
    }
    out
}

async fn scrape(url: &str) -> (String, Scrape) {
    let res = reqwest::get(url).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = res.text().await.unwrap();
    let parsed = parse(&text);
    (text, parsed)
}

/// The catalogue's names, and a metric name as it appears in the text
/// format or a query (a histogram's `_bucket`, `_sum` and `_count`) folded
/// back to the catalogue's.
fn catalogue() -> BTreeSet<&'static str> {
    app::metrics::CATALOGUE.iter().map(|m| m.name).collect()
}

fn base_name(name: &str) -> &str {
    let histograms: Vec<_> =
        app::metrics::CATALOGUE.iter().filter(|m| m.kind == app::metrics::Kind::Histogram).map(|m| m.name).collect();
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && histograms.contains(&base)
        {
            return base;
        }
    }
    name
}

#[tokio::test]
async fn counters_move_by_exactly_what_happened_and_only_the_metrics_listener_has_them() {
    let dir = std::env::temp_dir().join(format!("passcode-metrics-{}", app::domain::random_id()));
    let db = TestDatabase::create(&dir).await;
    let server = start(&dir, &db.url, &[("PASSCODE_METRICS_ADDR", "127.0.0.1:0")]);
    let metrics_url = {
        let log = server.log.lock().unwrap();
        let line = log.iter().find(|l| l.contains("metrics on http://")).expect("the log says where metrics are");
        line.split("metrics on ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned()
    };
    assert!(metrics_url.starts_with("http://127.0.0.1:") && metrics_url.ends_with("/metrics"), "{metrics_url}");

    // The public listener has no metrics; the metrics listener nothing else.
    let public = reqwest::get(format!("{}/metrics", server.base)).await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    assert!(!public.text().await.unwrap().contains("passcode_"), "no metric on the public listener");
    let other = reqwest::get(metrics_url.replace("/metrics", "/")).await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);

    let (_, before) = scrape(&metrics_url).await;

    // A sign-in with one refused send and one wrong code on the way.
    let browser = Browser::new();
    let to = "metrics@example.com";
    let res = browser.post(&server.base, "/api/request_code", &[("identifier", to)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = browser.post(&server.base, "/api/request_code", &[("identifier", to)]).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "inside the cooldown");
    let code = latest_code(&server.base, to).await;
    let res = browser.post(&server.base, "/api/verify_code", &[("code", &TestApp::wrong(&code))]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = browser.post(&server.base, "/api/verify_code", &[("code", &code)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(browser.cookies.get(app::web::SESSION_COOKIE).is_some(), "signed in");

    let (text, after) = scrape(&metrics_url).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        let key = series(name, labels);
        let (b, a) = (before.get(&key).copied().unwrap_or(0.0), after.get(&key).copied().unwrap_or(0.0));
        assert!(after.contains_key(&key), "{key} is exported:\n{text}");
        a - b
    };
    use app::metrics as m;
    let email = [("channel", "email")];
    assert_eq!(moved(m::CODES_REQUESTED, &email), 2.0);
    assert_eq!(moved(m::CODES_SENT, &email), 1.0);
    assert_eq!(moved(m::CODES_REFUSED, &[("channel", "email"), ("reason", "cooldown")]), 1.0);
    assert_eq!(moved(m::VERIFICATIONS, &[("via", "code"), ("outcome", "wrong")]), 1.0);
    assert_eq!(moved(m::VERIFICATIONS, &[("via", "code"), ("outcome", "signed_in")]), 1.0);
    assert_eq!(moved(m::SIGN_INS, &[("method", "code")]), 1.0);
    assert_eq!(moved(m::DELIVERIES, &[("channel", "email"), ("outcome", "sent")]), 1.0);
    assert_eq!(moved(&format!("{}_count", m::DELIVERY_DURATION), &email), 1.0);
    // Nothing else moved in those counters: no other reason, outcome or
    // method was counted on the way.
    for name in [m::CODES_REFUSED, m::VERIFICATIONS, m::SIGN_INS, m::CODES_WITHHELD, m::SECOND_STEP_ANSWERS] {
        let total =
            |s: &Scrape| s.iter().filter(|(k, _)| k.starts_with(&format!("{name}{{"))).map(|(_, v)| v).sum::<f64>();
        let expected = match name {
            n if n == m::VERIFICATIONS => 2.0,
            n if n == m::CODES_REFUSED || n == m::SIGN_INS => 1.0,
            _ => 0.0,
        };
        assert_eq!(total(&after) - total(&before), expected, "{name}");
    }
    // Requests by route template, method and status class.
    let route =
        |r: &str, status: &str| moved(m::HTTP_REQUESTS, &[("route", r), ("method", "POST"), ("status", status)]);
    assert_eq!(route("/api/request_code", "2xx"), 1.0);
    assert_eq!(route("/api/request_code", "4xx"), 1.0);
    assert_eq!(route("/api/verify_code", "2xx"), 1.0);
    assert_eq!(route("/api/verify_code", "4xx"), 1.0);
    assert!(moved(&format!("{}_count", m::HASH_WAIT), &[]) >= 3.0, "a turn at hashing for each code hashed or checked");
    // Sampled levels are there from the start.
    assert!(after.get(&series(m::DB_MAX_CONNECTIONS, &[])).is_some_and(|v| *v >= 1.0), "{text}");
    assert!(after.contains_key(&series(m::SESSIONS_LIVE, &[])), "{text}");
    assert!(after.contains_key(&series(m::DB_CONNECTIONS, &[("state", "idle")])), "{text}");

    // Bounded labels: no address, code or IP anywhere, and every metric
    // exported is in the catalogue, with its help text.
    for secret in [to, "example.com", code.as_str(), "127.0.0.1"] {
        assert!(!text.contains(secret), "{secret:?} in the metrics:\n{text}");
    }
    let names = catalogue();
    for key in after.keys() {
        let name = base_name(key.split('{').next().unwrap());
        assert!(names.contains(name), "{name} is exported but not in app::metrics::CATALOGUE");
        assert!(text.contains(&format!("# HELP {name} ")), "{name} has its help text");
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every PromQL expression in the dashboard names only metrics of the
/// catalogue, and every metric of the catalogue is on some panel.
#[test]
fn the_starter_dashboard_queries_every_metric_and_only_those() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/grafana-dashboard.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    fn walk<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v.as_str()) {
                        ("expr", Some(expr)) => out.push(expr),
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&dashboard, &mut exprs);
    assert!(exprs.len() >= 10, "the dashboard has its panels: {exprs:?}");
    let names = catalogue();
    let mut queried = BTreeSet::new();
    for expr in &exprs {
        let mut rest = *expr;
        while let Some(at) = rest.find("passcode_") {
            let word: String =
                rest[at..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
            let name = base_name(&word).to_owned();
            assert!(
                names.contains(name.as_str()),
                "the dashboard queries {word}, which Passcode does not export: {expr}"
            );
            queried.insert(name);
            rest = &rest[at + word.len()..];
        }
    }
    let missing: Vec<_> = names.iter().filter(|n| !queried.contains(**n)).collect();
    assert!(missing.is_empty(), "metrics on no panel of the dashboard: {missing:?}");
}

/// `docs/metrics.md` has a row for every metric, with its kind and labels,
/// and no row for a metric that does not exist.
#[test]
fn the_metrics_page_lists_every_metric_with_its_kind_and_labels() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/metrics.md");
    let page = std::fs::read_to_string(path).unwrap();
    let rows: BTreeMap<String, (String, String)> = page
        .lines()
        .filter(|l| l.starts_with("| `passcode_"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let labels: Vec<&str> =
                cells[3].split(',').map(|c| c.trim().trim_matches('`')).filter(|c| !c.is_empty()).collect();
            (cells[1].trim_matches('`').to_owned(), (cells[2].to_owned(), labels.join(",")))
        })
        .collect();
    let expected: BTreeMap<String, (String, String)> = app::metrics::CATALOGUE
        .iter()
        .map(|m| (m.name.to_owned(), (m.kind.as_str().to_owned(), m.labels.join(","))))
        .collect();
    assert_eq!(rows, expected, "docs/metrics.md and app::metrics::CATALOGUE disagree");
}
