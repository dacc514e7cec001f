//! The device cookie (OWASP "device cookies"): after a browser signs in as an
//! address, it keeps an entry naming that address, so its later requests
//! for the address are limited on their own and a stranger spending the
//! address's allowance cannot lock the owner's browser out.
//!
//! An entry is a random device id and a MAC over (id, address) keyed with a
//! server key: the cookie names the address without holding it, and nobody
//! without the key can make one. This type only parses and prints; the auth
//! core checks the MACs.

use std::fmt;

use super::TokenError;

/// Hex digits of a device id (128 bits) and of its MAC (HMAC-SHA256).
pub const DEVICE_ID_HEX: usize = 32;
pub const DEVICE_MAC_HEX: usize = 64;

#[derive(Clone, PartialEq, Eq)]
pub struct DeviceEntry {
    pub id: String,
    pub mac: String,
}

/// The cookie's entries, newest first, at most `MAX_ENTRIES` (a browser
/// shared by a family; beyond that the oldest entry goes).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct DeviceCookie(Vec<DeviceEntry>);

impl DeviceCookie {
    pub const MAX_ENTRIES: usize = 4;

    pub fn parse(raw: &str) -> Result<Self, TokenError> {
        let hex = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let entries = raw
            .split('.')
            .map(|entry| {
                if entry.len() != DEVICE_ID_HEX + DEVICE_MAC_HEX || !hex(entry) {
                    return Err(TokenError::Malformed);
                }
                let (id, mac) = entry.split_at(DEVICE_ID_HEX);
                Ok(DeviceEntry { id: id.to_owned(), mac: mac.to_owned() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if entries.is_empty() || entries.len() > Self::MAX_ENTRIES {
            return Err(TokenError::Malformed);
        }
        Ok(Self(entries))
    }

    pub fn entries(&self) -> &[DeviceEntry] {
        &self.0
    }

    /// Puts `entry` first, dropping any other entry with its id and the
    /// oldest ones beyond `MAX_ENTRIES`.
    pub fn with_first(&self, entry: DeviceEntry) -> Self {
        let mut entries = vec![entry.clone()];
        entries.extend(self.0.iter().filter(|e| e.id != entry.id).cloned());
        entries.truncate(Self::MAX_ENTRIES);
        Self(entries)
    }

    /// The cookie's value.
    pub fn expose(&self) -> String {
        self.0.iter().map(|e| format!("{}{}", e.id, e.mac)).collect::<Vec<_>>().join(".")
    }
}

/// Redacted: an entry is a credential of sorts (it grants its own allowance).
impl fmt::Debug for DeviceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceEntry(<redacted>)")
    }
}

impl fmt::Debug for DeviceCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceCookie({} entries)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(c: char) -> DeviceEntry {
        DeviceEntry { id: c.to_string().repeat(DEVICE_ID_HEX), mac: c.to_string().repeat(DEVICE_MAC_HEX) }
    }

    #[test]
    fn round_trips_and_keeps_the_newest_entries() {
        let mut cookie = DeviceCookie::default();
        for c in ['a', 'b', 'c', 'd', 'e'] {
            cookie = cookie.with_first(entry(c));
        }
        assert_eq!(cookie.entries().len(), DeviceCookie::MAX_ENTRIES);
        assert_eq!(cookie.entries()[0], entry('e'));
        assert!(!cookie.entries().contains(&entry('a')), "the oldest entry went");
        assert_eq!(DeviceCookie::parse(&cookie.expose()).unwrap(), cookie);
        assert_eq!(cookie.with_first(entry('c')).entries()[0], entry('c'));
        assert_eq!(cookie.with_first(entry('c')).entries().len(), 4);
        assert!(!format!("{cookie:?}").contains("eeee"));
    }

    #[test]
    fn malformed_cookies_are_rejected() {
        let one = DeviceCookie::default().with_first(entry('a')).expose();
        for bad in [
            String::new(),
            "x".repeat(96),
            one.to_uppercase(),
            format!("{one}."),
            one[1..].to_owned(),
            [one.as_str(); 5].join("."),
            "é".repeat(48),
        ] {
            assert!(DeviceCookie::parse(&bad).is_err(), "{bad}");
        }
    }
}
