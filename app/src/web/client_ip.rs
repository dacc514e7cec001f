//! Which address a request came from. The TCP peer, unless the peer is a
//! proxy we were told to trust: only then is a forwarding header read, only
//! the one header that proxy writes (`PASSCODE_FORWARDED_HEADER`), and the
//! right-most address in it that is not itself a trusted proxy is the
//! client (everything left of it could have been written by the client).
//!
//! Reading any other header would take the client's word: Caddy, nginx's
//! `$proxy_add_x_forwarded_for` and most load balancers append to
//! `X-Forwarded-For` and pass a client-written `Forwarded` or `X-Real-IP`
//! through untouched.

use std::fmt;
use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// The forwarding header the trusted proxies write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, …` (Caddy, nginx with
    /// `$proxy_add_x_forwarded_for`, Traefik, most load balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
    /// `X-Real-IP: client` (nginx with `proxy_set_header X-Real-IP
    /// $remote_addr`): one address, which the proxy overwrites.
    XRealIp,
}

impl ForwardedHeader {
    pub const ALL: [ForwardedHeader; 3] =
        [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded, ForwardedHeader::XRealIp];

    /// The header's name, lower case, as the configuration takes it.
    pub fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
            ForwardedHeader::XRealIp => "x-real-ip",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL.into_iter().find(|h| h.name().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for ForwardedHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The proxies we trust and the header they write.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    pub nets: Vec<IpNet>,
    pub header: ForwardedHeader,
}

impl TrustedProxies {
    pub fn trusts(&self, ip: &IpAddr) -> bool {
        let ip = canonical(*ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        client_ip(canonical(peer), headers, self)
    }
}

/// An address as itself: an IPv4 peer on a dual-stack socket arrives as
/// `::ffff:a.b.c.d`.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    if !trusted.trusts(&peer) {
        return peer;
    }
    // Walk from the proxy nearest to us outwards; the first hop that is not
    // one of ours is the client.
    let mut client = peer;
    for hop in hops(headers, trusted.header).into_iter().rev() {
        client = canonical(hop);
        if !trusted.trusts(&client) {
            break;
        }
    }
    client
}

