use std::sync::Arc;

use app::auth::SystemClock;
use passcode::config::Config;
use passcode::shutdown::{self, Drained, Signals};

#[tokio::main]
async fn main() {
    // A missing .env is normal; a malformed one is worth a word.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("warning: .env could not be read: {e}");
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PASSCODE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info")),
        )
        .init();

    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let migrate_only = std::env::args().skip(1).any(|a| a == "--migrate-only");
    if let Some(bad) = std::env::args().skip(1).find(|a| a != "--migrate-only") {
        eprintln!("unknown argument {bad:?}; the only one is --migrate-only (apply migrations and exit)");
        std::process::exit(2);
    }
    if migrate_only {
        let result = async {
            let (pool, backend) = passcode::db::pool(&config.database.url, &config.database.pool)?;
            passcode::db::migrate(&pool, backend).await?;
            pool.close().await;
            anyhow::Ok(())
        };
        if let Err(e) = result.await {
            tracing::error!("{e:#}");
            std::process::exit(1);
        }
        tracing::info!("migrations applied");
        return;
    }
    match run(config).await {
        // At once: requests cut off by the grace (each on a task of its
        // own) end here, and nothing else is waited for.
        Ok(()) => {
            tracing::info!("stopped");
            std::process::exit(0);
        }
        Err(e) => {
            tracing::error!("{e:#}");
            std::process::exit(1);
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    // Before anything slow: a stop during start-up (migrations may wait for
    // another instance's lock) ends it there, and nothing is served.
    let mut signals = Signals::listen()?;
    let server = tokio::select! {
        built = passcode::build(&config, Arc::new(SystemClock)) => built?,
        signal = signals.next() => {
            tracing::info!(?signal, "stopped during start-up");
            return Ok(());
        }
    };
    let listener = tokio::net::TcpListener::bind(config.server.addr).await?;
    // The metrics listener (said before "listening on", which tells the
    // world we're up) stops with the public one.
    let (stop_metrics, metrics_stopped) = tokio::sync::watch::channel(());
    let metrics = match (config.metrics.addr, server.metrics) {
        (Some(addr), Some(router)) => {
            let metrics_listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("PASSCODE_METRICS_ADDR {addr}: {e}"))?;
            tracing::info!("metrics on http://{}/metrics", metrics_listener.local_addr()?);
            let mut stopped = metrics_stopped;
            Some(tokio::spawn(async move {
                let until = async move {
                    let _ = stopped.changed().await;
                };
                axum::serve(metrics_listener, router).with_graceful_shutdown(until).await
            }))
        }
        _ => None,
    };
    tracing::info!("listening on http://{} (public URL {})", listener.local_addr()?, config.server.public_url);
    if config.outbox_enabled() {
        tracing::info!("dev outbox: {}/dev/outbox", config.server.public_url);
    }
    let mut stopping =
        shutdown::serve_until_stopped(listener, server.router, server.drain, config.shutdown, signals).await?;
    if stopping.drained == Drained::Hurried {
        return Ok(());
    }
    let (jobs, pool, drained, deadline) = (server.jobs, server.pool, stopping.drained, stopping.deadline);
    let rest = async move {
        // What is left of the grace, and a second at least for the jobs to
        // write what they hold (the last refusal summaries).
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        jobs.stop(left.max(std::time::Duration::from_secs(1))).await;
        let _ = stop_metrics.send(());
        if let Some(task) = metrics {
            let _ = tokio::time::timeout(std::time::Duration::from_millis(500), task).await;
        }
        // A request that ran past the grace may still hold a connection:
        // closing the pool would wait for it, so only a clean drain does.
        if drained == Drained::Finished && tokio::time::timeout_at(deadline, pool.close()).await.is_err() {
            tracing::warn!("the database pool did not close within the grace");
        }
    };
    tokio::select! {
        () = rest => {}
        _ = stopping.signals.next() => tracing::warn!("another signal: stopping now, without waiting for background jobs"),
    }
    Ok(())
}
