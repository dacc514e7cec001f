//! Where the server listens and is reached, and what it accepts from the
//! network: `PASSCODE_ADDR`, `PASSCODE_PUBLIC_URL`, `PASSCODE_MAX_BODY_BYTES`,
//! `PASSCODE_TRUSTED_PROXIES`, `PASSCODE_FORWARDED_HEADER`,
//! `PASSCODE_COOKIE_DOMAIN` and the `LEPTOS_*` settings.

use std::net::SocketAddr;

use app::web::{ForwardedHeader, TrustedProxies};
use leptos::config::LeptosOptions;

use super::helpers::{UrlRule, config_url, is_dns_label, parse, ranged};
use super::{ConfigError, Source, err};

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub addr: SocketAddr,
    /// Scheme, host and port the world uses to reach us, no trailing slash.
    pub public_url: String,
    pub max_body_bytes: usize,
    /// Whose forwarding header is believed, and which header.
    pub proxies: TrustedProxies,
    /// `PASSCODE_COOKIE_DOMAIN`: the session cookie is sent to this domain
    /// and every host under it (lower case, no leading dot).
    pub cookie_domain: Option<String>,
    pub leptos: LeptosOptions,
}

/// The origin people reach us at: http(s), a host, maybe a port, nothing
/// else. Plain http only for this machine: our cookies are `Secure`, so a
/// browser would drop them on any other http origin.
const PUBLIC_URL: UrlRule = UrlRule {
    example: "https://login.example.com",
    schemes: &["https", "http"],
    plain_only_here: Some("http"),
    server_only: true,
    no_credentials: true,
};

impl ServerSettings {
    /// The settings, and the public URL parsed, for deciding the rules.
    pub(super) fn read(src: &dyn Source) -> Result<(Self, url::Url), ConfigError> {
        let mut leptos = leptos_options(src)?;
        let addr: SocketAddr = parse(src, "PASSCODE_ADDR", leptos.site_addr, "an address like 127.0.0.1:3000")?;
        leptos.site_addr = addr;
        let public_url = match src.get("PASSCODE_PUBLIC_URL") {
            Some(raw) => config_url("PASSCODE_PUBLIC_URL", &raw, &PUBLIC_URL)?,
            None => config_url("PASSCODE_ADDR", &format!("http://{addr}"), &PUBLIC_URL).map_err(|_| {
                err(
                    "PASSCODE_PUBLIC_URL",
                    format!(
                        "is required when listening on {addr}: set it to the https:// origin people use \
                         (or http://127.0.0.1:PORT for development on this machine)"
                    ),
                )
            })?,
        };
        let max_body_bytes = ranged(src, "PASSCODE_MAX_BODY_BYTES", 16 * 1024usize, "bytes", 1024, 1024 * 1024)?;
        let header = match src.get("PASSCODE_FORWARDED_HEADER") {
            None => ForwardedHeader::default(),
            Some(raw) => ForwardedHeader::parse(&raw).ok_or_else(|| {
                err(
                    "PASSCODE_FORWARDED_HEADER",
                    format!(
                        "expected x-forwarded-for, forwarded or x-real-ip (the header your proxy writes), got {raw:?}"
                    ),
                )
            })?,
        };
        let settings = Self {
            addr,
            public_url: public_url.origin().ascii_serialization(),
            max_body_bytes,
            proxies: TrustedProxies { nets: trusted_proxies(src)?, header },
            cookie_domain: cookie_domain(src, &public_url)?,
            leptos,
        };
        Ok((settings, public_url))
    }

    /// The host part of the public URL (for the SMS WebOTP line).
    pub fn public_host(&self) -> &str {
        let rest = self.public_url.split_once("://").map_or(self.public_url.as_str(), |(_, r)| r);
        rest.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(rest, |(h, _)| h)
    }
}

fn trusted_proxies(src: &dyn Source) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    let Some(list) = src.get("PASSCODE_TRUSTED_PROXIES") else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>().or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)).map_err(|_| {
                err("PASSCODE_TRUSTED_PROXIES", format!("expected addresses or CIDRs like 10.0.0.0/8, got {s:?}"))
            })
        })
        .collect()
}

/// `PASSCODE_COOKIE_DOMAIN`: a domain name (not an address, not a single
/// label such as `com`) that the public URL's host is, or is under; a
/// session cookie for it would otherwise never reach the sign-in page that
/// sets it.
fn cookie_domain(src: &dyn Source, public_url: &url::Url) -> Result<Option<String>, ConfigError> {
    const VAR: &str = "PASSCODE_COOKIE_DOMAIN";
    let Some(raw) = src.get(VAR) else { return Ok(None) };
    let domain = raw.trim().trim_start_matches('.').to_ascii_lowercase();
    if domain.parse::<std::net::IpAddr>().is_ok() || !domain.contains('.') || !domain.split('.').all(is_dns_label) {
        return Err(err(
            VAR,
            format!(
                "expected a domain name like example.com that your sign-in page and your apps share, got {raw:?} \
                 (an IP address or a single label such as com can't carry a cookie for several sites)"
            ),
        ));
    }
    let host = public_url.host_str().unwrap_or_default().to_ascii_lowercase();
    if host != domain && !host.ends_with(&format!(".{domain}")) {
        return Err(err(
            VAR,
            format!(
                "PASSCODE_PUBLIC_URL's host {host} is not {domain} or under it: the session cookie for {domain} \
                 would never reach the sign-in page. Set PASSCODE_PUBLIC_URL to a host under {domain} \
                 (like https://login.{domain}) or PASSCODE_COOKIE_DOMAIN to a domain it is under"
            ),
        ));
    }
    if public_url.scheme() != "https" {
        return Err(err(
            VAR,
            format!("needs an https PASSCODE_PUBLIC_URL: a cookie for {domain} is Secure and its name says so"),
        ));
    }
    Ok(Some(domain))
}

/// The Leptos settings embedded from Leptos.toml, with the LEPTOS_* variables
/// that cargo-leptos sets taking precedence.
pub fn leptos_options(src: &dyn Source) -> Result<LeptosOptions, ConfigError> {
    let base = leptos::config::get_config_from_str(include_str!("../../../Leptos.toml"))
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

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::super::helpers::source as src;

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
    fn leptos_toml_and_cargo_toml_agree() {
        let cargo: toml::Value = toml::from_str(include_str!("../../../Cargo.toml")).unwrap();
        let meta = &cargo["workspace"]["metadata"]["leptos"][0];
        let leptos: toml::Value = toml::from_str(include_str!("../../../Leptos.toml")).unwrap();
        let runtime = &leptos["package"]["metadata"]["leptos"];
        assert_eq!(meta["name"].as_str(), runtime["output-name"].as_str());
        assert_eq!(meta["name"].as_str(), Some(app::OUTPUT_NAME));
        for key in ["site-root", "site-pkg-dir", "site-addr", "reload-port"] {
            assert_eq!(meta[key], runtime[key], "{key} differs between Cargo.toml and Leptos.toml");
        }
    }
}
