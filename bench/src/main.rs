//! Load generator for Passcode. It starts nothing: it sends load to the
//! server at the loopback URL it is given, reads the codes from that
//! server's dev outbox table, and reads the server's CPU time and peak
//! memory from `/proc/<pid>`.
//!
//! Phases, each over every address with `--concurrency` requests in flight:
//! 1. send: `request_code` as a browser's form post (success: a pending
//!    challenge cookie);
//! 2. read the codes from the outbox table (not timed);
//! 3. wrong code: one wrong `verify_code` per challenge (success: refused,
//!    no session);
//! 4. verify: the right code (success: a session cookie);
//! 5. forward auth: `--checks` GETs of `/auth/forward` as a reverse proxy
//!    asks them, spread over the sessions of phase 4 (success: 200 with
//!    `Remote-User`). The server must trust this machine as a proxy
//!    (`PASSCODE_TRUSTED_PROXIES=127.0.0.1`). These go over plain HTTP/1.1
//!    connections of hyper's, one per worker, not through reqwest: at tens
//!    of thousands a second the load generator's own cost per request would
//!    otherwise be most of what is measured.
//!
//! Usage:
//!   passcode-bench --url http://127.0.0.1:3000 --database-url sqlite://data/passcode.db \
//!     --server-pid PID[,PID…] [--db-process postgres] [--addresses 2000] [--concurrency 32] \
//!     [--checks 200000] [--label TEXT] [--json FILE]
//! (several server pids: instances behind a proxy, their CPU summed).
//!
//! `passcode-bench faults …` is the fault run (`faults/`), and
//! `passcode-bench scale …` the scale curve over 1, 2 and 4 instances behind
//! Caddy (`scale.rs`); each starts what it measures itself.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde_json::json;

mod faults;
mod form;
mod forward;
mod proc;
mod scale;
mod services;

use form::{form_value, post, redirect_error, set_cookie, wrong_code};
use proc::{cpu_secs, cpu_secs_named, peak_rss_mib, ticks_per_sec};

const PENDING_COOKIE: &str = "__Host-passcode_pending";
const SESSION_COOKIE: &str = "__Host-passcode_session";

#[derive(Clone)]
struct Options {
    url: url::Url,
    database_url: String,
    /// Every instance's process (one, or several behind a proxy).
    server_pids: Vec<u32>,
    /// The proxy in front, whose CPU is reported apart.
    proxy_pid: Option<u32>,
    db_process: Option<String>,
    addresses: usize,
    concurrency: usize,
    /// Forward-auth checks in phase 5 (0: none).
    checks: usize,
    label: String,
    json: Option<String>,
}

fn options() -> anyhow::Result<Options> {
    let mut args = std::env::args().skip(1);
    let (mut url, mut database_url, mut server_pid, mut db_process, mut json) = (None, None, None, None, None);
    let (mut addresses, mut concurrency, mut checks, mut label) = (2000, 32, 200_000, String::new());
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => url = Some(value()?),
            "--database-url" => database_url = Some(value()?),
            "--server-pid" => {
                let pids: Result<Vec<u32>, _> = value()?.split(',').map(|p| p.trim().parse()).collect();
                server_pid = Some(pids.context("--server-pid")?);
            }
            "--db-process" => db_process = Some(value()?),
            "--addresses" => addresses = value()?.parse().context("--addresses")?,
            "--concurrency" => concurrency = value()?.parse().context("--concurrency")?,
            "--checks" => checks = value()?.parse().context("--checks")?,
            "--label" => label = value()?,
            "--json" => json = Some(value()?),
            other => bail!("unknown argument {other} (see the comment at the top of bench/src/main.rs)"),
        }
    }
    let url = url::Url::parse(&url.context("--url is required")?).context("--url")?;
    // Load goes only to this machine: never point it at someone's server.
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    if !loopback || url.scheme() != "http" {
        bail!("--url must be http:// to a loopback address (127.0.0.1, [::1], localhost), got {url}");
    }
    Ok(Options {
        url,
        database_url: database_url.context("--database-url is required (to read the codes from the outbox)")?,
        server_pids: server_pid.context("--server-pid is required")?,
        proxy_pid: None,
        db_process,
        addresses: addresses.max(1),
        concurrency: concurrency.max(1),
        checks,
        label,
        json,
    })
}

