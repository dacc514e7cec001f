//! How email leaves: `PASSCODE_SMTP_URL` and the other `PASSCODE_SMTP_*` and
//! `PASSCODE_EMAIL_*` settings.

use app::delivery::{SmtpSecurity, SmtpSettings};
use app::domain::EmailAddress;

use super::helpers::{UrlRule, config_url, is_loopback, parse_bool, ranged};
use super::mode::Rules;
use super::{ConfigError, Source, err};

/// How email leaves: SMTP when `PASSCODE_SMTP_URL` is set, else the dev
/// outbox.
#[derive(Debug, Clone)]
pub enum EmailConfig {
    Outbox,
    Smtp(SmtpSettings),
}

/// `smtp://user:pass@host:587` (STARTTLS, required), `smtps://user:pass@host:465`
/// (TLS from the start) or `smtp://127.0.0.1:1025` (no TLS: loopback only).
pub(super) const SMTP_URL: UrlRule = UrlRule {
    example: "smtp://user:password@smtp.example.com:587",
    schemes: &["smtp", "smtps"],
    // smtp:// to another machine is held to STARTTLS instead (below).
    plain_only_here: None,
    server_only: true,
    no_credentials: false,
};

impl EmailConfig {
    pub(super) fn read(src: &dyn Source, rules: &Rules) -> Result<Self, ConfigError> {
        match src.get("PASSCODE_SMTP_URL") {
            Some(url) => Ok(Self::Smtp(smtp_settings(src, &url)?)),
            None => {
                rules.check_outbox(
                    "PASSCODE_SMTP_URL",
                    &format!("is required with production rules ({})", rules.reason),
                )?;
                Ok(Self::Outbox)
            }
        }
    }
}

/// Whether the code goes in the subject (`AuthSettings::email_code_in_subject`).
pub(super) fn code_in_subject(src: &dyn Source) -> Result<bool, ConfigError> {
    parse_bool(src, "PASSCODE_EMAIL_CODE_IN_SUBJECT")
}

fn smtp_settings(src: &dyn Source, raw: &str) -> Result<SmtpSettings, ConfigError> {
    const VAR: &str = "PASSCODE_SMTP_URL";
    // The URL may hold a password: messages describe it without echoing it.
    let url = config_url(VAR, raw, &SMTP_URL)?;
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
    let (security, default_port) = match url.scheme() {
        "smtps" => (SmtpSecurity::ImplicitTls, 465),
        _ if is_loopback(&url) => (SmtpSecurity::None, 25),
        _ => (SmtpSecurity::StartTls, 587),
    };
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
    use super::super::Config;
    use super::super::helpers::source as src;
    use super::*;

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
}