/// The addresses in `header`, in order, across every line of it (several
/// lines of a list header are one list). Anything unparsable ends the list
/// where it stands: a hop we cannot read is not a hop we can trust past.
fn hops(headers: &HeaderMap, header: ForwardedHeader) -> Vec<IpAddr> {
    let lines = headers.get_all(header.name()).iter().filter_map(|v| v.to_str().ok());
    let raw: Vec<String> = match header {
        ForwardedHeader::XForwardedFor => lines.flat_map(|v| v.split(',')).map(|s| s.trim().to_owned()).collect(),
        ForwardedHeader::Forwarded => lines
            .flat_map(|v| v.split(','))
            .map(|element| {
                // An element without `for=` is a hop we can't place.
                element
                    .split(';')
                    .find_map(|pair| {
                        let (k, v) = pair.trim().split_once('=')?;
                        k.trim().eq_ignore_ascii_case("for").then(|| v.trim().trim_matches('"').to_owned())
                    })
                    .unwrap_or_default()
            })
            .collect(),
        // One address per line; of several lines, the last is the one the
        // nearest proxy wrote.
        ForwardedHeader::XRealIp => lines.map(|s| s.trim().to_owned()).collect(),
    };
    let parsed: Vec<Option<IpAddr>> = raw.iter().map(|s| parse_ip(s)).collect();
    // Keep only the readable suffix.
    let start = parsed.iter().rposition(Option::is_none).map_or(0, |i| i + 1);
    parsed[start..].iter().flatten().copied().collect()
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    // "[2001:db8::1]:4711", "[2001:db8::1]" or "192.0.2.1:4711"
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    s.rsplit_once(':').and_then(|(ip, _)| ip.parse::<std::net::Ipv4Addr>().ok()).map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(http::HeaderName::from_static(k), http::HeaderValue::from_static(v));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies { nets: vec!["10.0.0.0/8".parse().unwrap()], header }
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let headers = h(&[("x-forwarded-for", "1.2.3.4"), ("x-real-ip", "1.2.3.4"), ("forwarded", "for=1.2.3.4")]);
        let none = TrustedProxies::default();
        assert_eq!(none.client_ip(ip("198.51.100.7"), &headers), ip("198.51.100.7"));
        for header in ForwardedHeader::ALL {
            assert_eq!(proxies(header).client_ip(ip("198.51.100.7"), &headers), ip("198.51.100.7"));
        }
    }

    #[test]
    fn rightmost_untrusted_hop_wins_behind_trusted_proxies() {
        let xff = proxies(ForwardedHeader::XForwardedFor);
        // The client wrote "6.6.6.6" itself; the proxy appended the real peer.
        let headers = h(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(xff.client_ip(ip("10.0.0.1"), &headers), ip("203.0.113.9"));
        // Several lines are one list.
        let lines = h(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(xff.client_ip(ip("10.0.0.1"), &lines), ip("203.0.113.9"));
        // No header at all: the proxy itself.
        assert_eq!(xff.client_ip(ip("10.0.0.1"), &h(&[])), ip("10.0.0.1"));
        // Garbage stops the walk at the last readable hop.
        let junk = h(&[("x-forwarded-for", "6.6.6.6, junk, 203.0.113.9")]);
        assert_eq!(xff.client_ip(ip("10.0.0.1"), &junk), ip("203.0.113.9"));
        // Every hop trusted: the left-most one.
        let all = h(&[("x-forwarded-for", "10.0.0.3, 10.0.0.2")]);
        assert_eq!(xff.client_ip(ip("10.0.0.1"), &all), ip("10.0.0.3"));

        let fwd = proxies(ForwardedHeader::Forwarded);
        let forwarded = h(&[("forwarded", "for=6.6.6.6, for=\"[2001:db8::5]:4711\";proto=https")]);
        assert_eq!(fwd.client_ip(ip("10.0.0.1"), &forwarded), ip("2001:db8::5"));
        // nginx's `for=$remote_addr` writes IPv6 bare.
        assert_eq!(fwd.client_ip(ip("10.0.0.1"), &h(&[("forwarded", "for=2001:db8::6")])), ip("2001:db8::6"));
        // An element without for= is a hop we can't read past.
        let no_for = h(&[("forwarded", "for=6.6.6.6, proto=https, for=203.0.113.4")]);
        assert_eq!(fwd.client_ip(ip("10.0.0.1"), &no_for), ip("203.0.113.4"));
        let only_proto = h(&[("forwarded", "for=6.6.6.6, proto=https")]);
        assert_eq!(fwd.client_ip(ip("10.0.0.1"), &only_proto), ip("10.0.0.1"));

        let real = proxies(ForwardedHeader::XRealIp);
        assert_eq!(real.client_ip(ip("10.0.0.1"), &h(&[("x-real-ip", "203.0.113.10")])), ip("203.0.113.10"));
        let two = h(&[("x-real-ip", "6.6.6.6"), ("x-real-ip", "203.0.113.10")]);
        assert_eq!(real.client_ip(ip("10.0.0.1"), &two), ip("203.0.113.10"));
    }

    /// The attack: a client behind a trusted proxy writes a header the
    /// proxy does not. Only the configured header is read.
    #[test]
    fn a_header_the_proxy_does_not_write_is_never_read() {
        let client_written = [("forwarded", "for=6.6.6.6"), ("x-real-ip", "6.6.6.6"), ("x-forwarded-for", "6.6.6.6")];
        for header in ForwardedHeader::ALL {
            let proxies = proxies(header);
            for (name, value) in client_written.iter().filter(|(name, _)| *name != header.name()) {
                // The proxy wrote the real client into its own header.
                let mut headers = h(&[(*name, *value)]);
                headers.insert(
                    http::HeaderName::from_static(header.name()),
                    http::HeaderValue::from_static(match header {
                        ForwardedHeader::Forwarded => "for=203.0.113.9",
                        _ => "203.0.113.9",
                    }),
                );
                assert_eq!(proxies.client_ip(ip("10.0.0.1"), &headers), ip("203.0.113.9"), "{header} with {name}");
                // The proxy wrote nothing: the peer, never the client's word.
                let alone = h(&[(*name, *value)]);
                assert_eq!(proxies.client_ip(ip("10.0.0.1"), &alone), ip("10.0.0.1"), "{header} with {name} alone");
            }
        }
    }

    #[test]
    fn mapped_ipv4_peers_and_names() {
        let xff =
            TrustedProxies { nets: vec!["127.0.0.1/32".parse().unwrap()], header: ForwardedHeader::XForwardedFor };
        let headers = h(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(xff.client_ip(ip("::ffff:127.0.0.1"), &headers), ip("203.0.113.9"));
        assert_eq!(ForwardedHeader::parse(" X-Real-IP "), Some(ForwardedHeader::XRealIp));
        assert_eq!(ForwardedHeader::parse("x-forwarded-host"), None);
    }
}
