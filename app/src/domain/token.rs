use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
}

fn random_b64<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn parse_b64<const N: usize>(input: &str) -> Result<String, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(input).map_err(|_| TokenError::Malformed)?;
    if bytes.len() != N {
        return Err(TokenError::Malformed);
    }
    Ok(input.to_owned())
}

/// Lower-case hex, the form hashes and secrets are stored and configured in.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random 128-bit identifier for rows (users) that need an opaque id.
pub fn random_id() -> String {
    random_b64::<16>()
}

/// A 256-bit session token: it lives only in the browser's cookie; the server
/// keeps its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn generate() -> Self {
        Self(random_b64::<32>())
    }

    pub fn parse(input: &str) -> Result<Self, TokenError> {
        parse_b64::<32>(input).map(Self)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database stores and looks up. A 256-bit random token needs no
    /// slow hash; SHA-256 makes a leaked table useless.
    pub fn hash(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        to_hex(&digest)
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// Names a challenge. It sits in a cookie of the browser that asked for the
/// code; 128 random bits, so it cannot be guessed to attack someone else's.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ChallengeId(String);

impl ChallengeId {
    pub fn generate() -> Self {
        Self(random_b64::<16>())
    }

    pub fn parse(input: &str) -> Result<Self, TokenError> {
        parse_b64::<16>(input).map(Self)
    }
}

impl AsRef<str> for ChallengeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let t = SessionToken::generate();
        assert_eq!(SessionToken::parse(t.expose()).unwrap(), t);
        assert_eq!(t.expose().len(), 43);
        assert!(SessionToken::parse("").is_err());
        assert!(SessionToken::parse(&t.expose()[1..]).is_err());
        assert!(SessionToken::parse(&format!("{}!", &t.expose()[1..])).is_err());
        assert_ne!(SessionToken::generate(), t);
        assert_eq!(t.hash().len(), 64);
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn challenge_ids_round_trip() {
        let c = ChallengeId::generate();
        assert_eq!(ChallengeId::parse(c.as_ref()).unwrap(), c);
        assert!(ChallengeId::parse("abc").is_err());
    }
}
