//! Configuration: environment variables (and `.env`, loaded by main), parsed
//! once at start-up into `Config`. A bad value stops start-up with a message
//! that names the variable. Every variable is listed in README.md.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use app::auth::{HashParams, Limits};
use app::delivery::{SmtpSecurity, SmtpSettings};
use app::domain::{CodeAlphabet, CodePolicy, EmailAddress};
use leptos::config::LeptosOptions;

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError { var, message: message.into() }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Development,
    Production,
}

/// How email leaves: SMTP when `PASSCODE_SMTP_URL` is set, else the dev
/// outbox.
#[derive(Debug, Clone)]
pub enum EmailConfig {
    Outbox,
    Smtp(SmtpSettings),
}

/// How text messages leave.
#[derive(Debug, Clone)]
pub enum SmsConfig {
    /// Not at all: phone numbers are turned away with a message saying so.
    Off,
    /// Into the dev outbox, with the email.
    Outbox,
    Twilio {
        base_url: String,
        account_sid: String,
        auth_token: Secret,
        sender: app::delivery::TwilioSender,
    },
    Webhook {
        url: String,
        token: Secret,
    },
}

/// A secret that never prints.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn expose_str(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    pub(crate) fn parse_hex(var: &'static str, s: &str) -> Result<Self, ConfigError> {
        const HOW: &str =
            "must be 32 to 128 bytes written as hex (64 to 256 hex digits); generate one with `openssl rand -hex 32`";
        // The hex crate takes exactly pairs of hex digits: no sign, no
        // spaces, and no panic on input that is not ASCII.
        let bytes = hex::decode(s.trim()).map_err(|_| err(var, HOW))?;
        if !(32..=128).contains(&bytes.len()) {
            return Err(err(var, HOW));
        }
        Ok(Self(bytes))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    /// Why `mode` applies, in words for logs and error messages.
    pub mode_reason: String,
    pub addr: SocketAddr,
    /// Scheme, host and port the world uses to reach us, no trailing slash.
    pub public_url: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub pool: crate::db::PoolSettings,
    /// How often expired rows are deleted.
    pub purge_interval_secs: u64,
    pub audit_retention_days: i64,
    /// `None`: generate one in `data_dir` (development only).
    pub secret: Option<Secret>,
    pub code: CodePolicy,
    pub code_ttl: Duration,
    pub max_attempts: u32,
    pub session_ttl: Duration,
    pub default_region: Option<String>,
    pub argon2: HashParams,
    pub hash_concurrency: usize,
    /// Longest a request waits for a hashing slot before it is told "busy".
    pub hash_max_wait: std::time::Duration,
    pub email: EmailConfig,
    pub email_code_in_subject: bool,
    pub allow_outbox_in_production: bool,
    pub max_body_bytes: usize,
    pub limits: Limits,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub sms: SmsConfig,
    pub sms_timeout_ms: u64,
    pub sms_max_in_flight: usize,
    pub sms_countries: Option<Vec<u16>>,
    pub leptos: LeptosOptions,
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

fn parse<T: FromStr>(src: &dyn Source, var: &'static str, default: T, what: &str) -> Result<T, ConfigError> {
    match src.get(var) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|_| err(var, format!("expected {what}, got {raw:?}"))),
    }
}

/// `var` parsed as a number between `lo` and `hi` (inclusive), or `default`.
fn ranged<T: FromStr + PartialOrd + fmt::Display + Copy>(
    src: &dyn Source,
    var: &'static str,
    default: T,
    what: &str,
    lo: T,
    hi: T,
) -> Result<T, ConfigError> {
    let v = parse(src, var, default, what)?;
    if v < lo || v > hi {
        return Err(err(var, format!("must be between {lo} and {hi}, got {v}")));
    }
    Ok(v)
}

fn parse_bool(src: &dyn Source, var: &'static str) -> Result<bool, ConfigError> {
    match src.get(var).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(err(var, format!("expected true or false, got {v:?}"))),
    }
}

