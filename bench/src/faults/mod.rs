//! Faults survived, with numbers: `passcode-bench faults` (run by
//! `./scripts/faults`). It starts, in a temporary directory and on spare
//! loopback ports, a Postgres cluster of its own, a redis-server, a mail
//! server that can be told to refuse, two Passcode instances sharing them
//! and Caddy in front (docs/proxies/Caddyfile.instances); then, under a
//! steady load of people signing in through Caddy, it
//!   (a) restarts Postgres (stopped, down a while, started),
//!   (b) makes the mail server refuse every connection and command,
//!   (c) kills one instance with SIGKILL (started again afterwards),
//!   (d) restarts Redis (killed, down a while, started).
//! For each it prints the requests in flight during the fault's window and
//! how they were answered, and how long after the fault ended a code could
//! be asked for and was delivered again. It fails on any 500, any answer
//! that is neither a success nor a clear refusal, any request unanswered
//! for 15 s, any code told "sent" that never arrived, any code that opened
//! two sessions, any session without its audit row, anyone told "try
//! again" for a minute, a proxy's 503 that no fault explains (an instance
//! that crashed), or a recovery slower than 5 s.
//!
//! Usage: passcode-bench faults --passcode target/release/passcode
//!   [--short] [--workers N] [--json FILE]

mod load;
mod smtp;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use crate::services::{
    self, CADDYFILE, Caddy, Instance, ONE_CLIENT_LIMITS, Postgres, Redis, run_secret, stand_in_site,
};
use load::{Answer, Load, Record};

/// Service must be back this soon after a fault ends.
const RECOVERY_LIMIT: Duration = Duration::from_secs(5);

struct Options {
    passcode: PathBuf,
    short: bool,
    workers: usize,
    json: Option<PathBuf>,
}

fn options(args: impl Iterator<Item = String>) -> anyhow::Result<Options> {
    let mut args = args.peekable();
    let (mut passcode, mut short, mut workers, mut json) = (None, false, None, None);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--passcode" => passcode = Some(PathBuf::from(value()?)),
            "--short" => short = true,
            "--workers" => workers = Some(value()?.parse().context("--workers")?),
            "--json" => json = Some(PathBuf::from(value()?)),
            other => bail!("unknown argument {other} (see the comment at the top of bench/src/faults/mod.rs)"),
        }
    }
    Ok(Options {
        passcode: passcode.context("--passcode (the server binary) is required")?,
        short,
        workers: workers.unwrap_or(if short { 6 } else { 16 }).max(1),
        json,
    })
}

/// One fault: what it is, and its window (from the moment it began to the
/// moment the broken part was back).
struct Window {
    fault: &'static str,
    began: Instant,
    ended: Instant,
    recovered_secs: Option<f64>,
}

pub async fn main(args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let opts = options(args)?;
    let passcode = std::fs::canonicalize(&opts.passcode)
        .with_context(|| format!("{}: build it first (./scripts/faults does)", opts.passcode.display()))?;
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis().to_string();
    let dir = std::env::temp_dir().join(format!("passcode-faults-{run}"));
    std::fs::create_dir_all(&dir)?;
    // Stopped from outside (Ctrl-C, a CI timeout): what the run started is
    // dropped with it, which stops every process it started.
    let stopped = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        anyhow::Ok(())
    };
    let result = tokio::select! {
        result = run_in(&opts, &passcode, &dir, run) => result,
        _ = stopped => Err(anyhow::anyhow!("stopped by a signal")),
    };
    match &result {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        Err(_) => eprintln!("logs kept in {}", dir.display()),
    }
    result
}

