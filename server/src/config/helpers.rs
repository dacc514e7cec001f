//! How values are read, for every section: numbers in a range, switches and
//! URLs.

use std::fmt;
use std::str::FromStr;

use super::{ConfigError, Source, err};

pub(super) fn parse<T: FromStr>(src: &dyn Source, var: &'static str, default: T, what: &str) -> Result<T, ConfigError> {
    match src.get(var) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|_| err(var, format!("expected {what}, got {raw:?}"))),
    }
}

/// `var` parsed as a number between `lo` and `hi` (inclusive), or `default`.
pub(super) fn ranged<T: FromStr + PartialOrd + fmt::Display + Copy>(
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

pub(super) fn parse_bool(src: &dyn Source, var: &'static str) -> Result<bool, ConfigError> {
    match src.get(var).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(err(var, format!("expected true or false, got {v:?}"))),
    }
}

/// What a URL setting may look like.
pub(super) struct UrlRule {
    /// A good value, shown in messages.
    pub example: &'static str,
    /// The schemes taken, the one to prefer first.
    pub schemes: &'static [&'static str],
    /// A scheme without TLS, taken only to this machine: on the network,
    /// whatever it carries could be read or changed on the way.
    pub plain_only_here: Option<&'static str>,
    /// The URL names a server, not something on it: no path, query or
    /// fragment.
    pub server_only: bool,
    /// No user name or password in it.
    pub no_credentials: bool,
}

/// Every URL the configuration reads is parsed and checked here, so hosts
/// are compared as hosts (`http://localhost.attacker.example` is not this
/// machine). The message never echoes the URL: it may carry a password.
pub(super) fn config_url(var: &'static str, raw: &str, rule: &UrlRule) -> Result<url::Url, ConfigError> {
    let example = rule.example;
    let url = url::Url::parse(raw.trim()).map_err(|e| err(var, format!("expected a URL like {example} ({e})")))?;
    let host = match url.host_str() {
        Some(host) if !host.is_empty() => host,
        _ => return Err(err(var, format!("expected a URL with a host, like {example}"))),
    };
    let scheme = url.scheme();
    if !rule.schemes.contains(&scheme) {
        let expected: Vec<String> = rule.schemes.iter().map(|s| format!("{s}://")).collect();
        return Err(err(var, format!("expected {}, got {scheme}://", expected.join(" or "))));
    }
    if rule.plain_only_here == Some(scheme) && !is_loopback(&url) {
        return Err(err(
            var,
            format!(
                "must be {}:// (plain {scheme} only to this machine: localhost, 127.0.0.1 or [::1]), \
                 got {scheme}://{host}",
                rule.schemes[0]
            ),
        ));
    }
    if rule.server_only && (!matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some()) {
        return Err(err(var, format!("takes no path, query or fragment: expected a URL like {example}")));
    }
    if rule.no_credentials && (!url.username().is_empty() || url.password().is_some()) {
        return Err(err(var, format!("takes no user name or password: expected a URL like {example}")));
    }
    Ok(url)
}

/// One label of a DNS name: letters, digits and inner hyphens, at most 63.
pub(super) fn is_dns_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && !l.starts_with('-')
        && !l.ends_with('-')
        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
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

/// A source holding just `pairs`, for the tests of every section.
#[cfg(test)]
pub(super) fn source(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::source as src;

    /// Whatever is wrong with a URL, the message names the variable and
    /// leaves out the password.
    #[test]
    fn url_messages_never_echo_a_password() {
        for (var, url) in [
            ("PASSCODE_PUBLIC_URL", "https://user:hunter2@login.example.com"),
            ("PASSCODE_PUBLIC_URL", "http://user:hunter2@login.example.com"),
            ("PASSCODE_SMTP_URL", "smtp://user:hunter2@smtp.example.com/path"),
            ("PASSCODE_SMTP_URL", "http://user:hunter2@smtp.example.com"),
            ("PASSCODE_SMS_WEBHOOK_URL", "http://user:hunter2@gateway.example.com/send"),
            ("PASSCODE_SMS_WEBHOOK_URL", "ftp://user:hunter2@gateway.example.com/send"),
        ] {
            let e = Config::from_source(&src(&[
                ("PASSCODE_ENV", "development"),
                ("PASSCODE_EMAIL_FROM", "sign-in@example.com"),
                ("PASSCODE_SMS_PROVIDER", "webhook"),
                ("PASSCODE_SMS_WEBHOOK_URL", "https://gateway.example.com/send"),
                ("PASSCODE_SMS_WEBHOOK_TOKEN", "t"),
                (var, url),
            ]))
            .unwrap_err();
            assert_eq!(e.var, var, "{url}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }
}