/// What one request came to: `Ok` with the cookie it was after, or the
/// reason it failed (a status, or "no cookie").
type Outcome = Result<Option<String>, String>;

struct Phase {
    name: &'static str,
    requests: usize,
    ok: usize,
    errors: BTreeMap<String, usize>,
    wall: Duration,
    latency: Histogram<u64>,
    server_cpu_ms: f64,
    db_cpu_ms: Option<f64>,
    /// This process's own CPU: on a small machine the load generator
    /// competes with the server for the same cores.
    client_cpu_ms: f64,
    /// The proxy's, when there is one in front.
    proxy_cpu_ms: Option<f64>,
    peak_rss_mib: f64,
}

impl Phase {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }

    fn ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "phase": self.name,
            "requests": self.requests,
            "ok": self.ok,
            "errors": self.errors,
            "seconds": self.wall.as_secs_f64(),
            "req_per_s": self.rps(),
            "p50_ms": self.ms(0.50),
            "p90_ms": self.ms(0.90),
            "p99_ms": self.ms(0.99),
            "max_ms": self.latency.max() as f64 / 1000.0,
            "server_cpu_ms_per_request": self.server_cpu_ms / self.requests as f64,
            "db_cpu_ms_per_request": self.db_cpu_ms.map(|ms| ms / self.requests as f64),
            "client_cpu_ms_per_request": self.client_cpu_ms / self.requests as f64,
            "proxy_cpu_ms_per_request": self.proxy_cpu_ms.map(|ms| ms / self.requests as f64),
            "server_peak_rss_mib": self.peak_rss_mib,
        })
    }
}

struct Bench {
    opts: Options,
    client: reqwest::Client,
    ticks: f64,
}

impl Bench {
    /// CPU seconds of every instance together.
    fn servers_cpu(&self) -> Option<f64> {
        self.opts.server_pids.iter().map(|pid| cpu_secs(*pid, self.ticks)).sum()
    }

