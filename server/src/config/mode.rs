//! Development or production rules: `PASSCODE_ENV`, what a deployment looks
//! like, and `PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION` (docs/configuration.md,
//! "Development or production rules").

use std::net::SocketAddr;

use super::email::SMTP_URL;
use super::helpers::{config_url, is_loopback, parse_bool};
use super::{ConfigError, Source, err};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Development,
    Production,
}

impl Mode {
    /// The rules asked for by name in `PASSCODE_ENV`, if any.
    pub(super) fn named(src: &dyn Source) -> Result<Option<Self>, ConfigError> {
        match src.get("PASSCODE_ENV").map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(None),
            Some(v) if v == "development" || v == "dev" => Ok(Some(Mode::Development)),
            Some(v) if v == "production" || v == "prod" => Ok(Some(Mode::Production)),
            Some(v) => Err(err("PASSCODE_ENV", format!("expected development or production, got {v:?}"))),
        }
    }
}

/// The rules in force, for the sections that read differently under them.
pub(super) struct Rules {
    pub mode: Mode,
    /// Why `mode` applies, in words for logs and error messages.
    pub reason: String,
    pub allow_outbox_in_production: bool,
}

impl Rules {
    pub(super) fn decide(
        src: &dyn Source,
        named: Option<Mode>,
        public_url: &url::Url,
        addr: SocketAddr,
    ) -> Result<Self, ConfigError> {
        // A proxy in front forwards other machines' requests to a listener
        // that looks local: development rules would show them every code.
        if src.get("PASSCODE_TRUSTED_PROXIES").is_some() && named == Some(Mode::Development) {
            return Err(err(
                "PASSCODE_ENV",
                "development can't be used with PASSCODE_TRUSTED_PROXIES: a proxy in front forwards other machines' \
                 requests, and development rules would show them every code. Leave PASSCODE_ENV unset (production \
                 rules), and for a test setup behind a proxy on this machine set \
                 PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION=true (the outbox then answers only requests made directly \
                 from this machine)",
            ));
        }
        let (mode, reason) = decide_mode(named, public_url, addr, deployment_sign(src))?;
        let allow_outbox_in_production = parse_bool(src, "PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION")?;
        Ok(Self { mode, reason, allow_outbox_in_production })
    }

    /// Refuses the development outbox under production rules, unless it is
    /// allowed by name; `var` and `what` say which use of it is refused.
    pub(super) fn check_outbox(&self, var: &'static str, what: &str) -> Result<(), ConfigError> {
        if self.mode == Mode::Production && !self.allow_outbox_in_production {
            return Err(err(
                var,
                format!(
                    "{what}: the development outbox shows every code to anyone who opens /dev/outbox; \
                     configure real delivery (see docs/configuration.md), or set PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION=true \
                     if you really mean it"
                ),
            ));
        }
        Ok(())
    }
}

/// Settings only a deployment has: a proxy in front (its traffic arrives
/// from this machine, so the URL and listener alone can look local), a mail
/// server elsewhere, a real SMS provider.
fn deployment_sign(src: &dyn Source) -> Option<String> {
    if src.get("PASSCODE_TRUSTED_PROXIES").is_some() {
        return Some("PASSCODE_TRUSTED_PROXIES is set: a proxy forwards other machines' requests".into());
    }
    if let Some(raw) = src.get("PASSCODE_SMTP_URL")
        && config_url("PASSCODE_SMTP_URL", &raw, &SMTP_URL).is_ok_and(|u| !is_loopback(&u))
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

#[cfg(test)]
mod tests {
    use super::super::helpers::source as src;
    use super::super::{Config, SmsProvider};
    use super::*;

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
        assert!(matches!(c.sms.provider, SmsProvider::Off));
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
        // Settings only a deployment has: production, unless asked by name
        // (and never with a proxy in front: see below).
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
            if sign.0 == "PASSCODE_TRUSTED_PROXIES" {
                let e = Config::from_source(&src(&pairs)).unwrap_err();
                assert_eq!(e.var, "PASSCODE_ENV");
                assert!(e.message.contains("PASSCODE_TRUSTED_PROXIES"), "{e}");
            } else {
                assert_eq!(Config::from_source(&src(&pairs)).unwrap().mode, Mode::Development, "{sign:?} by name");
            }
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
        assert_eq!(c.server.public_url, "https://login.example.com");
        assert!(!c.outbox_enabled() && matches!(c.sms.provider, SmsProvider::Off));
    }
}
