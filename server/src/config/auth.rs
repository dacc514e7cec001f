//! Sign-in: the codes (`PASSCODE_CODE_*`, `PASSCODE_MAX_ATTEMPTS`), sessions,
//! the default phone region, how codes are hashed (`PASSCODE_ARGON2_*`,
//! `PASSCODE_HASH_*`) and the limits (docs/limits.md).

use std::time::Duration;

use app::auth::{AuthSettings, HashParams, Limits};
use app::domain::{CodeAlphabet, CodePolicy};

use super::email::code_in_subject;
use super::helpers::{parse_bool, ranged};
use super::server::ServerSettings;
use super::sms::{self, SmsProvider, SmsSettings};
use super::{ConfigError, Source, err};

/// The sign-in core's settings. Those read with another section come from
/// it: the public URL from the server's, texts from the SMS section, the
/// subject line from the email section.
pub(super) fn read(src: &dyn Source, server: &ServerSettings, sms: &SmsSettings) -> Result<AuthSettings, ConfigError> {
    let code = code_policy(src)?;
    let code_ttl = Duration::from_secs(ranged(src, "PASSCODE_CODE_TTL_SECS", 600u64, "seconds", 1, 3600)?);
    let max_attempts = ranged(src, "PASSCODE_MAX_ATTEMPTS", 5u32, "a number", 1, 10)?;
    let session_ttl = Duration::from_secs(ranged(
        src,
        "PASSCODE_SESSION_TTL_SECS",
        30 * 24 * 3600u64,
        "seconds",
        60,
        90 * 24 * 3600,
    )?);
    let session_idle = Duration::from_secs(ranged(
        src,
        "PASSCODE_SESSION_IDLE_SECS",
        7 * 24 * 3600u64,
        "seconds",
        60,
        90 * 24 * 3600,
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
    Ok(AuthSettings {
        code,
        code_ttl,
        max_attempts,
        session_ttl,
        session_idle,
        product_name: "Passcode".into(),
        public_url: server.public_url.clone(),
        public_host: server.public_host().to_owned(),
        email_code_in_subject: code_in_subject(src)?,
        sms_enabled: !matches!(sms.provider, SmsProvider::Off),
        limits: limits(src)?,
        sms_countries: sms::countries(src, default_region.as_deref())?,
        access: std::sync::Arc::new(super::access::read(src, default_region.as_deref())?),
        forward_auth_cache: Duration::from_millis(ranged(
            src,
            "PASSCODE_FORWARD_AUTH_CACHE_MS",
            1000u64,
            "milliseconds",
            0,
            10_000,
        )?),
        // On unless switched off; the auth core still leaves them off where
        // the public URL is an IP address (WebAuthn needs a domain).
        passkeys: src.get("PASSCODE_PASSKEYS").is_none() || parse_bool(src, "PASSCODE_PASSKEYS")?,
        fresh_proof: Duration::from_secs(ranged(src, "PASSCODE_FRESH_PROOF_SECS", 300u64, "seconds", 1, 3600)?),
        default_region,
    })
}

fn code_policy(src: &dyn Source) -> Result<CodePolicy, ConfigError> {
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
    Ok(CodePolicy { length, alphabet })
}

/// What `app::auth::CodeHasher` takes besides the secret.
#[derive(Debug, Clone)]
pub struct HashSettings {
    pub argon2: HashParams,
    /// Hashes in flight at once.
    pub concurrency: usize,
    /// Longest a request waits for a hashing slot before it is told "busy".
    pub max_wait: Duration,
}

impl HashSettings {
    pub(super) fn read(src: &dyn Source) -> Result<Self, ConfigError> {
        let defaults = HashParams::default();
        let argon2 = HashParams {
            memory_kib: ranged(src, "PASSCODE_ARGON2_MEMORY_KIB", defaults.memory_kib, "KiB", 1024, 1024 * 1024)?,
            iterations: ranged(src, "PASSCODE_ARGON2_ITERATIONS", defaults.iterations, "a number", 1, 10)?,
            parallelism: ranged(src, "PASSCODE_ARGON2_PARALLELISM", defaults.parallelism, "a number", 1, 16)?,
        };
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let concurrency = ranged(src, "PASSCODE_HASH_CONCURRENCY", cores * 2, "a number", 1, 1024)?;
        let max_wait =
            Duration::from_millis(ranged(src, "PASSCODE_HASH_MAX_WAIT_MS", 2000u64, "milliseconds", 1, 60_000)?);
        Ok(Self { argon2, concurrency, max_wait })
    }
}

fn limits(src: &dyn Source) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    Ok(Limits {
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
        lockout: Duration::from_secs(ranged(src, "PASSCODE_LOCKOUT_SECS", d.lockout.as_secs(), "seconds", 1, 86_400)?),
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
        ip_network_factor: ranged(src, "PASSCODE_IP_NETWORK_FACTOR", d.ip_network_factor, "a number", 1, 1000)?,
    })
}