    /// Runs `request(i)` for every address, `concurrency` at a time.
    async fn phase<F, Fut>(&self, name: &'static str, request: F) -> anyhow::Result<(Phase, Vec<Option<String>>)>
    where
        F: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Outcome> + Send,
    {
        self.phase_of(name, self.opts.addresses, move |_worker, i| request(i)).await
    }

    /// Runs `request(worker, i)` for `i` in `0..n`, `concurrency` workers at
    /// a time (`worker` says which, for a connection of its own).
    async fn phase_of<F, Fut>(
        &self,
        name: &'static str,
        n: usize,
        request: F,
    ) -> anyhow::Result<(Phase, Vec<Option<String>>)>
    where
        F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Outcome> + Send,
    {
        let request = Arc::new(request);
        let next = Arc::new(AtomicUsize::new(0));
        let cpu_before = self.servers_cpu().context("a server process is gone")?;
        let proxy_before = self.opts.proxy_pid.and_then(|pid| cpu_secs(pid, self.ticks));
        let db_before = self.opts.db_process.as_deref().map(|p| cpu_secs_named(p, self.ticks));
        let client_before = cpu_secs(std::process::id(), self.ticks).unwrap_or(0.0);
        let started = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for worker in 0..self.opts.concurrency.min(n) {
            let (request, next) = (request.clone(), next.clone());
            workers.spawn(async move {
                let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
                let mut outcomes = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let t = Instant::now();
                    let outcome = request(worker, i).await;
                    latency.saturating_record(t.elapsed().as_micros() as u64);
                    outcomes.push((i, outcome));
                }
                (latency, outcomes)
            });
        }
        let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
        let mut cookies = vec![None; n];
        let (mut ok, mut errors) = (0, BTreeMap::new());
        while let Some(done) = workers.join_next().await {
            let (part, outcomes) = done.context("a worker panicked")?;
            latency.add(part).context("merging latencies")?;
            for (i, outcome) in outcomes {
                match outcome {
                    Ok(cookie) => {
                        ok += 1;
                        cookies[i] = cookie;
                    }
                    Err(reason) => *errors.entry(reason).or_insert(0) += 1,
                }
            }
        }
        let wall = started.elapsed();
        let server_cpu_ms = (self.servers_cpu().unwrap_or(cpu_before) - cpu_before) * 1000.0;
        let proxy_cpu_ms =
            proxy_before.and_then(|before| Some((cpu_secs(self.opts.proxy_pid?, self.ticks)? - before) * 1000.0));
        let db_cpu_ms = db_before
            .map(|before| (cpu_secs_named(self.opts.db_process.as_deref().unwrap(), self.ticks) - before) * 1000.0);
        let client_cpu_ms = (cpu_secs(std::process::id(), self.ticks).unwrap_or(0.0) - client_before) * 1000.0;
        // The largest instance's.
        let peak_rss_mib = self.opts.server_pids.iter().filter_map(|pid| peak_rss_mib(*pid)).fold(0.0, f64::max);
        let phase = Phase {
            name,
            requests: n,
            ok,
            errors,
            wall,
            latency,
            server_cpu_ms,
            db_cpu_ms,
            client_cpu_ms,
            proxy_cpu_ms,
            peak_rss_mib,
        };
        Ok((phase, cookies))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("faults") => return faults::main(std::env::args().skip(2)).await,
        Some("scale") => return scale::main(std::env::args().skip(2)).await,
        _ => {}
    }
    let opts = options()?;
    let phases = measure(&opts).await?;
    print_table(&opts, &phases);
    if let Some(path) = &opts.json {
        let out = json!({
            "label": opts.label,
            "addresses": opts.addresses,
            "concurrency": opts.concurrency,
            "phases": phases.iter().map(Phase::json).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&out)?).with_context(|| format!("writing {path}"))?;
    }
    let failed: usize = phases.iter().map(|p| p.requests - p.ok).sum();
    if failed > 0 {
        eprintln!("{failed} requests did not do what they should (see errors above)");
        std::process::exit(1);
    }
    Ok(())
}

