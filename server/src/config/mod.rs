//! Configuration: environment variables (and `.env`, loaded by main), parsed
//! once at start-up into `Config`. A bad value stops start-up with a message
//! that names the variable. Every variable is listed in docs/configuration.md.
//!
//! Each section of the configuration is read in the file named after it:
//! `server` (listener, public URL, proxies, the cookie domain, Leptos),
//! `mode` (development or production rules), `database`, `secret`, `auth`
//! (codes, sessions, hashing, limits), `access` (who may open which app
//! behind forward auth), `email`, `sms`, `metrics`, `redis` (per-IP limits
//! shared by every instance) and `shutdown` (the grace a stop gets);
//! `helpers` holds how numbers, switches and URLs are read.

mod access;
mod auth;
mod database;
mod email;
mod helpers;
mod metrics;
mod mode;
mod redis;
mod secret;
mod server;
mod shutdown;
mod sms;

use std::collections::HashMap;
use std::path::PathBuf;

use app::auth::AuthSettings;

pub use auth::HashSettings;
pub use database::DatabaseSettings;
pub use email::EmailConfig;
pub use helpers::is_loopback;
pub use metrics::MetricsSettings;
pub use mode::Mode;
pub use redis::RedisSettings;
pub use secret::{Secret, TotpKeys, parse_totp_key};
pub use server::{ServerSettings, leptos_options};
pub use shutdown::ShutdownSettings;
pub use sms::{SmsProvider, SmsSettings};

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError { var, message: message.into() }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    /// Why `mode` applies, in words for logs and error messages.
    pub mode_reason: String,
    pub allow_outbox_in_production: bool,
    pub server: ServerSettings,
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    /// `None`: generate one in `data_dir` (development only).
    pub secret: Option<Secret>,
    /// Seal authenticator-app secrets. `None`: generate one in `data_dir`
    /// (development only); in production, authenticator apps are off.
    pub totp_keys: Option<TotpKeys>,
    pub auth: AuthSettings,
    pub hashing: HashSettings,
    pub email: EmailConfig,
    pub sms: SmsSettings,
    pub metrics: MetricsSettings,
    /// `None`: per-IP limits in each instance's memory.
    pub redis: Option<RedisSettings>,
    pub shutdown: ShutdownSettings,
}

/// Where values come from: the process environment in production, a map in
/// tests.
pub trait Source {
    fn get(&self, key: &str) -> Option<String>;
}

pub struct Env;

impl Source for Env {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&Env)
    }

    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let named_mode = Mode::named(src)?;
        let (server, public_url) = ServerSettings::read(src)?;
        let rules = mode::Rules::decide(src, named_mode, &public_url, server.addr)?;
        // Holds the SQLite file and the generated development secret.
        let data_dir = PathBuf::from(src.get("PASSCODE_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database = DatabaseSettings::read(src, &data_dir)?;
        let secret = secret::read(src, &rules)?;
        let totp_keys = secret::read_totp(src)?;
        let hashing = HashSettings::read(src)?;
        let email = EmailConfig::read(src, &rules)?;
        let sms = SmsSettings::read(src, &rules)?;
        let auth = auth::read(src, &server, &sms)?;
        let metrics = MetricsSettings::read(src, server.addr)?;
        let redis = RedisSettings::read(src)?;
        let shutdown = ShutdownSettings::read(src)?;
        Ok(Self {
            mode: rules.mode,
            mode_reason: rules.reason,
            allow_outbox_in_production: rules.allow_outbox_in_production,
            server,
            data_dir,
            database,
            secret,
            totp_keys,
            auth,
            hashing,
            email,
            sms,
            metrics,
            redis,
            shutdown,
        })
    }

    pub fn outbox_enabled(&self) -> bool {
        matches!(self.email, EmailConfig::Outbox) || matches!(self.sms.provider, SmsProvider::Outbox)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use app::domain::CodePolicy;

    use super::helpers::source as src;
    use super::*;

    #[test]
    fn defaults_are_sensible() {
        let c = Config::from_source(&src(&[])).unwrap();
        assert_eq!(c.mode, Mode::Development);
        assert_eq!(c.server.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(c.server.public_url, "http://127.0.0.1:3000");
        assert_eq!(c.auth.public_host, "127.0.0.1");
        assert_eq!(c.auth.code, CodePolicy::default());
        assert_eq!(c.auth.code_ttl, Duration::from_secs(600));
        assert_eq!(c.auth.max_attempts, 5);
        assert!(c.database.url.starts_with("sqlite://data/passcode.db"));
        assert!(c.outbox_enabled());
        assert_eq!(c.auth.limits.resend_cooldown, Duration::from_secs(30));
        assert!(c.server.proxies.nets.is_empty());
        assert_eq!(c.server.proxies.header, app::web::ForwardedHeader::XForwardedFor);
        assert_eq!(c.server.cookie_domain, None);
        let secret = "ab".repeat(32);
        let c = Config::from_source(&src(&[
            ("PASSCODE_SECRET", &secret),
            ("PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION", "true"),
            ("PASSCODE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7"),
            ("PASSCODE_FORWARDED_HEADER", "X-Real-IP"),
        ]))
        .unwrap();
        assert_eq!(c.mode, Mode::Production, "a proxy in front means a deployment");
        assert_eq!(c.server.proxies.nets.len(), 2);
        assert_eq!(c.server.proxies.header, app::web::ForwardedHeader::XRealIp);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("PASSCODE_CODE_LENGTH", "4"),
            ("PASSCODE_CODE_LENGTH", "six"),
            ("PASSCODE_CODE_ALPHABET", "emoji"),
            ("PASSCODE_MAX_ATTEMPTS", "0"),
            ("PASSCODE_PUBLIC_URL", "example.com"),
            ("PASSCODE_PUBLIC_URL", "https://example.com/login"),
            ("PASSCODE_SECRET", "abcd"),
            ("PASSCODE_ENV", "staging"),
            ("PASSCODE_DEFAULT_REGION", "Britain"),
            ("DATABASE_URL", "mysql://x"),
            ("PASSCODE_DB_ACQUIRE_TIMEOUT_MS", "5"),
            ("PASSCODE_TRUSTED_PROXIES", "10.0.0.0/8, proxy.example"),
            ("PASSCODE_CODES_PER_HOUR", "0"),
            ("LEPTOS_ENV", "staging"),
            ("PASSCODE_SMS_PROVIDER", "carrier-pigeon"),
            ("PASSCODE_SMS_COUNTRIES", "44,uk"),
            ("PASSCODE_FORWARDED_HEADER", "x-forwarded-host"),
            ("PASSCODE_COOKIE_DOMAIN", "com"),
        ] {
            // By name, so that deployment settings (a proxy) are read too.
            let env = if var == "PASSCODE_ENV" { ("PASSCODE_LOG", "info") } else { ("PASSCODE_ENV", "development") };
            let e = Config::from_source(&src(&[env, (var, value)])).unwrap_err();
            assert_eq!(e.var, var, "{value}: {e}");
        }
    }
}
