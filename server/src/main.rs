use std::sync::Arc;

use app::auth::SystemClock;
use passcode::config::Config;
use passcode::shutdown::{self, Signals};

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
    if let Err(e) = run(config).await {
        tracing::error!("{e:#}");
        std::process::exit(1);
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    // Before anything slow, so that a stop during start-up waits for it.
    let signals = Signals::listen()?;
    let server = passcode::build(&config, Arc::new(SystemClock)).await?;
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
    let (_, left) =
        shutdown::serve_until_stopped(listener, server.router, server.drain, config.shutdown, signals).await?;
    // What is left of the grace, but a moment at least for the jobs to
    // write what they hold (the last refusal summaries).
    let left = left.max(std::time::Duration::from_secs(1));
    server.jobs.stop(left).await;
    let _ = stop_metrics.send(());
    if let Some(task) = metrics {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), task).await;
    }
    // Connections still lent to a request that was cut off are not waited for.
    if tokio::time::timeout(left, server.pool.close()).await.is_err() {
        tracing::warn!("the database pool did not close in time");
    }
    tracing::info!("stopped");
    Ok(())
}
