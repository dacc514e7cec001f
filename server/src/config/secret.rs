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

#[cfg(test)]
mod tests {
    use super::*;

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
