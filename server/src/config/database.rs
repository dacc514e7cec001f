//! The database and its upkeep: `DATABASE_URL`, the pool (`PASSCODE_DB_*`),
//! `PASSCODE_PURGE_INTERVAL_SECS` and `PASSCODE_AUDIT_RETENTION_DAYS`.

use std::path::Path;
use std::time::Duration;

use crate::db::{Backend, PoolSettings};

use super::helpers::ranged;
use super::{ConfigError, Source, err};

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool: PoolSettings,
    /// How often expired rows are deleted.
    pub purge_interval: Duration,
    /// How long audit rows are kept.
    pub audit_retention: Duration,
}

impl DatabaseSettings {
    /// Without `DATABASE_URL`, a SQLite file in `data_dir`.
    pub(super) fn read(src: &dyn Source, data_dir: &Path) -> Result<Self, ConfigError> {
        let url = src
            .get("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("passcode.db").display()));
        let Some(backend) = Backend::of(&url) else {
            return Err(err("DATABASE_URL", "expected a sqlite:// or postgres:// URL"));
        };
        let defaults = PoolSettings::for_backend(backend);
        let pool = PoolSettings {
            max_connections: ranged(src, "PASSCODE_DB_MAX_CONNECTIONS", defaults.max_connections, "a number", 1, 1000)?,
            acquire_timeout: Duration::from_millis(ranged(
                src,
                "PASSCODE_DB_ACQUIRE_TIMEOUT_MS",
                defaults.acquire_timeout.as_millis() as u64,
                "milliseconds",
                100,
                60_000,
            )?),
            statement_timeout: Duration::from_millis(ranged(
                src,
                "PASSCODE_DB_STATEMENT_TIMEOUT_MS",
                defaults.statement_timeout.as_millis() as u64,
                "milliseconds",
                100,
                600_000,
            )?),
        };
        let purge_interval =
            Duration::from_secs(ranged(src, "PASSCODE_PURGE_INTERVAL_SECS", 600u64, "seconds", 1, 86_400)?);
        // Signed, so that "-1" is reported as out of range rather than as
        // not a number.
        let audit_retention_days = ranged(src, "PASSCODE_AUDIT_RETENTION_DAYS", 90i64, "days", 1, 3650)?;
        let audit_retention = Duration::from_secs(audit_retention_days.unsigned_abs() * 86_400);
        Ok(Self { url, pool, purge_interval, audit_retention })
    }
}
