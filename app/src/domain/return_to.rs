//! Where a person goes back to after signing in: the `rd` a reverse proxy
//! hands the sign-in page. It comes from a URL anyone can craft, so it is
//! an open redirect waiting to happen unless it is parsed strictly here and
//! nowhere else: only an absolute `https` URL (or `http` to this machine in
//! development) whose host is the public URL's or under the cookie domain.
//! Anything else is dropped, and the person lands on the account page.
//!
//! The rules are stricter than a URL parser: browsers and the `url` crate
//! repair `https:evil`, `https:/\evil`, tabs and newlines inside a URL into
//! something that leaves our hosts, so any such input is refused before it
//! is parsed (the bypasses in oauth2-proxy's GHSA-qqxw-m5fj-f7gv and
//! GHSA-4mf2-f3wh-gvf2 are all of this kind).

use std::fmt;

/// The longest `rd` looked at. Real return addresses are far shorter, and
/// the value travels in a cookie.
pub const MAX_RETURN_LEN: usize = 2048;

/// Which hosts a person may be sent back to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReturnRules {
    /// The public URL's host, lower case.
    pub public_host: String,
    /// `PASSCODE_COOKIE_DOMAIN`: the domain and every host under it.
    pub cookie_domain: Option<String>,
    /// Development: plain `http` to this machine (any loopback host) too.
    pub loopback_http: bool,
}

/// A return address that passed [`ReturnRules::parse`].
#[derive(Clone, PartialEq, Eq)]
pub struct ReturnTo(url::Url);

impl ReturnTo {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host it goes to (lower case, without the port).
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }
}

impl AsRef<str> for ReturnTo {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for ReturnTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The path and query are the protected app's business, not our logs'.
        write!(f, "ReturnTo({}://{}/…)", self.0.scheme(), self.host())
    }
}

impl ReturnRules {
    /// `raw` as a return address, or `None`: every reason to refuse is the
    /// same to the person (they land on the account page).
    pub fn parse(&self, raw: &str) -> Option<ReturnTo> {
        if raw.is_empty() || raw.len() > MAX_RETURN_LEN {
            return None;
        }
        // Printable ASCII only: no spaces, tabs, newlines or other controls
        // (which parsers strip), no backslashes (which they read as
        // slashes), nothing non-ASCII (which IDNA maps onto other letters).
        if !raw.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
            return None;
        }
        // The scheme, then "//", then the host, literally: `https:evil`,
        // `https:/evil` and `https:///evil` are repaired by parsers into
        // something else.
        let lower = raw.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
        let rest = if lower.starts_with("https://") {
            &raw[8..]
        } else if lower.starts_with("http://") {
            &raw[7..]
        } else {
            return None;
        };
        // The authority as written: no user information (`https://ours@evil`),
        // no percent-encoding, nothing that is not a host and a port.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty()
            || !authority.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        {
            return None;
        }
        let url = url::Url::parse(raw).ok()?;
        if !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let host = match url.host()? {
            url::Host::Domain(d) => d.to_owned(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        };
        let loopback = is_loopback_host(&host);
        let ours = match url.scheme() {
            "https" => self.is_our_host(&host) || (self.loopback_http && loopback),
            "http" => self.loopback_http && loopback,
            _ => false,
        };
        ours.then_some(ReturnTo(url))
    }

    /// The public URL's host, or the cookie domain or a host under it.
    /// Names only: an address never equals a domain name.
    fn is_our_host(&self, host: &str) -> bool {
        if host.ends_with('.') || (host.parse::<std::net::IpAddr>().is_ok() && host != self.public_host) {
            return false;
        }
        host == self.public_host || self.cookie_domain.as_deref().is_some_and(|d| host == d || is_under(host, d))
    }
}

/// `localhost` or a loopback address (a host, without a port or brackets).
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `host` is a host under `domain` (at any depth), not `domain`
/// itself: `wiki.example.com` and `a.b.example.com` are under
/// `example.com`, `evilexample.com` and `.example.com` are not.
pub fn is_under(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain).is_some_and(|sub| sub.len() > 1 && sub.ends_with('.'))
}

