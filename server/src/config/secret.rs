//! The server secret, `PASSCODE_SECRET`, and the type every secret setting
//! is kept in.

use std::fmt;

use super::mode::{Mode, Rules};
use super::{ConfigError, Source, err};

/// A secret that never prints.
#[derive(Clone)]
pub struct Secret(pub(super) Vec<u8>);

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

/// `None`: generate one in the data directory (development only).
pub(super) fn read(src: &dyn Source, rules: &Rules) -> Result<Option<Secret>, ConfigError> {
    let secret = src.get("PASSCODE_SECRET").map(|s| Secret::parse_hex("PASSCODE_SECRET", &s)).transpose()?;
    if secret.is_none() && rules.mode == Mode::Production {
        return Err(err(
            "PASSCODE_SECRET",
            format!("is required with production rules ({}); generate one with `openssl rand -hex 32`", rules.reason),
        ));
    }
    Ok(secret)
}

/// The keys that seal authenticator-app secrets (`PASSCODE_TOTP_KEY`, and
/// for rotation `PASSCODE_TOTP_OLD_KEYS`): exactly 32 bytes each, apart
/// from `PASSCODE_SECRET`.
#[derive(Clone)]
pub struct TotpKeys {
    pub current: [u8; 32],
    pub old: Vec<[u8; 32]>,
}

impl fmt::Debug for TotpKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TotpKeys(<redacted>, {} old)", self.old.len())
    }
}

pub fn parse_totp_key(var: &'static str, s: &str) -> Result<[u8; 32], ConfigError> {
    const HOW: &str = "must be exactly 32 bytes written as 64 hex digits; generate one with `openssl rand -hex 32`";
    hex::decode(s.trim()).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()).ok_or_else(|| err(var, HOW))
}

/// `None`: no key configured. In development one is generated in the data
/// directory; in production authenticator apps are then off (turning one
/// on is refused), and accounts that have one on can finish signing in
/// only with a backup code until the key is back.
pub(super) fn read_totp(src: &dyn Source) -> Result<Option<TotpKeys>, ConfigError> {
    let current = src.get("PASSCODE_TOTP_KEY").map(|s| parse_totp_key("PASSCODE_TOTP_KEY", &s)).transpose()?;
    let old = src
        .get("PASSCODE_TOTP_OLD_KEYS")
        .map(|s| {
            s.split(',')
                .filter(|k| !k.trim().is_empty())
                .map(|k| parse_totp_key("PASSCODE_TOTP_OLD_KEYS", k))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    match current {
        Some(current) => Ok(Some(TotpKeys { current, old })),
        None if !old.is_empty() => {
            Err(err("PASSCODE_TOTP_OLD_KEYS", "needs PASSCODE_TOTP_KEY: old keys only open, the current one seals"))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_keys_are_exactly_32_bytes_and_old_ones_need_a_new_one() {
        let src = |pairs: &[(&str, &str)]| -> std::collections::HashMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert!(read_totp(&src(&[])).unwrap().is_none());
        let k = "ab".repeat(32);
        let o = "cd".repeat(32);
        let keys = read_totp(&src(&[("PASSCODE_TOTP_KEY", &k), ("PASSCODE_TOTP_OLD_KEYS", &format!("{o}, {k}"))]))
            .unwrap()
            .unwrap();
        assert_eq!(keys.current, [0xab; 32]);
        assert_eq!(keys.old, vec![[0xcd; 32], [0xab; 32]]);
        assert!(!format!("{keys:?}").contains("ab"), "never printed");
        for bad in ["ab".repeat(31), "ab".repeat(33), "zz".repeat(32)] {
            let e = read_totp(&src(&[("PASSCODE_TOTP_KEY", &bad)])).unwrap_err();
            assert_eq!(e.var, "PASSCODE_TOTP_KEY");
            assert!(!e.to_string().contains(&bad));
        }
        let e = read_totp(&src(&[("PASSCODE_TOTP_OLD_KEYS", &o)])).unwrap_err();
        assert_eq!(e.var, "PASSCODE_TOTP_OLD_KEYS");
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
}
