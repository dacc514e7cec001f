//! The scale curve: `passcode-bench scale` (run by `./scripts/scale`). For
//! each instance count (`--instances 1,2,4`) it starts that many release
//! instances behind Caddy (docs/proxies/Caddyfile.instances) on a fresh
//! database in a Postgres cluster of the run's own, with the per-IP limits
//! in one redis-server of its own and the dev outbox (the codes are read
//! from its table), runs the load generator's send, wrong-code and verify
//! phases through Caddy, and prints, per count, send and verify requests per
//! second, p99, and CPU per request of the instances together, of Postgres
//! and of Caddy. Every setting but the per-IP limits (raised: the load
//! generator is one client) is the default, argon2 included.
//!
//! Usage: passcode-bench scale --passcode target/release/passcode
//!   [--instances 1,2,4] [--addresses 2000] [--concurrency 32] [--json FILE]

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::json;

use crate::services::{
    self, CADDYFILE, Caddy, Instance, ONE_CLIENT_LIMITS, Postgres, Redis, run_secret, stand_in_site,
};
use crate::{Options, Phase, measure, print_table};

struct ScaleOptions {
    passcode: PathBuf,
    instances: Vec<usize>,
    addresses: usize,
    concurrency: usize,
    json: Option<PathBuf>,
}

fn options(args: impl Iterator<Item = String>) -> anyhow::Result<ScaleOptions> {
    let mut args = args;
    let mut o = ScaleOptions {
        passcode: PathBuf::new(),
        instances: vec![1, 2, 4],
        addresses: 2000,
        concurrency: 32,
        json: None,
    };
    let mut passcode = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--passcode" => passcode = Some(PathBuf::from(value()?)),
            "--instances" => {
                o.instances = value()?.split(',').map(|n| n.trim().parse()).collect::<Result<_, _>>()?;
            }
            "--addresses" => o.addresses = value()?.parse().context("--addresses")?,
            "--concurrency" => o.concurrency = value()?.parse().context("--concurrency")?,
            "--json" => o.json = Some(PathBuf::from(value()?)),
            other => bail!("unknown argument {other} (see the comment at the top of bench/src/scale.rs)"),
        }
    }
    o.passcode = passcode.context("--passcode (the release server binary) is required")?;
    if o.instances.iter().any(|n| *n == 0 || *n > 16) {
        bail!("--instances: counts from 1 to 16");
    }
    Ok(o)
}

pub async fn main(args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let o = options(args)?;
    let passcode = std::fs::canonicalize(&o.passcode).with_context(|| format!("{}", o.passcode.display()))?;
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let dir = std::env::temp_dir().join(format!("passcode-scale-{run}"));
    std::fs::create_dir_all(&dir)?;
    let result = curve(&o, &passcode, &dir).await;
    match &result {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        Err(_) => eprintln!("logs kept in {}", dir.display()),
    }
    result
}

/// The numbers of one instance count.
struct Point {
    instances: usize,
    phases: Vec<Phase>,
}