async fn run_in(opts: &Options, passcode: &std::path::Path, dir: &std::path::Path, run: String) -> anyhow::Result<()> {
    let say = |what: &str| eprintln!("\x1b[1m==> {what}\x1b[0m");
    // (long, short) durations of each fault's outage.
    let outage = |long: u64, short: u64| Duration::from_secs(if opts.short { short } else { long });

    say("starting a Postgres cluster, a redis-server and a mail server of the run's own");
    let pg = Postgres::init(dir)?;
    pg.start()?;
    let mut redis = Redis::start(dir).await?;
    let (sink, smtp_port) = smtp::Sink::start().await?;
    let site = stand_in_site(dir)?;

    let caddy_port = services::free_port()?;
    let public = format!("http://127.0.0.1:{caddy_port}");
    let secret = run_secret();
    let env: Vec<(String, String)> = [
        ("DATABASE_URL", pg.url()),
        ("PASSCODE_PUBLIC_URL", public.clone()),
        ("PASSCODE_SECRET", secret),
        ("PASSCODE_DATA_DIR", dir.join("data").display().to_string()),
        ("LEPTOS_SITE_ROOT", site.display().to_string()),
        ("PASSCODE_SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}")),
        ("PASSCODE_EMAIL_FROM", "sign-in@faults.passcode.test".into()),
        ("PASSCODE_EMAIL_CODE_IN_SUBJECT", "true".into()),
        ("PASSCODE_REDIS_URL", redis.url()),
        ("PASSCODE_TRUSTED_PROXIES", "127.0.0.1".into()),
        // The database's share of a request is what is measured, not hashing.
        ("PASSCODE_ARGON2_MEMORY_KIB", "1024".into()),
        ("PASSCODE_DB_ACQUIRE_TIMEOUT_MS", "3000".into()),
        ("PASSCODE_SHUTDOWN_UNREADY_SECS", "1".into()),
        ("PASSCODE_LOG", "info".into()),
        ("NO_COLOR", "1".into()),
    ]
    .into_iter()
    .chain(ONE_CLIENT_LIMITS.map(|(k, v)| (k, v.to_owned())))
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut instances = Vec::new();
    for n in 0..2 {
        instances.push(Instance::new(passcode, env.clone(), dir.join(format!("passcode-{n}.log")))?);
    }
    say("starting two Passcode instances and Caddy in front");
    // One after the other: the first applies the migrations.
    for instance in &mut instances {
        instance.up().await?;
    }
    let ports: Vec<u16> = instances.iter().map(|i| i.port).collect();
    let _caddy = Caddy::start(dir, CADDYFILE, caddy_port, &ports).await?;

    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(load::HANG)
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let record = Arc::new(Record::default());
    let load = Arc::new(Load {
        client,
        base: public.clone(),
        sink: sink.clone(),
        record: record.clone(),
        stop: stop.clone(),
        run,
    });
    anyhow::ensure!(
        load.recovery("start", Duration::from_secs(20)).await.is_some(),
        "no code could be sent through Caddy before any fault; see the logs in {}",
        dir.display()
    );
    say(&format!("{} people signing in at once, through Caddy on {public}", opts.workers));
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..opts.workers {
        workers.spawn(load.clone().worker(w));
    }
    let settle = || tokio::time::sleep(Duration::from_secs(if opts.short { 2 } else { 5 }));
    settle().await;
    let mut windows = Vec::new();

    say("(a) Postgres restarts");
    let began = Instant::now();
    pg.stop()?;
    tokio::time::sleep(outage(10, 2)).await;
    pg.start()?;
    let ended = Instant::now();
    windows.push(Window {
        fault: "Postgres restart",
        began,
        ended,
        recovered_secs: load.recovery("pg", RECOVERY_LIMIT * 2).await,
    });
    settle().await;

    say("(b) the mail server refuses everything");
    let began = Instant::now();
    sink.refuse(true);
    tokio::time::sleep(outage(30, 4)).await;
    sink.refuse(false);
    let ended = Instant::now();
    windows.push(Window {
        fault: "SMTP refusing",
        began,
        ended,
        recovered_secs: load.recovery("smtp", RECOVERY_LIMIT * 2).await,
    });
    settle().await;

    say("(c) one instance is killed (SIGKILL)");
    let began = Instant::now();
    instances[0].kill().await?;
    // Nothing brings it back but the other instance and the proxy: the
    // fault's window is the time it stays down (a supervisor then starts
    // it again).
    let ended = Instant::now();
    let recovered_secs = load.recovery("kill", RECOVERY_LIMIT * 2).await;
    tokio::time::sleep(outage(10, 2).saturating_sub(began.elapsed())).await;
    let down_until = Instant::now();
    instances[0].up().await?;
    windows.push(Window { fault: "instance SIGKILL", began, ended: ended.max(down_until), recovered_secs });
    settle().await;

    say("(d) Redis restarts");
    let began = Instant::now();
    redis.down().await?;
    tokio::time::sleep(outage(10, 2)).await;
    redis.up().await?;
    let ended = Instant::now();
    windows.push(Window {
        fault: "Redis restart",
        began,
        ended,
        recovered_secs: load.recovery("redis", RECOVERY_LIMIT * 2).await,
    });
    settle().await;

    stop.store(true, Ordering::Relaxed);
    while workers.join_next().await.is_some() {}

    // What the database says happened.
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&pg.url()).await?;
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions").fetch_one(&pool).await?;
    let without_audit: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT user_id, COUNT(*) AS n FROM sessions GROUP BY user_id) s \
         WHERE s.n > (SELECT COUNT(*) FROM audit_events a WHERE a.kind = 'signed_in' AND a.user_id = s.user_id)",
    )
    .fetch_one(&pool)
    .await?;
    let consumed_twice: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT opened_by FROM sessions WHERE opened_by IS NOT NULL \
         GROUP BY opened_by HAVING COUNT(*) > 1) d",
    )
    .fetch_one(&pool)
    .await?;
    pool.close().await;

    let requests = record.requests.lock().unwrap().clone();
    let lost_at = record.lost.lock().unwrap().clone();
    let lost = lost_at.len();
    let double = record.double.load(Ordering::Relaxed) as i64 + consumed_twice;
    let signed_in = record.signed_in.load(Ordering::Relaxed);
    let answers_lost = record.answers_lost.load(Ordering::Relaxed);

    println!(
        "\n{} form; {} people signing in at once through Caddy, two instances, Postgres, Redis",
        if opts.short { "short" } else { "long" },
        opts.workers
    );
    println!(
        "| fault | window s | requests in flight in the window | ok | 503 try again | proxy's 503 | 429 wait | other | 500 | hung | slowest answer s | recovered after s | lost |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut failures = Vec::new();
    let mut rows = Vec::new();
    for w in &windows {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        let inside: Vec<&load::Request> = requests.iter().filter(|r| r.overlaps(w.began, w.ended)).collect();
        let slowest = inside.iter().map(|r| (r.finished - r.started).as_secs_f64()).fold(0.0, f64::max);
        let lost_here = lost_at.iter().filter(|t| **t >= w.began && **t <= w.ended).count();
        for r in &inside {
            let key = match r.answer {
                Answer::Ok => "ok",
                Answer::TryAgain => "503",
                Answer::ProxyTryAgain => "proxy503",
                Answer::Limited => "429",
                Answer::ServerError => "500",
                Answer::Hung => "hung",
                Answer::Other(_) | Answer::NoConnection => "other",
            };
            *counts.entry(key).or_default() += 1;
        }
        let c = |k: &str| counts.get(k).copied().unwrap_or(0);
        let secs = (w.ended - w.began).as_secs_f64();
        let recovered = w.recovered_secs.map(|s| format!("{s:.1}")).unwrap_or_else(|| "never".into());
        println!(
            "| {} | {secs:.1} | {} | {} | {} | {} | {} | {} | {} | {} | {slowest:.1} | {recovered} | {lost_here} |",
            w.fault,
            inside.len(),
            c("ok"),
            c("503"),
            c("proxy503"),
            c("429"),
            c("other"),
            c("500"),
            c("hung"),
        );
        if w.recovered_secs.is_none_or(|s| s > RECOVERY_LIMIT.as_secs_f64()) {
            failures.push(format!("{}: service was not back within {RECOVERY_LIMIT:?} ({recovered})", w.fault));
        }
        rows.push(json!({
            "fault": w.fault, "window_secs": secs, "requests": inside.len(), "ok": c("ok"), "try_again_503": c("503"),
            "proxy_503": c("proxy503"),
            "limited_429": c("429"), "other": c("other"), "server_error_500": c("500"), "hung": c("hung"),
            "slowest_answer_secs": slowest, "recovered_secs": w.recovered_secs, "lost": lost_here,
        }));
    }
    let all: BTreeMap<String, usize> = requests.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(format!("{:?}", r.answer)).or_default() += 1;
        m
    });
    println!(
        "\nwhole run: {} requests ({}); {signed_in} sign-ins, {sessions} sessions in the database; lost codes: {lost}; \
         codes that opened two sessions: {double}; sessions without their audit row: {without_audit}; \
         sign-ins whose answer was cut off (session made, cookie never received): {answers_lost}; people who gave \
         up: {}",
        requests.len(),
        all.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", "),
        record.gave_up.load(Ordering::Relaxed),
    );
    for (what, n) in [("500s", all.get("ServerError")), ("hung requests", all.get("Hung"))] {
        if let Some(n) = n.filter(|n| **n > 0) {
            failures.push(format!("{n} {what}"));
        }
    }
    let other: usize = requests.iter().filter(|r| matches!(r.answer, Answer::Other(_) | Answer::NoConnection)).count();
    if other > 0 {
        failures.push(format!("{other} answers that were neither a success nor a clear refusal"));
    }
    if lost > 0 {
        failures.push(format!("{lost} codes told sent never arrived"));
    }
    // The proxy answers for an instance only when one can't: during a fault
    // (or just after, while health checks catch up). Anywhere else, an
    // instance crashed.
    let unexplained = requests
        .iter()
        .filter(|r| r.answer == Answer::ProxyTryAgain)
        .filter(|r| !windows.iter().any(|w| r.overlaps(w.began, w.ended + RECOVERY_LIMIT)))
        .count();
    if unexplained > 0 {
        failures.push(format!("{unexplained} answers from the proxy for an instance outside any fault (a crash?)"));
    }
    let gave_up = record.gave_up.load(Ordering::Relaxed);
    if gave_up > 0 {
        failures.push(format!("{gave_up} people told to try again for a minute"));
    }
    if double > 0 {
        failures.push(format!("{double} codes opened more than one session"));
    }
    if without_audit > 0 {
        failures.push(format!("{without_audit} sessions without their audit row"));
    }
    if signed_in == 0 {
        failures.push("nobody signed in".into());
    }
    for line in record.unexpected.lock().unwrap().iter() {
        eprintln!("  unexpected: {line}");
    }
    if let Some(path) = &opts.json {
        let out = json!({
            "form": if opts.short { "short" } else { "long" }, "workers": opts.workers, "faults": rows,
            "requests": requests.len(), "signed_in": signed_in, "sessions": sessions, "lost": lost,
            "double": double, "without_audit": without_audit, "answers_lost": answers_lost,
        });
        std::fs::write(path, serde_json::to_string_pretty(&out)?)?;
    }
    drop(instances);
    drop(pg);
    if !failures.is_empty() {
        bail!("faults not survived: {}", failures.join("; "));
    }
    Ok(())
}