/// Runs the phases against the server `opts` names.
async fn measure(opts: &Options) -> anyhow::Result<Vec<Phase>> {
    let opts = opts.clone();
    let client = reqwest::Client::builder()
        // Never through a proxy: the load stays on this machine.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(opts.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = opts.url.as_str().trim_end_matches('/').to_owned();
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let domain = format!("run{run}.bench.example.com");
    let address = Arc::new(move |i: usize| format!("load{i}@{domain}"));
    let bench = Bench { opts, client, ticks: ticks_per_sec() };
    let mut phases = Vec::new();

    let (send, pending) = {
        let (client, url, address) = (bench.client.clone(), format!("{base}/api/request_code"), address.clone());
        let page = base.clone();
        bench
            .phase("send", move |i| {
                let (client, url, address, page) = (client.clone(), url.clone(), address.clone(), page.clone());
                async move {
                    let body = format!("identifier={}", form_value(&address(i)));
                    let res = post(&client, &url, &format!("{page}/sign-in"), body, None).await?;
                    match (set_cookie(&res, PENDING_COOKIE), redirect_error(&res)) {
                        (Some(cookie), None) if res.status().is_redirection() => Ok(Some(cookie)),
                        (_, Some(error)) => Err(error),
                        _ => Err(res.status().as_u16().to_string()),
                    }
                }
            })
            .await?
    };
    phases.push(send);

    // Not timed: the codes, from the dev outbox table.
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&bench.opts.database_url).await?;
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT destination, code FROM outbox WHERE destination LIKE $1")
        .bind(format!("%@{}", address(0).split('@').nth(1).unwrap_or_default()))
        .fetch_all(&pool)
        .await
        .context("reading the outbox table: is the server running with the dev outbox on this database?")?;
    pool.close().await;
    let codes: std::collections::HashMap<String, String> = rows.into_iter().collect();
    let codes: Arc<Vec<Option<String>>> =
        Arc::new((0..bench.opts.addresses).map(|i| codes.get(&address(i)).cloned()).collect());
    let pending = Arc::new(pending);

    let verify_url = format!("{base}/api/verify_code");
    let verify_page = format!("{base}/verify");
    let attempt = |wrong: bool| {
        let (client, url, codes, pending) = (bench.client.clone(), verify_url.clone(), codes.clone(), pending.clone());
        let page = verify_page.clone();
        move |i: usize| {
            let (client, url, codes, pending, page) =
                (client.clone(), url.clone(), codes.clone(), pending.clone(), page.clone());
            async move {
                let (Some(cookie), Some(code)) = (pending[i].as_deref(), codes[i].as_deref()) else {
                    return Err("no challenge".to_owned());
                };
                let code = if wrong { wrong_code(code) } else { code.to_owned() };
                let res = post(&client, &url, &page, format!("code={}", form_value(&code)), Some(cookie)).await?;
                let (session, error) = (set_cookie(&res, SESSION_COOKIE), redirect_error(&res));
                match (wrong, session, error) {
                    (_, Some(_), Some(_)) => Err("A SESSION WITH AN ERROR".into()),
                    (false, Some(session), None) if res.status().is_redirection() => Ok(Some(session)),
                    (true, Some(_), None) => Err("SIGNED IN WITH A WRONG CODE".into()),
                    // Only this: any other refusal (limited, expired) is a failure.
                    (true, None, Some(error)) if error.starts_with("{\"WrongCode\"") => Ok(None),
                    (_, None, Some(error)) => Err(error),
                    _ => Err(res.status().as_u16().to_string()),
                }
            }
        }
    };
    phases.push(bench.phase("wrong code", attempt(true)).await?.0);
    let (verify, sessions) = bench.phase("verify", attempt(false)).await?;
    phases.push(verify);

    if bench.opts.checks > 0 {
        let sessions: Vec<String> = sessions.into_iter().flatten().collect();
        anyhow::ensure!(!sessions.is_empty(), "no sessions to check: every verify failed");
        let checker = forward::Checker::connect(&bench.opts.url, bench.opts.concurrency, sessions).await?;
        let checker = Arc::new(checker);
        let phase = bench
            .phase_of("forward auth", bench.opts.checks, move |worker, i| {
                let checker = checker.clone();
                async move { checker.check(worker, i).await }
            })
            .await?
            .0;
        phases.push(phase);
    }
    Ok(phases)
}

fn print_table(o: &Options, phases: &[Phase]) {
    println!(
        "\n{}{} addresses, {} in flight, server pid {}{}",
        if o.label.is_empty() { String::new() } else { format!("{}: ", o.label) },
        o.addresses,
        o.concurrency,
        o.server_pids.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
        o.db_process.as_deref().map(|p| format!(", database CPU: every `{p}` process")).unwrap_or_default()
    );
    println!(
        "| phase | ok | errors | req/s | p50 ms | p90 ms | p99 ms | max ms | server CPU ms/req | db CPU ms/req | load generator CPU ms/req | server peak RSS MiB |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for p in phases {
        let errors = if p.errors.is_empty() {
            "0".to_owned()
        } else {
            p.errors.iter().map(|(k, v)| format!("{v}× {k}")).collect::<Vec<_>>().join(", ")
        };
        println!(
            "| {} | {}/{} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {} | {:.2} | {:.1} |",
            p.name,
            p.ok,
            p.requests,
            errors,
            p.rps(),
            p.ms(0.5),
            p.ms(0.9),
            p.ms(0.99),
            p.latency.max() as f64 / 1000.0,
            p.server_cpu_ms / p.requests as f64,
            p.db_cpu_ms.map(|ms| format!("{:.2}", ms / p.requests as f64)).unwrap_or_else(|| "–".into()),
            p.client_cpu_ms / p.requests as f64,
            p.peak_rss_mib,
        );
    }
}