/// The Leptos settings embedded from Leptos.toml, with the LEPTOS_* variables
/// that cargo-leptos sets taking precedence.
pub fn leptos_options(src: &dyn Source) -> Result<LeptosOptions, ConfigError> {
    let base = leptos::config::get_config_from_str(include_str!("../../Leptos.toml"))
        .map_err(|e| err("Leptos.toml", e.to_string()))?;
    let mut options = base;
    if let Some(root) = src.get("LEPTOS_SITE_ROOT") {
        options.site_root = root.into();
    }
    if let Some(dir) = src.get("LEPTOS_SITE_PKG_DIR") {
        options.site_pkg_dir = dir.into();
    }
    if let Some(name) = src.get("LEPTOS_OUTPUT_NAME") {
        options.output_name = name.into();
    }
    if let Some(addr) = src.get("LEPTOS_SITE_ADDR") {
        options.site_addr =
            addr.parse().map_err(|_| err("LEPTOS_SITE_ADDR", format!("expected host:port, got {addr:?}")))?;
    }
    if let Some(port) = src.get("LEPTOS_RELOAD_PORT") {
        options.reload_port = port.parse().map_err(|_| err("LEPTOS_RELOAD_PORT", "expected a port number"))?;
    }
    if let Some(env) = src.get("LEPTOS_ENV") {
        // `From<&str>` would panic on a bad value; `TryFrom<String>` reports it.
        options.env = leptos::config::Env::try_from(env).map_err(|_| err("LEPTOS_ENV", "expected DEV or PROD"))?;
    }
    Ok(options)
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&Env)
    }

    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let explicit_mode = match src.get("PASSCODE_ENV").map(|v| v.trim().to_ascii_lowercase()) {
            None => None,
            Some(v) if v == "development" || v == "dev" => Some(Mode::Development),
            Some(v) if v == "production" || v == "prod" => Some(Mode::Production),
            Some(v) => return Err(err("PASSCODE_ENV", format!("expected development or production, got {v:?}"))),
        };
        let mut leptos = leptos_options(src)?;
        let addr: SocketAddr = parse(src, "PASSCODE_ADDR", leptos.site_addr, "an address like 127.0.0.1:3000")?;
        leptos.site_addr = addr;

        let public_url = match src.get("PASSCODE_PUBLIC_URL") {
            Some(raw) => public_origin("PASSCODE_PUBLIC_URL", &raw)?,
            None => public_origin("PASSCODE_ADDR", &format!("http://{addr}")).map_err(|_| {
                err(
                    "PASSCODE_PUBLIC_URL",
                    format!(
                        "is required when listening on {addr}: set it to the https:// origin people use \
                         (or http://127.0.0.1:PORT for development on this machine)"
                    ),
                )
            })?,
        };
        let (mode, mode_reason) = decide_mode(explicit_mode, &public_url, addr, deployment_sign(src))?;
        let public_url = public_url.origin().ascii_serialization();

        let data_dir = PathBuf::from(src.get("PASSCODE_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = src
            .get("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("passcode.db").display()));
        let Some(backend) = crate::db::Backend::of(&database_url) else {
            return Err(err("DATABASE_URL", "expected a sqlite:// or postgres:// URL"));
        };
        let defaults = crate::db::PoolSettings::for_backend(backend);
        let pool = crate::db::PoolSettings {
            max_connections: ranged(src, "PASSCODE_DB_MAX_CONNECTIONS", defaults.max_connections, "a number", 1, 1000)?,
            acquire_timeout: std::time::Duration::from_millis(ranged(
                src,
                "PASSCODE_DB_ACQUIRE_TIMEOUT_MS",
                defaults.acquire_timeout.as_millis() as u64,
                "milliseconds",
                100,
                60_000,
            )?),
            statement_timeout: std::time::Duration::from_millis(ranged(
                src,
                "PASSCODE_DB_STATEMENT_TIMEOUT_MS",
                defaults.statement_timeout.as_millis() as u64,
                "milliseconds",
                100,
                600_000,
            )?),
        };
        let purge_interval_secs = ranged(src, "PASSCODE_PURGE_INTERVAL_SECS", 600u64, "seconds", 1, 86_400)?;
        let audit_retention_days = ranged(src, "PASSCODE_AUDIT_RETENTION_DAYS", 90i64, "days", 1, 3650)?;

        let secret = src.get("PASSCODE_SECRET").map(|s| Secret::parse_hex("PASSCODE_SECRET", &s)).transpose()?;
        if secret.is_none() && mode == Mode::Production {
            return Err(err(
                "PASSCODE_SECRET",
                format!("is required with production rules ({mode_reason}); generate one with `openssl rand -hex 32`"),
            ));
        }

        let length =
            ranged(src, "PASSCODE_CODE_LENGTH", 6usize, "a number", CodePolicy::MIN_LENGTH, CodePolicy::MAX_LENGTH)?;
        let alphabet = match src.get("PASSCODE_CODE_ALPHABET").map(|v| v.to_ascii_lowercase()) {
            None => CodeAlphabet::Digits,
            Some(v) if v == "digits" => CodeAlphabet::Digits,
            Some(v) if v == "alphanumeric" => CodeAlphabet::Alphanumeric,
            Some(v) => {
                return Err(err("PASSCODE_CODE_ALPHABET", format!("expected digits or alphanumeric, got {v:?}")));
            }
        };
        let code_ttl = Duration::from_secs(ranged(src, "PASSCODE_CODE_TTL_SECS", 600u64, "seconds", 1, 3600)?);
        let max_attempts = ranged(src, "PASSCODE_MAX_ATTEMPTS", 5u32, "a number", 1, 10)?;
        let session_ttl = Duration::from_secs(ranged(
            src,
            "PASSCODE_SESSION_TTL_SECS",
            30 * 24 * 3600u64,
            "seconds",
            60,
            400 * 24 * 3600,
        )?);
        let default_region = src.get("PASSCODE_DEFAULT_REGION").map(|r| r.trim().to_ascii_uppercase());
        if let Some(region) = &default_region
            && (region.len() != 2 || !region.chars().all(|c| c.is_ascii_alphabetic()))
        {
            return Err(err(
                "PASSCODE_DEFAULT_REGION",
                format!("expected a two-letter region like GB or US, got {region:?}"),
            ));
        }
        let defaults = HashParams::default();
        let argon2 = HashParams {
            memory_kib: ranged(src, "PASSCODE_ARGON2_MEMORY_KIB", defaults.memory_kib, "KiB", 1024, 1024 * 1024)?,
            iterations: ranged(src, "PASSCODE_ARGON2_ITERATIONS", defaults.iterations, "a number", 1, 10)?,
            parallelism: ranged(src, "PASSCODE_ARGON2_PARALLELISM", defaults.parallelism, "a number", 1, 16)?,
        };
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let hash_concurrency = ranged(src, "PASSCODE_HASH_CONCURRENCY", cores * 2, "a number", 1, 1024)?;
        let hash_max_wait = std::time::Duration::from_millis(ranged(
            src,
            "PASSCODE_HASH_MAX_WAIT_MS",
            2000u64,
            "milliseconds",
            1,
            60_000,
        )?);
        let email = match src.get("PASSCODE_SMTP_URL") {
            None => EmailConfig::Outbox,
            Some(url) => EmailConfig::Smtp(smtp_config(src, &url)?),
        };
        let email_code_in_subject = parse_bool(src, "PASSCODE_EMAIL_CODE_IN_SUBJECT")?;
        let allow_outbox_in_production = parse_bool(src, "PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION")?;
        let outbox_refused = |var: &'static str, what: &str| {
            err(
                var,
                format!(
                    "{what}: the development outbox shows every code to anyone who opens /dev/outbox; \
                     configure real delivery (see README), or set PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION=true \
                     if you really mean it"
                ),
            )
        };
        if mode == Mode::Production && matches!(email, EmailConfig::Outbox) && !allow_outbox_in_production {
            return Err(outbox_refused(
                "PASSCODE_SMTP_URL",
                &format!("is required with production rules ({mode_reason})"),
            ));
        }
        let d = Limits::default();
        let limits = Limits {
            resend_cooldown: Duration::from_secs(ranged(
                src,
                "PASSCODE_RESEND_COOLDOWN_SECS",
                d.resend_cooldown.as_secs(),
                "seconds",
                1,
                3600,
            )?),
            codes_per_hour: ranged(src, "PASSCODE_CODES_PER_HOUR", d.codes_per_hour, "a number", 1, 1000)?,
            codes_per_day: ranged(src, "PASSCODE_CODES_PER_DAY", d.codes_per_day, "a number", 1, 10_000)?,
            failures_per_hour: ranged(src, "PASSCODE_FAILURES_PER_HOUR", d.failures_per_hour, "a number", 1, 1000)?,
            lockout: Duration::from_secs(ranged(
                src,
                "PASSCODE_LOCKOUT_SECS",
                d.lockout.as_secs(),
                "seconds",
                1,
                86_400,
            )?),
            ip_sends_per_10_min: ranged(
                src,
                "PASSCODE_IP_SENDS_PER_10_MIN",
                d.ip_sends_per_10_min,
                "a number",
                1,
                1_000_000,
            )?,
            ip_send_burst: ranged(src, "PASSCODE_IP_SEND_BURST", d.ip_send_burst, "a number", 1, 1_000_000)?,
            ip_verifies_per_10_min: ranged(
                src,
                "PASSCODE_IP_VERIFIES_PER_10_MIN",
                d.ip_verifies_per_10_min,
                "a number",
                1,
                1_000_000,
            )?,
            ip_verify_burst: ranged(src, "PASSCODE_IP_VERIFY_BURST", d.ip_verify_burst, "a number", 1, 1_000_000)?,
            sms_per_hour: ranged(src, "PASSCODE_SMS_PER_HOUR", d.sms_per_hour, "a number", 0, 10_000_000)?,
            sms_per_ip_per_hour: ranged(
                src,
                "PASSCODE_SMS_PER_IP_PER_HOUR",
                d.sms_per_ip_per_hour,
                "a number",
                1,
                1_000_000,
            )?,
        };
        let trusted_proxies = match src.get("PASSCODE_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<ipnet::IpNet>()
                        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| {
                            err(
                                "PASSCODE_TRUSTED_PROXIES",
                                format!("expected addresses or CIDRs like 10.0.0.0/8, got {s:?}"),
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        let required =
            |var: &'static str| src.get(var).ok_or_else(|| err(var, "is required for this PASSCODE_SMS_PROVIDER"));
        // Provider credentials travel with every request: https only, except
        // to this machine.
        let provider_url = |var: &'static str, raw: String| {
            let url = config_url(var, &raw, "https://api.example.com")?;
            match url.scheme() {
                "https" => Ok(raw.trim().to_owned()),
                "http" if is_loopback(&url) => Ok(raw.trim().to_owned()),
                _ => Err(err(var, format!("must be https:// (plain http only to this machine), got {raw:?}"))),
            }
        };
        let sms_provider = src.get("PASSCODE_SMS_PROVIDER").map(|v| v.trim().to_ascii_lowercase());
        let sms = match sms_provider.as_deref() {
            // Development shows texts in the outbox; production sends none
            // until a provider is configured.
            None if mode == Mode::Production => SmsConfig::Off,
            None | Some("outbox") => {
                if mode == Mode::Production && !allow_outbox_in_production {
                    return Err(outbox_refused("PASSCODE_SMS_PROVIDER", "outbox in production"));
                }
                SmsConfig::Outbox
            }
            Some("off") => SmsConfig::Off,
            Some("twilio") => {
                let sender = match (src.get("PASSCODE_TWILIO_FROM"), src.get("PASSCODE_TWILIO_MESSAGING_SERVICE_SID")) {
                    (Some(from), None) => app::delivery::TwilioSender::From(from),
                    (None, Some(sid)) => app::delivery::TwilioSender::MessagingService(sid),
                    _ => {
                        return Err(err(
                            "PASSCODE_TWILIO_FROM",
                            "set exactly one of PASSCODE_TWILIO_FROM and PASSCODE_TWILIO_MESSAGING_SERVICE_SID",
                        ));
                    }
                };
                SmsConfig::Twilio {
                    base_url: provider_url(
                        "PASSCODE_SMS_BASE_URL",
                        src.get("PASSCODE_SMS_BASE_URL").unwrap_or_else(|| "https://api.twilio.com".into()),
                    )?,
                    account_sid: required("PASSCODE_TWILIO_ACCOUNT_SID")?,
                    auth_token: Secret(required("PASSCODE_TWILIO_AUTH_TOKEN")?.into_bytes()),
                    sender,
                }
            }
            Some("webhook") => SmsConfig::Webhook {
                url: provider_url("PASSCODE_SMS_WEBHOOK_URL", required("PASSCODE_SMS_WEBHOOK_URL")?)?,
                token: Secret(required("PASSCODE_SMS_WEBHOOK_TOKEN")?.into_bytes()),
            },
            Some(other) => {
                return Err(err(
                    "PASSCODE_SMS_PROVIDER",
                    format!("expected twilio, webhook, off or outbox, got {other:?}"),
                ));
            }
        };
        let sms_timeout_ms = ranged(src, "PASSCODE_SMS_TIMEOUT_MS", 10_000u64, "milliseconds", 100, 120_000)?;
        let sms_max_in_flight = ranged(src, "PASSCODE_SMS_MAX_IN_FLIGHT", 32usize, "a number", 1, 10_000)?;
        let sms_countries = match src.get("PASSCODE_SMS_COUNTRIES") {
            None => None,
            Some(list) => Some(
                list.split(',')
                    .map(|c| c.trim().trim_start_matches('+'))
                    .filter(|c| !c.is_empty())
                    .map(|c| {
                        c.parse::<u16>().map_err(|_| {
                            err("PASSCODE_SMS_COUNTRIES", format!("expected calling codes like 44,1,49, got {c:?}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let max_body_bytes = ranged(src, "PASSCODE_MAX_BODY_BYTES", 16 * 1024usize, "bytes", 1024, 1024 * 1024)?;

        Ok(Self {
            mode,
            mode_reason,
            addr,
            public_url,
            data_dir,
            database_url,
            pool,
            purge_interval_secs,
            audit_retention_days,
            secret,
            code: CodePolicy { length, alphabet },
            code_ttl,
            max_attempts,
            session_ttl,
            default_region,
            argon2,
            hash_concurrency,
            hash_max_wait,
            email,
            email_code_in_subject,
            allow_outbox_in_production,
            max_body_bytes,
            limits,
            trusted_proxies,
            sms,
            sms_timeout_ms,
            sms_max_in_flight,
            sms_countries,
            leptos,
        })
    }

    /// The host part of the public URL (for the SMS WebOTP line).
    pub fn public_host(&self) -> &str {
        let rest = self.public_url.split_once("://").map_or(self.public_url.as_str(), |(_, r)| r);
        rest.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(rest, |(h, _)| h)
    }

    pub fn outbox_enabled(&self) -> bool {
        matches!(self.email, EmailConfig::Outbox) || matches!(self.sms, SmsConfig::Outbox)
    }
}

/// Every URL the configuration reads is parsed here, so hosts are compared
/// as hosts (`http://localhost.attacker.example` is not this machine). The
/// message never echoes the URL: it may carry a password.
fn config_url(var: &'static str, raw: &str, example: &str) -> Result<url::Url, ConfigError> {
    let url = url::Url::parse(raw.trim()).map_err(|e| err(var, format!("expected a URL like {example} ({e})")))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(err(var, format!("expected a URL with a host, like {example}")));
    }
    Ok(url)
}

/// Whether a URL's host is this machine: `localhost`, 127.0.0.0/8 or ::1.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            d.eq_ignore_ascii_case("localhost") || d.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The origin people reach us at: http(s), a host, maybe a port, nothing
/// else. Plain http only for this machine: our cookies are `Secure`, so a
/// browser would drop them on any other http origin.
fn public_origin(var: &'static str, raw: &str) -> Result<url::Url, ConfigError> {
    const EXAMPLE: &str = "https://login.example.com";
    let url = config_url(var, raw, EXAMPLE)?;
    let only_origin = matches!(url.path(), "" | "/")
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !only_origin {
        return Err(err(var, format!("expected an origin like {EXAMPLE} (no path, query or user), got {raw:?}")));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(err(var, format!("must be https:// (plain http only for 127.0.0.1 or localhost), got {raw:?}"))),
        _ => Err(err(var, format!("expected an origin like {EXAMPLE}, got {raw:?}"))),
    }
}

/// Settings only a deployment has: a proxy in front (its traffic arrives
/// from this machine, so the URL and listener alone can look local), a mail
/// server elsewhere, a real SMS provider.
fn deployment_sign(src: &dyn Source) -> Option<String> {
    if src.get("PASSCODE_TRUSTED_PROXIES").is_some() {
        return Some(
            "PASSCODE_TRUSTED_PROXIES is set: a proxy forwards other machines' requests \
             (PASSCODE_ENV=development to develop behind one on this machine)"
                .into(),
        );
    }
    if let Some(raw) = src.get("PASSCODE_SMTP_URL")
        && url::Url::parse(raw.trim()).is_ok_and(|u| u.host_str().is_some() && !is_loopback(&u))
    {
        return Some(
            "PASSCODE_SMTP_URL is a mail server on another machine (PASSCODE_ENV=development to develop with it)"
                .into(),
        );
    }
    let provider = src.get("PASSCODE_SMS_PROVIDER").map(|p| p.trim().to_ascii_lowercase());
    if matches!(provider.as_deref(), Some("twilio" | "webhook")) {
        return Some("an SMS provider is configured (PASSCODE_ENV=development to develop with it)".into());
    }
    None
}

/// Development rules (the outbox, a generated secret, texts to the outbox)
/// only for a server nobody else can reach, or when asked for by name on a
/// loopback URL. Anything that looks like a deployment gets production rules.
fn decide_mode(
    explicit: Option<Mode>,
    public_url: &url::Url,
    addr: SocketAddr,
    deployment: Option<String>,
) -> Result<(Mode, String), ConfigError> {
    let local_url = is_loopback(public_url);
    let local_listener = addr.ip().is_loopback();
    let origin = public_url.origin().ascii_serialization();
    Ok(match explicit {
        Some(Mode::Production) => (Mode::Production, "PASSCODE_ENV=production".into()),
        Some(Mode::Development) if !local_url => {
            return Err(err(
                "PASSCODE_ENV",
                format!(
                    "development shows every code to anyone at /dev/outbox, so it needs a PASSCODE_PUBLIC_URL \
                     on this machine (http://127.0.0.1:PORT or http://localhost:PORT), not {origin}; \
                     for a deployment leave PASSCODE_ENV unset or set it to production"
                ),
            ));
        }
        Some(Mode::Development) => (Mode::Development, "PASSCODE_ENV=development".into()),
        None if !local_url => (Mode::Production, format!("the public URL {origin} is not this machine")),
        None if !local_listener => {
            (Mode::Production, format!("the server listens on {addr}, which other machines can reach"))
        }
        None if deployment.is_some() => (Mode::Production, deployment.unwrap_or_default()),
        None => (Mode::Development, format!("the public URL {origin} and the listener {addr} are this machine's")),
    })
}

/// `smtp://user:pass@host:587` (STARTTLS, required), `smtps://user:pass@host:465`
/// (TLS from the start) or `smtp://127.0.0.1:1025` (no TLS: loopback only).
fn smtp_config(src: &dyn Source, raw: &str) -> Result<SmtpSettings, ConfigError> {
    const VAR: &str = "PASSCODE_SMTP_URL";
    // The URL may hold a password: messages describe it without echoing it.
    let url = config_url(VAR, raw, "smtp://user:password@smtp.example.com:587")?;
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| err(VAR, "has no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let loopback = is_loopback(&url);
    let (security, default_port) = match url.scheme() {
        "smtps" => (SmtpSecurity::ImplicitTls, 465),
        "smtp" if loopback => (SmtpSecurity::None, 25),
        "smtp" => (SmtpSecurity::StartTls, 587),
        other => return Err(err(VAR, format!("expected smtp:// or smtps://, got {other}://"))),
    };
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(err(VAR, "takes no path or options: smtp://user:password@host:port or smtps://…"));
    }
    let decode = |part: &str| percent_encoding::percent_decode_str(part).decode_utf8_lossy().into_owned();
    let username = Some(decode(url.username())).filter(|u| !u.is_empty());
    let password = url.password().map(decode);
    if username.is_some() != password.is_some() {
        return Err(err(VAR, "give both a user name and a password, or neither"));
    }
    let from = src
        .get("PASSCODE_EMAIL_FROM")
        .ok_or_else(|| err("PASSCODE_EMAIL_FROM", "is required with PASSCODE_SMTP_URL"))?;
    let from_address = EmailAddress::parse(&from).map_err(|_| {
        err("PASSCODE_EMAIL_FROM", format!("expected an address like sign-in@example.com, got {from:?}"))
    })?;
    let from_name = src.get("PASSCODE_EMAIL_FROM_NAME").unwrap_or_else(|| "Passcode".into()).trim().to_owned();
    if from_name.chars().any(char::is_control) || from_name.chars().count() > 64 {
        return Err(err("PASSCODE_EMAIL_FROM_NAME", "must be one line of at most 64 characters"));
    }
    Ok(SmtpSettings {
        port: url.port().unwrap_or(default_port),
        host,
        security,
        username,
        password,
        from_address,
        from_name,
        timeout: std::time::Duration::from_secs(ranged(src, "PASSCODE_SMTP_TIMEOUT_SECS", 10u64, "seconds", 1, 120)?),
        pool_size: ranged(src, "PASSCODE_SMTP_POOL_SIZE", 4u32, "a number", 1, 100)?,
        max_in_flight: ranged(src, "PASSCODE_EMAIL_MAX_IN_FLIGHT", 32usize, "a number", 1, 10_000)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_sensible() {
        let c = Config::from_source(&src(&[])).unwrap();
        assert_eq!(c.mode, Mode::Development);
        assert_eq!(c.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(c.public_url, "http://127.0.0.1:3000");
        assert_eq!(c.public_host(), "127.0.0.1");
        assert_eq!(c.code, CodePolicy::default());
        assert_eq!(c.code_ttl, Duration::from_secs(600));
        assert_eq!(c.max_attempts, 5);
        assert!(c.database_url.starts_with("sqlite://data/passcode.db"));
        assert!(c.outbox_enabled());
        assert_eq!(c.limits.resend_cooldown, Duration::from_secs(30));
        assert!(c.trusted_proxies.is_empty());
        let c = Config::from_source(&src(&[
            ("PASSCODE_ENV", "development"),
            ("PASSCODE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7"),
        ]))
        .unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
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
        ] {
            // By name, so that deployment settings (a proxy) are read too.
            let env = if var == "PASSCODE_ENV" { ("PASSCODE_LOG", "info") } else { ("PASSCODE_ENV", "development") };
            let e = Config::from_source(&src(&[env, (var, value)])).unwrap_err();
            assert_eq!(e.var, var, "{value}: {e}");
        }
    }

    #[test]
    fn production_refuses_the_outbox_and_a_missing_secret() {
        let secret = "ab".repeat(32);
        let e = Config::from_source(&src(&[("PASSCODE_ENV", "production")])).unwrap_err();
        assert_eq!(e.var, "PASSCODE_SECRET");
        let e = Config::from_source(&src(&[("PASSCODE_ENV", "production"), ("PASSCODE_SECRET", &secret)])).unwrap_err();
        assert_eq!(e.var, "PASSCODE_SMTP_URL");
        let smtp = [
            ("PASSCODE_ENV", "production"),
            ("PASSCODE_SECRET", secret.as_str()),
            ("PASSCODE_SMTP_URL", "smtp://apikey:s3cret@smtp.example.com"),
            ("PASSCODE_EMAIL_FROM", "sign-in@example.com"),
        ];
        let c = Config::from_source(&src(&smtp)).unwrap();
        // Production sends no texts until a provider is configured.
        assert!(matches!(c.sms, SmsConfig::Off));
        assert!(!c.outbox_enabled());
        let e =
            Config::from_source(&src(&[smtp.as_slice(), &[("PASSCODE_SMS_PROVIDER", "outbox")]].concat())).unwrap_err();
        assert_eq!(e.var, "PASSCODE_SMS_PROVIDER");
        let c = Config::from_source(&src(&[
            ("PASSCODE_ENV", "production"),
            ("PASSCODE_SECRET", &secret),
            ("PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION", "true"),
        ]))
        .unwrap();
        assert!(c.allow_outbox_in_production);
        assert!(!format!("{c:?}").contains(&secret));
    }

    #[test]
    fn smtp_urls_say_how_the_connection_is_protected() {
        let smtp = |url: &str| {
            Config::from_source(&src(&[
                ("PASSCODE_ENV", "development"),
                ("PASSCODE_SMTP_URL", url),
                ("PASSCODE_EMAIL_FROM", "sign-in@example.com"),
            ]))
            .map(|c| match c.email {
                EmailConfig::Smtp(s) => s,
                EmailConfig::Outbox => panic!("SMTP URL ignored"),
            })
        };
        let s = smtp("smtp://apikey:p%40ss%2Fword@smtp.example.com").unwrap();
        assert_eq!((s.host.as_str(), s.port, s.security), ("smtp.example.com", 587, SmtpSecurity::StartTls));
        assert_eq!(s.username.as_deref(), Some("apikey"));
        assert_eq!(s.password.as_deref(), Some("p@ss/word"));
        assert!(!format!("{s:?}").contains("p@ss"));
        let s = smtp("smtps://u:p@smtp.example.com").unwrap();
        assert_eq!((s.port, s.security), (465, SmtpSecurity::ImplicitTls));
        // Plain SMTP only to this machine (a local relay, maildev).
        let s = smtp("smtp://127.0.0.1:1025").unwrap();
        assert_eq!((s.port, s.security, s.username), (1025, SmtpSecurity::None, None));
        assert_eq!(smtp("smtp://[::1]:1025").unwrap().security, SmtpSecurity::None);
        assert_eq!(smtp("smtp://smtp.example.com:25").unwrap().security, SmtpSecurity::StartTls);
        for bad in ["http://smtp.example.com", "smtp://u@smtp.example.com", "smtp://h.example.com?tls=none", "nonsense"]
        {
            let e = smtp(bad).unwrap_err();
            assert_eq!(e.var, "PASSCODE_SMTP_URL", "{bad}");
        }
        let e = Config::from_source(&src(&[
            ("PASSCODE_ENV", "development"),
            ("PASSCODE_SMTP_URL", "smtp://u:hunter2@smtp.example.com"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "PASSCODE_EMAIL_FROM");
        let e = smtp("smtp://u:hunter2@smtp.example.com:notaport").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = Config::from_source(&src(&[
            ("PASSCODE_SMTP_URL", "smtp://127.0.0.1:1025"),
            ("PASSCODE_EMAIL_FROM", "sign-in@example.com\r\nBcc: x@example.com"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "PASSCODE_EMAIL_FROM");
    }

    #[test]
    fn sms_provider_urls_must_be_https_except_to_localhost() {
        let twilio = |base: &str| {
            Config::from_source(&src(&[
                ("PASSCODE_ENV", "development"),
                ("PASSCODE_SMS_PROVIDER", "twilio"),
                ("PASSCODE_SMS_BASE_URL", base),
                ("PASSCODE_TWILIO_ACCOUNT_SID", "AC1"),
                ("PASSCODE_TWILIO_AUTH_TOKEN", "t"),
                ("PASSCODE_TWILIO_FROM", "+15005550006"),
            ]))
        };
        assert!(twilio("https://api.example.com").is_ok());
        assert!(twilio("http://127.0.0.1:9000").is_ok());
        assert_eq!(twilio("http://api.example.com").unwrap_err().var, "PASSCODE_SMS_BASE_URL");
        // Hosts are compared as hosts, not as string prefixes.
        for bad in
            ["http://localhost.attacker.example", "http://127.0.0.1.attacker.example", "http://localhost@evil.example"]
        {
            assert_eq!(twilio(bad).unwrap_err().var, "PASSCODE_SMS_BASE_URL", "{bad}");
        }
        assert!(twilio("http://localhost:9000").is_ok());
        assert!(twilio("http://[::1]:9000").is_ok());
        let hook = Config::from_source(&src(&[
            ("PASSCODE_ENV", "development"),
            ("PASSCODE_SMS_PROVIDER", "webhook"),
            ("PASSCODE_SMS_WEBHOOK_URL", "http://gateway.example.com/send"),
            ("PASSCODE_SMS_WEBHOOK_TOKEN", "t"),
        ]));
        assert_eq!(hook.unwrap_err().var, "PASSCODE_SMS_WEBHOOK_URL");
    }

    /// Development rules only on this machine, or by name on a loopback URL.
    #[test]
    fn rules_follow_where_the_server_can_be_reached() {
        let secret = "ab".repeat(32);
        let mode = |pairs: &[(&str, &str)]| {
            let mut all = vec![
                ("PASSCODE_SECRET", secret.as_str()),
                ("PASSCODE_SMTP_URL", "smtp://127.0.0.1:1025"),
                ("PASSCODE_EMAIL_FROM", "sign-in@example.com"),
            ];
            all.extend_from_slice(pairs);
            Config::from_source(&src(&all)).map(|c| c.mode)
        };
        let (dev, prod) = (Mode::Development, Mode::Production);
        // (PASSCODE_ENV, public URL, listener) -> rules
        for (env, url, addr, expected) in [
            (None, None, None, dev),
            (None, Some("http://127.0.0.1:3000"), Some("127.0.0.1:3000"), dev),
            (None, Some("http://localhost:3000"), Some("127.0.0.1:3000"), dev),
            (None, Some("http://[::1]:3000"), Some("[::1]:3000"), dev),
            (None, Some("https://login.example.com"), None, prod),
            (None, Some("https://localhost.attacker.example"), None, prod),
            (None, Some("https://127.0.0.1.attacker.example"), None, prod),
            (None, Some("http://127.0.0.1:3000"), Some("0.0.0.0:3000"), prod),
            (Some("development"), Some("http://127.0.0.1:3000"), Some("127.0.0.1:3000"), dev),
            // Asked for by name on a loopback URL: allowed, with a loud warning.
            (Some("development"), Some("http://localhost:3000"), Some("0.0.0.0:3000"), dev),
            (Some("production"), None, None, prod),
            (Some("production"), Some("http://127.0.0.1:3000"), None, prod),
        ] {
            let mut pairs = Vec::new();
            pairs.extend(env.map(|v| ("PASSCODE_ENV", v)));
            pairs.extend(url.map(|v| ("PASSCODE_PUBLIC_URL", v)));
            pairs.extend(addr.map(|v| ("PASSCODE_ADDR", v)));
            assert_eq!(mode(&pairs).map_err(|e| e.to_string()), Ok(expected), "{pairs:?}");
        }
        // Development by name with a public URL: refused, naming the variable.
        let e = mode(&[("PASSCODE_ENV", "development"), ("PASSCODE_PUBLIC_URL", "https://login.example.com")]);
        assert_eq!(
            e.unwrap_err().to_string(),
            "configuration error: PASSCODE_ENV: development shows every code to anyone at /dev/outbox, so it needs a PASSCODE_PUBLIC_URL on this machine (http://127.0.0.1:PORT or http://localhost:PORT), not https://login.example.com; for a deployment leave PASSCODE_ENV unset or set it to production"
        );
        // Settings only a deployment has: production, unless asked by name.
        for sign in [
            ("PASSCODE_TRUSTED_PROXIES", "127.0.0.1"),
            ("PASSCODE_SMTP_URL", "smtp://u:p@smtp.example.com"),
            ("PASSCODE_SMS_PROVIDER", "webhook"),
        ] {
            let mut pairs = vec![
                ("PASSCODE_SECRET", secret.as_str()),
                ("PASSCODE_EMAIL_FROM", "sign-in@example.com"),
                ("PASSCODE_SMS_WEBHOOK_URL", "https://sms.example.com/send"),
                ("PASSCODE_SMS_WEBHOOK_TOKEN", "t"),
                ("PASSCODE_SMTP_URL", "smtp://127.0.0.1:1025"),
                sign,
            ];
            assert_eq!(Config::from_source(&src(&pairs)).unwrap().mode, Mode::Production, "{sign:?}");
            pairs.push(("PASSCODE_ENV", "development"));
            assert_eq!(Config::from_source(&src(&pairs)).unwrap().mode, Mode::Development, "{sign:?} by name");
        }
        // Listening everywhere with no public URL: the address is no origin.
        let e = Config::from_source(&src(&[("PASSCODE_ADDR", "0.0.0.0:3000")])).unwrap_err();
        assert_eq!(e.var, "PASSCODE_PUBLIC_URL");
        // The URL a deployment gives is kept as an origin.
        let c = Config::from_source(&src(&[
            ("PASSCODE_PUBLIC_URL", "https://Login.Example.com:443/"),
            ("PASSCODE_SECRET", &secret),
            ("PASSCODE_SMTP_URL", "smtp://127.0.0.1:1025"),
            ("PASSCODE_EMAIL_FROM", "sign-in@example.com"),
        ]))
        .unwrap();
        assert_eq!(c.public_url, "https://login.example.com");
        assert!(!c.outbox_enabled() && matches!(c.sms, SmsConfig::Off));
    }

    #[test]
    fn public_urls_are_origins_and_http_only_on_this_machine() {
        for bad in [
            "http://login.example.com",
            "http://localhost.attacker.example:3000",
            "https://user:pw@login.example.com",
            "https://login.example.com/?x=1",
            "https://login.example.com/#x",
            "ftp://login.example.com",
            "https://",
        ] {
            let e = Config::from_source(&src(&[("PASSCODE_PUBLIC_URL", bad)])).unwrap_err();
            assert_eq!(e.var, "PASSCODE_PUBLIC_URL", "{bad}");
        }
    }

    #[test]
    fn secrets_are_exactly_hex_pairs() {
        assert_eq!(Secret::parse_hex("S", &"ab".repeat(32)).unwrap().expose(), [0xab; 32]);
        assert_eq!(Secret::parse_hex("S", &format!(" {} ", "AB".repeat(128))).unwrap().expose().len(), 128);
        for bad in [
            "+f".repeat(32),
            "ab".repeat(31),
            "ab".repeat(129),
            format!("{}a", "ab".repeat(32)),
            "é".repeat(32),
            "a\u{301}".repeat(32),
            "zz".repeat(32),
        ] {
            let e = Secret::parse_hex("PASSCODE_SECRET", &bad).unwrap_err();
            assert_eq!(e.var, "PASSCODE_SECRET", "{bad}");
            assert!(!e.to_string().contains(&bad), "the message does not echo the value");
        }
    }

    #[test]
    fn leptos_toml_and_cargo_toml_agree() {
        let cargo: toml::Value = toml::from_str(include_str!("../../Cargo.toml")).unwrap();
        let meta = &cargo["workspace"]["metadata"]["leptos"][0];
        let leptos: toml::Value = toml::from_str(include_str!("../../Leptos.toml")).unwrap();
        let runtime = &leptos["package"]["metadata"]["leptos"];
        assert_eq!(meta["name"].as_str(), runtime["output-name"].as_str());
        assert_eq!(meta["name"].as_str(), Some(app::OUTPUT_NAME));
        for key in ["site-root", "site-pkg-dir", "site-addr", "reload-port"] {
            assert_eq!(meta[key], runtime[key], "{key} differs between Cargo.toml and Leptos.toml");
        }
    }
}
