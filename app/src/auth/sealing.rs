//! Sealing authenticator secrets at rest: AES-256-GCM under a key from the
//! configuration (`PASSCODE_TOTP_KEY`), kept apart from the code-hash
//! secret so that a leak of one does not open the other. A sealed value
//! names the key that sealed it, so keys can be rotated: the new key
//! seals, the old ones (`PASSCODE_TOTP_OLD_KEYS`) still open, and a secret
//! sealed under an old key is sealed again under the new one at its next
//! use.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

/// Written first in every sealed value: the format, should it change.
const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// One sealing key and the short id stored beside what it sealed.
#[derive(Clone)]
struct SealingKey {
    id: String,
    cipher: Aes256Gcm,
}

impl SealingKey {
    fn new(bytes: &[u8; 32]) -> Self {
        use sha2::{Digest, Sha256};
        // The id names the key without revealing it: a hash, shortened.
        let digest = Sha256::digest([b"passcode totp key id\n".as_slice(), bytes].concat());
        let id = crate::domain::to_hex(&digest[..4]);
        Self { id, cipher: Aes256Gcm::new(bytes.into()) }
    }
}

/// The keys secrets are sealed and opened with. `None` in the service:
/// authenticator apps are off in this deployment.
#[derive(Clone)]
pub struct SealingKeys {
    current: SealingKey,
    old: Vec<SealingKey>,
}

impl fmt::Debug for SealingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealingKeys(current {}, {} old, <redacted>)", self.current.id, self.old.len())
    }
}

/// What can go wrong opening a sealed value. Either way the secret cannot
/// be used, and the person is told the check is unavailable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("no PASSCODE_TOTP_KEY is configured")]
    NoKey,
    #[error("sealed under key {0}, which is not configured (PASSCODE_TOTP_KEY or PASSCODE_TOTP_OLD_KEYS)")]
    UnknownKey(String),
    #[error("the sealed value is damaged, or was sealed for another account")]
    Damaged,
}

/// An opened value, and whether it should be sealed again under the
/// current key (it was sealed under an old one).
pub struct Opened {
    pub plaintext: Vec<u8>,
    pub reseal: bool,
}

impl SealingKeys {
    /// `current` seals; every key opens what it sealed.
    pub fn new(current: &[u8; 32], old: &[[u8; 32]]) -> Self {
        Self { current: SealingKey::new(current), old: old.iter().map(SealingKey::new).collect() }
    }

    /// Seals `plaintext` for `context` (the account it belongs to): the
    /// result opens only with the same context.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        use rand::RngCore;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .current
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: context.as_bytes() })
            .expect("AES-GCM seals any message shorter than 64 GiB");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{VERSION}.{}.{}", self.current.id, B64.encode(bytes))
    }

    /// Opens what `seal` made for the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Opened, OpenError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(VERSION), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(OpenError::Damaged);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
        let bytes = B64.decode(body).map_err(|_| OpenError::Damaged)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError::Damaged)?;
        let plaintext = key
            .cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad: context.as_bytes() })
            .map_err(|_| OpenError::Damaged)?;
        Ok(Opened { plaintext, reseal: key.id != self.current.id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 32] = [7; 32];
    const B: [u8; 32] = [9; 32];

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_account() {
        let keys = SealingKeys::new(&A, &[]);
        let secret = b"12345678901234567890";
        let sealed = keys.seal(secret, "user-1");
        assert!(sealed.starts_with("v1."), "{sealed}");
        // Nothing of the secret shows, in any encoding a reader would try.
        assert!(!sealed.contains("1234567890"));
        assert!(!sealed.contains("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), "not its base32");
        assert!(!sealed.contains(&crate::domain::to_hex(secret)));
        let opened = keys.open(&sealed, "user-1").unwrap();
        assert_eq!(opened.plaintext, secret);
        assert!(!opened.reseal);
        // Another account's row, the wrong key, or a flipped byte: no.
        assert_eq!(keys.open(&sealed, "user-2").err(), Some(OpenError::Damaged));
        let other = SealingKeys::new(&B, &[]);
        assert!(matches!(other.open(&sealed, "user-1"), Err(OpenError::UnknownKey(_))));
        let (head, body) = sealed.rsplit_once('.').unwrap();
        let mut bytes = B64.decode(body).unwrap();
        bytes[20] ^= 1;
        assert_eq!(keys.open(&format!("{head}.{}", B64.encode(bytes)), "user-1").err(), Some(OpenError::Damaged));
        for junk in ["", "v1", "v1.x", "v2.abc.def", "v1.abc.@@@"] {
            assert!(keys.open(junk, "user-1").is_err(), "{junk:?}");
        }
    }

    #[test]
    fn two_seals_of_one_secret_differ() {
        let keys = SealingKeys::new(&A, &[]);
        assert_ne!(keys.seal(b"same", "u"), keys.seal(b"same", "u"), "a fresh nonce each time");
    }

    #[test]
    fn after_rotation_old_secrets_open_and_ask_to_be_sealed_again() {
        let before = SealingKeys::new(&A, &[]);
        let sealed = before.seal(b"secret", "u");
        let after = SealingKeys::new(&B, &[A]);
        let opened = after.open(&sealed, "u").unwrap();
        assert_eq!(opened.plaintext, b"secret");
        assert!(opened.reseal, "sealed under the old key");
        let resealed = after.seal(&opened.plaintext, "u");
        assert!(!after.open(&resealed, "u").unwrap().reseal);
        // Once the old key is dropped, what it sealed no longer opens.
        assert!(matches!(SealingKeys::new(&B, &[]).open(&sealed, "u"), Err(OpenError::UnknownKey(_))));
        assert!(!format!("{after:?}").contains("0707"), "keys never print");
    }
}
