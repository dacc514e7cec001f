//! Connecting to the database and applying migrations at start-up.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");

pub async fn connect(database_url: &str) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    if let Some(path) = database_url.strip_prefix("sqlite://").map(|p| p.split('?').next().unwrap_or(p))
        && let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let options = AnyConnectOptions::from_str(database_url).context("DATABASE_URL is not a valid database URL")?;
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                if conn.backend_name() == "SQLite" {
                    // WAL lets readers carry on while one writer writes;
                    // busy_timeout makes writers queue instead of failing.
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;").await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .context("connecting to the database")?;
    SQLITE_MIGRATIONS.run(&pool).await.context("applying migrations")?;
    Ok(pool)
}