/// Every case of the return rules, for the rules of a deployment at
/// `https://login.example.com` with `PASSCODE_COOKIE_DOMAIN=example.com`:
/// `Some(address)` is where the person is sent, `None` means the account
/// page. The unit tests below and the integration tests through the real
/// server (`server/tests/api/forward_auth.rs`) both run it, so the two can't
/// drift apart.
#[doc(hidden)]
pub const RETURN_TO_CASES: &[(&str, Option<&str>)] = &[
    // Ours.
    ("https://login.example.com/account", Some("https://login.example.com/account")),
    ("https://wiki.example.com/page?a=1&b=%2F#top", Some("https://wiki.example.com/page?a=1&b=%2F#top")),
    ("https://example.com/", Some("https://example.com/")),
    ("https://a.b.example.com:8443/x", Some("https://a.b.example.com:8443/x")),
    ("HTTPS://WIKI.EXAMPLE.COM/Page", Some("https://wiki.example.com/Page")),
    ("https://wiki.example.com", Some("https://wiki.example.com/")),
    ("https://wiki.example.com/a/../b", Some("https://wiki.example.com/b")),
    // Not https.
    ("http://wiki.example.com/", None),
    ("ftp://wiki.example.com/", None),
    ("javascript:alert(1)//wiki.example.com", None),
    ("data:text/html,<script>alert(1)</script>", None),
    ("wss://wiki.example.com/", None),
    // Relative or scheme-relative.
    ("/account", None),
    ("//evil.example/", None),
    ("///evil.example/", None),
    ("/\\evil.example/", None),
    ("\\\\evil.example", None),
    ("/%2F%2Fevil.example", None),
    ("/%5Cevil.example", None),
    ("account", None),
    ("", None),
    // A scheme without its "//", which parsers repair.
    ("https:evil.example", None),
    ("https:/evil.example", None),
    ("https:\\\\evil.example", None),
    ("https:/\\evil.example", None),
    ("https:///evil.example", None),
    ("https:////evil.example", None),
    // Other hosts, and hosts that only look like ours.
    ("https://evil.example/", None),
    ("https://example.com.evil.example/", None),
    ("https://evilexample.com/", None),
    ("https://login.example.com.evil.example/", None),
    ("https://wiki.example.com./", None),
    ("https://.example.com/", None),
    ("https://example.co/", None),
    // User information in front of our host, or of theirs.
    ("https://login.example.com@evil.example/", None),
    ("https://evil.example@login.example.com/", None),
    ("https://user:pass@wiki.example.com/", None),
    ("https://@wiki.example.com/", None),
    ("https://login.example.com:443@evil.example/", None),
    ("https://login.example.com%40evil.example/", None),
    // Backslashes, which browsers read as slashes.
    ("https://evil.example\\@login.example.com/", None),
    ("https://login.example.com\\@evil.example/", None),
    ("https://evil.example\\.example.com/", None),
    ("https://wiki.example.com/\\evil", None),
    // Tabs, newlines and other controls, which parsers drop.
    ("https://wiki.example.com/\tx", None),
    ("https://wiki.exam\nple.com/", None),
    ("https://evil.example\r\n.example.com/", None),
    ("\thttps://wiki.example.com/", None),
    (" https://wiki.example.com/", None),
    ("https://wiki.example.com/ ", None),
    ("https://wiki.example.com/\u{0}", None),
    // Percent-encoding in the host, and encoded slashes.
    ("https://wiki%2eexample.com/", None),
    ("https://evil.example%2f.example.com/", None),
    ("https://evil.example%23.example.com/", None),
    ("https%3A%2F%2Fwiki.example.com%2F", None),
    ("https%3a//evil.example", None),
    ("https://evil.example%2F@wiki.example.com/", None),
    // Unicode that IDNA would fold onto ASCII letters.
    ("https://ｗｉｋｉ.example.com/", None),
    ("https://wiki。example。com/", None),
    ("https://evil.example\u{2215}.example.com/", None),
    ("https://wiki.example.com/ä", None),
    // Addresses, never hosts of ours in production.
    ("https://127.0.0.1/", None),
    ("https://[::1]/", None),
    ("https://2130706433/", None),
    ("http://localhost:3000/", None),
    // oauth2-proxy's advisories: a tab or a space between the slashes
    // (GHSA-qqxw-m5fj-f7gv), and an allowed domain after `?` or `#`, which
    // a suffix check on the whole string takes for the host
    // (GHSA-4mf2-f3wh-gvf2).
    ("/\t/evil.example", None),
    ("/ /evil.example", None),
    ("/\\/evil.example", None),
    ("https://evil.example?.example.com", None),
    ("https://evil.example/?.example.com", None),
    ("https://evil.example;.example.com/", None),
    ("https://wiki.example.com:@evil.example/", None),
    ("https://wiki.example.com:80:81/", None),
    // The fragment and query can't carry another host in.
    ("https://evil.example#@wiki.example.com", None),
    ("https://evil.example?@wiki.example.com", None),
    ("https://evil.example/.example.com", None),
    ("https://evil.example:443#.example.com", None),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn production() -> ReturnRules {
        ReturnRules {
            public_host: "login.example.com".into(),
            cookie_domain: Some("example.com".into()),
            loopback_http: false,
        }
    }

    /// Every case of the issue, and the known bypasses of other services'
    /// checks: `Some(expected)` is the address the person is sent to.
    #[test]
    fn only_our_https_hosts_pass() {
        let rules = production();
        let cases = RETURN_TO_CASES;
        for (raw, expected) in cases {
            let got = rules.parse(raw);
            assert_eq!(got.as_ref().map(ReturnTo::as_str), *expected, "{raw:?}");
        }
        // Too long to be anyone's page.
        let long = format!("https://wiki.example.com/{}", "a".repeat(MAX_RETURN_LEN));
        assert_eq!(rules.parse(&long), None);
    }

    #[test]
    fn without_a_cookie_domain_only_the_public_host() {
        let rules = ReturnRules { cookie_domain: None, ..production() };
        assert!(rules.parse("https://login.example.com/account").is_some());
        assert!(rules.parse("https://wiki.example.com/").is_none());
        assert!(rules.parse("https://example.com/").is_none());
    }

    #[test]
    fn development_takes_plain_http_to_this_machine_only() {
        let rules = ReturnRules { public_host: "127.0.0.1".into(), cookie_domain: None, loopback_http: true };
        for ok in ["http://127.0.0.1:3000/account", "http://localhost:8080/x?y=1", "http://[::1]:8080/"] {
            assert!(rules.parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "http://example.com/",
            "http://127.0.0.1.evil.example/",
            "http://localhost.evil.example/",
            "http://10.0.0.1/",
        ] {
            assert!(rules.parse(bad).is_none(), "{bad}");
        }
        // Production never takes plain http, not even to this machine.
        let production = ReturnRules { loopback_http: false, ..rules };
        assert!(production.parse("http://127.0.0.1:3000/account").is_none());
    }

    #[test]
    fn debug_shows_only_the_host() {
        let to = production().parse("https://wiki.example.com/private?token=abc").unwrap();
        assert_eq!(format!("{to:?}"), "ReturnTo(https://wiki.example.com/…)");
    }
}
