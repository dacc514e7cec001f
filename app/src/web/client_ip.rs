//! Which address a request came from. The TCP peer, unless the peer is a
//! proxy we were told to trust: only then are forwarding headers read, and
//! the right-most address that is not itself a trusted proxy is the client
//! (everything left of it could have been written by the client).

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops = forwarded_for(headers);
    if hops.is_empty()
        && let Some(ip) = headers.get("x-real-ip").and_then(|v| v.to_str().ok()).and_then(parse_ip)
    {
        hops.push(ip);
    }
    // Walk from the proxy nearest to us outwards.
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        client = hop;
        if !is_trusted(&hop) {
            break;
        }
    }
    client
}

/// Addresses from `Forwarded: for=…` (RFC 7239) if present, else from every
/// `X-Forwarded-For` header, in order. Anything unparsable ends the list
/// where it stands: a hop we cannot read is not a hop we can trust past.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let forwarded: Vec<&str> = headers.get_all("forwarded").iter().filter_map(|v| v.to_str().ok()).collect();
    let raw: Vec<String> = if !forwarded.is_empty() {
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.eq_ignore_ascii_case("for").then(|| v.trim().trim_matches('"').to_owned())
                })
            })
            .collect()
    } else {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_owned())
            .collect()
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
    // "[2001:db8::1]:4711" or "192.0.2.1:4711"
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    s.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), http::HeaderValue::from_static(v))).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let headers = h(&[("x-forwarded-for", "1.2.3.4"), ("x-real-ip", "1.2.3.4"), ("forwarded", "for=1.2.3.4")]);
        assert_eq!(client_ip(ip("198.51.100.7"), &headers, &[]), ip("198.51.100.7"));
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(client_ip(ip("198.51.100.7"), &headers, &trusted), ip("198.51.100.7"));
    }

    #[test]
    fn rightmost_untrusted_hop_wins_behind_trusted_proxies() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        // The client wrote "6.6.6.6" itself; the proxy appended the real peer.
        let headers = h(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &headers, &trusted), ip("203.0.113.9"));
        let forwarded = h(&[("forwarded", "for=6.6.6.6, for=\"[2001:db8::5]:4711\";proto=https")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &forwarded, &trusted), ip("2001:db8::5"));
        let real = h(&[("x-real-ip", "203.0.113.10")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &real, &trusted), ip("203.0.113.10"));
        // No header at all: the proxy itself.
        assert_eq!(client_ip(ip("10.0.0.1"), &h(&[]), &trusted), ip("10.0.0.1"));
        // Garbage stops the walk at the last readable hop.
        let junk = h(&[("x-forwarded-for", "6.6.6.6, junk, 203.0.113.9")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &junk, &trusted), ip("203.0.113.9"));
        // Every hop trusted: the left-most one.
        let all = h(&[("x-forwarded-for", "10.0.0.3, 10.0.0.2")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &all, &trusted), ip("10.0.0.3"));
    }
}
