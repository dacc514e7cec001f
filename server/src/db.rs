//! Connecting to the database (SQLite or Postgres, chosen by the URL) and
//! applying its migrations. Queries are shared (see app/src/store/);
//! only the schema files differ (migrations/sqlite, migrations/postgres).

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a request may wait for a connection before it gets a 503.
    pub acquire_timeout: Duration,
    /// Longest a single statement may run (Postgres `statement_timeout`,
    /// SQLite `busy_timeout`).
    pub statement_timeout: Duration,
}

impl PoolSettings {
    /// SQLite lets one connection write at a time; the others wait in its
    /// busy handler, which sleeps in steps of up to 100 ms. One connection
    /// makes requests queue in the pool instead: measured with `bench/`,
    /// verify went from 1,113 to 1,686 req/s and its p99 from 106 to 34 ms.
    pub fn for_backend(backend: Backend) -> Self {
        let max_connections = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 10,
        };
        Self { max_connections, acquire_timeout: Duration::from_secs(3), statement_timeout: Duration::from_secs(5) }
    }
}

/// Opens the pool. It connects lazily, so a database that is down later
/// only fails the requests that need it, and the pool reconnects by itself.
pub fn pool(database_url: &str, settings: &PoolSettings) -> anyhow::Result<(AnyPool, Backend)> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of(database_url).context("DATABASE_URL must start with sqlite:// or postgres://")?;
    if backend == Backend::Sqlite
        && let Some(path) = database_url.strip_prefix("sqlite://").map(|p| p.split('?').next().unwrap_or(p))
        && let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let options = AnyConnectOptions::from_str(database_url).context("DATABASE_URL is not a valid database URL")?;
    let statement_ms = settings.statement_timeout.as_millis();
    let pool = AnyPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                match conn.backend_name() {
                    // WAL lets readers carry on while one writer writes;
                    // busy_timeout makes writers queue instead of failing.
                    "SQLite" => {
                        conn.execute(&*format!(
                            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = {statement_ms}; \
                             PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
                        ))
                        .await?;
                    }
                    "PostgreSQL" => {
                        conn.execute(&*format!("SET statement_timeout = {statement_ms}")).await?;
                    }
                    _ => {}
                }
                Ok(())
            })
        })
        .connect_lazy_with(options);
    Ok((pool, backend))
}

/// Applies pending migrations. Safe when several instances start at once on
/// Postgres (sqlx takes an advisory lock); on SQLite the file's write lock
/// serialises them.
pub async fn migrate(pool: &AnyPool, backend: Backend) -> anyhow::Result<()> {
    backend.migrator().run(pool).await.context("applying database migrations")
}

/// Ready means: the database answers and has every migration this binary
/// knows about.
pub async fn ready(pool: &AnyPool, backend: Backend) -> anyhow::Result<()> {
    let expected = backend.migrator().iter().map(|m| m.version).max().unwrap_or(0);
    let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM _sqlx_migrations WHERE success = TRUE")
        .fetch_one(pool)
        .await
        .context("querying the migrations table")?;
    let applied: i64 = row.try_get("v")?;
    anyhow::ensure!(applied >= expected, "migrations not applied (database at {applied}, binary expects {expected})");
    Ok(())
}
