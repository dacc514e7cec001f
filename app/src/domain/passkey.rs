//! What a person calls a passkey, and the default name one gets: the
//! authenticator's make when its AAGUID says it (read from the registration's
//! attestation object), else the browser and system it was added from.

/// A passkey's name as its owner sees it: trimmed, 1 to 64 characters, no
/// control characters (a name is shown in pages and nowhere else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyNameError {
    #[error("Give the passkey a name.")]
    Empty,
    #[error("A passkey's name can be at most 64 characters.")]
    TooLong,
    #[error("A passkey's name can't contain control characters.")]
    ControlCharacter,
}

impl PasskeyName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(input: &str) -> Result<Self, PasskeyNameError> {
        let name = input.trim();
        if name.is_empty() {
            return Err(PasskeyNameError::Empty);
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(PasskeyNameError::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(PasskeyNameError::ControlCharacter);
        }
        Ok(Self(name.to_owned()))
    }

    /// A name made by us (never fails: cut to length).
    pub fn fallback(text: &str) -> Self {
        let clean: String = text.chars().filter(|c| !c.is_control()).take(Self::MAX_CHARS).collect();
        Self::parse(&clean).unwrap_or_else(|_| Self("Passkey".to_owned()))
    }
}

impl AsRef<str> for PasskeyName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Makers of passkeys by AAGUID, from the community list that password
/// managers and platforms publish (passkeydeveloper/passkey-authenticator-
/// aaguids). An unknown or all-zero AAGUID names nothing.
const KNOWN_AAGUIDS: &[(&str, &str)] = &[
    ("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "Google Password Manager"),
    ("adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"),
    ("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"),
    ("dd4ec289-e01d-41c9-bb89-70fa845d4bf2", "iCloud Keychain (Managed)"),
    ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
    ("9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "Windows Hello"),
    ("6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "Windows Hello"),
    ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
    ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
    ("531126d6-e717-415c-9320-3d9aa6981239", "Dashlane"),
    ("fdb141b2-5d84-443e-8a35-4698c205a502", "KeePassXC"),
    ("50726f74-6f6e-5061-7373-50726f746f6e", "Proton Pass"),
    ("53414d53-554e-4700-0000-000000000000", "Samsung Pass"),
    ("b84e4048-15dc-4dd0-8640-f4f60813c8af", "NordPass"),
    ("0ea242b4-43c4-4a1b-8b17-dd6d0b6baec6", "Keeper"),
    ("cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5"),
    ("ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5"),
    ("fa2b99dc-9e39-4257-8f92-4a30d23c4118", "YubiKey 5 NFC"),
    ("2fc0579f-8113-47ea-b116-bb5a8db9202a", "YubiKey 5 NFC"),
];

/// The authenticator's make for an AAGUID, when it is a known one.
pub fn authenticator_name(aaguid: &[u8; 16]) -> Option<&'static str> {
    let text = format_uuid(aaguid);
    KNOWN_AAGUIDS.iter().find(|(id, _)| *id == text).map(|(_, name)| *name)
}

fn format_uuid(b: &[u8; 16]) -> String {
    let hex = super::to_hex(b);
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// What a registration's attestation object says of the authenticator:
/// its AAGUID (when it sent attested credential data) and the signature
/// counter it starts from. The object is CBOR: a map whose `authData` holds
/// 32 bytes of RP id hash, 1 of flags (0x40: attested credential data
/// follows), the counter (4 bytes, big-endian), then the AAGUID. `None` when
/// the bytes don't read as one.
pub fn aaguid_in_attestation(attestation_object: &[u8]) -> Option<(Option<[u8; 16]>, u32)> {
    let auth_data = cbor::map_bytes(attestation_object, "authData")?;
    let counter = u32::from_be_bytes(auth_data.get(33..37)?.try_into().ok()?);
    let aaguid = if auth_data.get(32)? & 0x40 == 0 { None } else { auth_data.get(37..53)?.try_into().ok() };
    Some((aaguid, counter))
}

/// Just enough CBOR (RFC 8949) to find one byte string in a map with text
/// keys: definite lengths only, as WebAuthn's attestation objects are.
mod cbor {
    /// (major type, argument, header length) of the item at `at`.
    fn head(b: &[u8], at: usize) -> Option<(u8, u64, usize)> {
        let first = *b.get(at)?;
        let (major, info) = (first >> 5, first & 0x1f);
        let (arg, len) = match info {
            0..=23 => (u64::from(info), 1),
            24 => (u64::from(*b.get(at + 1)?), 2),
            25 => (u64::from(u16::from_be_bytes(b.get(at + 1..at + 3)?.try_into().ok()?)), 3),
            26 => (u64::from(u32::from_be_bytes(b.get(at + 1..at + 5)?.try_into().ok()?)), 5),
            27 => (u64::from_be_bytes(b.get(at + 1..at + 9)?.try_into().ok()?), 9),
            _ => return None,
        };
        Some((major, arg, len))
    }

    /// Where the item at `at` ends.
    fn skip(b: &[u8], at: usize, depth: u8) -> Option<usize> {
        if depth > 16 {
            return None;
        }
        let (major, arg, len) = head(b, at)?;
        let mut next = at + len;
        match major {
            0 | 1 | 7 => {}
            2 | 3 => next = next.checked_add(usize::try_from(arg).ok()?)?,
            4 => {
                for _ in 0..arg {
                    next = skip(b, next, depth + 1)?;
                }
            }
            5 => {
                for _ in 0..arg.checked_mul(2)? {
                    next = skip(b, next, depth + 1)?;
                }
            }
            6 => next = skip(b, next, depth + 1)?,
            _ => return None,
        }
        (next <= b.len()).then_some(next)
    }

    /// The byte string under text key `key` of the map that `b` is.
    pub fn map_bytes<'a>(b: &'a [u8], key: &str) -> Option<&'a [u8]> {
        let (major, entries, len) = head(b, 0)?;
        if major != 5 {
            return None;
        }
        let mut at = len;
        for _ in 0..entries {
            let (kmajor, klen, khead) = head(b, at)?;
            let value = skip(b, at, 0)?;
            let is_key = kmajor == 3 && b.get(at + khead..value)? == key.as_bytes() && klen as usize == key.len();
            if is_key {
                let (vmajor, vlen, vhead) = head(b, value)?;
                let end = skip(b, value, 0)?;
                return (vmajor == 2 && end - value - vhead == vlen as usize).then(|| &b[value + vhead..end]);
            }
            at = skip(b, value, 0)?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(PasskeyName::parse("  Work laptop ").unwrap().as_ref(), "Work laptop");
        assert_eq!(PasskeyName::parse("   "), Err(PasskeyNameError::Empty));
        assert_eq!(PasskeyName::parse(&"x".repeat(65)), Err(PasskeyNameError::TooLong));
        assert!(PasskeyName::parse(&"é".repeat(64)).is_ok());
        assert_eq!(PasskeyName::parse("a\u{7}b"), Err(PasskeyNameError::ControlCharacter));
        assert_eq!(PasskeyName::fallback("").as_ref(), "Passkey");
        assert_eq!(PasskeyName::fallback(&"y".repeat(80)).as_ref().len(), 64);
    }

    /// {"fmt": "none", "attStmt": {}, "authData": <bytes>}
    fn attestation(auth_data: &[u8]) -> Vec<u8> {
        let mut b = vec![0xa3, 0x63];
        b.extend(b"fmt");
        b.push(0x64);
        b.extend(b"none");
        b.push(0x67);
        b.extend(b"attStmt");
        b.push(0xa0);
        b.push(0x68);
        b.extend(b"authData");
        b.extend([0x58, auth_data.len() as u8]);
        b.extend(auth_data);
        b
    }

    #[test]
    fn the_aaguid_is_read_from_the_attestation_object() {
        let aaguid: [u8; 16] =
            [0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4];
        let mut auth = vec![7u8; 32];
        auth.push(0x45);
        auth.extend([0, 0, 0, 1]);
        auth.extend(aaguid);
        auth.extend([0, 2, 9, 9]);
        let object = attestation(&auth);
        assert_eq!(aaguid_in_attestation(&object), Some((Some(aaguid), 1)));
        assert_eq!(authenticator_name(&aaguid), Some("Google Password Manager"));
        assert_eq!(authenticator_name(&[0; 16]), None);
        // No attested credential data: no AAGUID.
        auth[32] = 0x05;
        assert_eq!(aaguid_in_attestation(&attestation(&auth)), Some((None, 1)));
        // Garbage and truncations read as nothing, never a panic.
        for cut in 0..object.len() {
            let _ = aaguid_in_attestation(&object[..cut]);
        }
        assert_eq!(aaguid_in_attestation(b"\xff\xff"), None);
    }
}