async fn curve(o: &ScaleOptions, passcode: &std::path::Path, dir: &std::path::Path) -> anyhow::Result<()> {
    let say = |what: &str| eprintln!("\x1b[1m==> {what}\x1b[0m");
    say("starting a Postgres cluster and a redis-server of the run's own");
    let pg = Postgres::init(dir)?;
    pg.start()?;
    let redis = Redis::start(dir).await?;
    let site = stand_in_site(dir)?;
    sqlx::any::install_default_drivers();
    let admin = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&pg.url()).await?;
    let mut points = Vec::new();
    for &n in &o.instances {
        let database = format!("scale_{n}_{}", points.len());
        sqlx::query(&format!("CREATE DATABASE {database}")).execute(&admin).await?;
        let database_url = format!("{}/{database}", pg.url().rsplit_once('/').context("a database URL")?.0);
        let caddy_port = services::free_port()?;
        let public = format!("http://127.0.0.1:{caddy_port}");
        let env: Vec<(String, String)> = [
            ("DATABASE_URL", database_url.clone()),
            ("PASSCODE_PUBLIC_URL", public.clone()),
            ("PASSCODE_SECRET", run_secret()),
            ("PASSCODE_DATA_DIR", dir.join(format!("data-{n}")).display().to_string()),
            ("LEPTOS_SITE_ROOT", site.display().to_string()),
            ("PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION", "true".into()),
            ("PASSCODE_REDIS_URL", redis.url()),
            ("PASSCODE_REDIS_PREFIX", format!("{database}:")),
            ("PASSCODE_TRUSTED_PROXIES", "127.0.0.1".into()),
            ("PASSCODE_LOG", "warn".into()),
            ("NO_COLOR", "1".into()),
        ]
        .into_iter()
        .chain(ONE_CLIENT_LIMITS.map(|(k, v)| (k, v.to_owned())))
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        say(&format!("{n} instance(s) behind Caddy on {public}"));
        let mut instances = Vec::new();
        for i in 0..n {
            let mut instance = Instance::new(passcode, env.clone(), dir.join(format!("passcode-{n}-{i}.log")))?;
            // One after the other: the first applies the migrations.
            instance.up().await?;
            instances.push(instance);
        }
        let ports: Vec<u16> = instances.iter().map(|i| i.port).collect();
        let caddy = Caddy::start(dir, CADDYFILE, caddy_port, &ports).await?;
        // Caddy's first health checks, so no request waits for them.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let opts = Options {
            url: url::Url::parse(&public)?,
            database_url,
            server_pids: instances.iter().filter_map(Instance::pid).collect(),
            proxy_pid: caddy.pid(),
            db_process: Some("postgres".into()),
            addresses: o.addresses,
            concurrency: o.concurrency,
            checks: 0,
            label: format!("{n} instance(s) behind Caddy"),
            json: None,
        };
        let phases = measure(&opts).await?;
        print_table(&opts, &phases);
        let failed: usize = phases.iter().map(|p| p.requests - p.ok).sum();
        if failed > 0 {
            bail!("{failed} requests failed with {n} instance(s); see the logs in {}", dir.display());
        }
        points.push(Point { instances: n, phases });
        drop(caddy);
        drop(instances);
    }
    admin.close().await;

    println!(
        "\n{} addresses, {} in flight, through Caddy; CPU in ms per request: every instance together, every \
         `postgres` process, Caddy",
        o.addresses, o.concurrency
    );
    println!(
        "| instances | send req/s | send p99 ms | verify req/s | verify p99 ms | instances CPU send / verify | Postgres CPU send / verify | Caddy CPU send / verify |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for p in &points {
        let phase = |name: &str| p.phases.iter().find(|ph| ph.name == name).context("a phase is missing");
        let (send, verify) = (phase("send")?, phase("verify")?);
        let per = |ms: f64, ph: &Phase| ms / ph.requests as f64;
        let opt = |ms: Option<f64>, ph: &Phase| ms.map(|ms| format!("{:.2}", per(ms, ph))).unwrap_or("–".into());
        println!(
            "| {} | {:.0} | {:.1} | {:.0} | {:.1} | {:.2} / {:.2} | {} / {} | {} / {} |",
            p.instances,
            send.rps(),
            send.ms(0.99),
            verify.rps(),
            verify.ms(0.99),
            per(send.server_cpu_ms, send),
            per(verify.server_cpu_ms, verify),
            opt(send.db_cpu_ms, send),
            opt(verify.db_cpu_ms, verify),
            opt(send.proxy_cpu_ms, send),
            opt(verify.proxy_cpu_ms, verify),
        );
        rows.push(json!({ "instances": p.instances, "phases": p.phases.iter().map(Phase::json).collect::<Vec<_>>() }));
    }
    if let Some(path) = &o.json {
        let out = json!({ "addresses": o.addresses, "concurrency": o.concurrency, "points": rows });
        std::fs::write(path, serde_json::to_string_pretty(&out)?)?;
    }
    drop(pg);
    Ok(())
}
