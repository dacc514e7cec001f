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
/// (A session lookup hashes its token on every forward-auth check: one
/// allocation, not one per byte.)
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// A random 128-bit identifier for rows (users) that need an opaque id.
pub fn random_id() -> String {
    random_b64::<16>()
}

/// 256 random bits that only the browser (or the inbox) holds; the server
/// keeps their SHA-256. Session tokens and sign-in link tokens are both this.
#[derive(Clone, PartialEq, Eq)]
struct Secret256(String);

impl Secret256 {
    fn generate() -> Self {
        Self(random_b64::<32>())
    }

    fn parse(input: &str) -> Result<Self, TokenError> {
        parse_b64::<32>(input).map(Self)
    }

    /// A 256-bit random value needs no slow hash; SHA-256 makes a leaked
    /// table useless.
    fn hash(&self) -> String {
        to_hex(&Sha256::digest(self.0.as_bytes()))
    }
}

/// The session cookie's value.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(Secret256);

/// What a sign-in link carries: never the code, so a link that leaks (from a
/// proxy log, a shared screenshot) says nothing about the code and the code
/// says nothing about the link.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken(Secret256);

macro_rules! secret_token {
    ($name:ident) => {
        impl $name {
            pub fn generate() -> Self {
                Self(Secret256::generate())
            }

            pub fn parse(input: &str) -> Result<Self, TokenError> {
                Secret256::parse(input).map(Self)
            }

            pub fn expose(&self) -> &str {
                &self.0.0
            }

            /// What the database stores and looks up.
            pub fn hash(&self) -> String {
                self.0.hash()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

/// Names a WebAuthn ceremony (adding a passkey, signing in or confirming
/// with one) between its start and its finish: the ceremony's state stays
/// in a database row found by this token's hash, and the browser holds the
/// token in an HttpOnly cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct CeremonyToken(Secret256);

/// Names a half-finished sign-in waiting for the authenticator app's code:
/// the row is found by this token's hash, the browser holds the token in
/// an HttpOnly cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct SecondStepToken(Secret256);

secret_token!(SessionToken);
secret_token!(LinkToken);
secret_token!(CeremonyToken);
secret_token!(SecondStepToken);

/// What a message's "Not you?" link carries: 128 random bits, so the link
/// stays short enough for a text message (a guess has one chance in 2^128,
/// and the link works for a day, once). The server keeps its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct ReportToken(String);

impl ReportToken {
    pub fn generate() -> Self {
        Self(random_b64::<16>())
    }

    pub fn parse(input: &str) -> Result<Self, TokenError> {
        parse_b64::<16>(input).map(Self)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        to_hex(&Sha256::digest(self.0.as_bytes()))
    }
}

impl fmt::Debug for ReportToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReportToken(<redacted>)")
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
        assert_eq!(to_hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert!(!format!("{t:?}").contains(t.expose()));
        let link = LinkToken::generate();
        assert_eq!(LinkToken::parse(link.expose()).unwrap(), link);
        assert!(!format!("{link:?}").contains(link.expose()));
        assert_ne!(link.hash(), t.hash());
        let report = ReportToken::generate();
        assert_eq!(ReportToken::parse(report.expose()).unwrap(), report);
        assert_eq!(report.expose().len(), 22);
        assert!(ReportToken::parse(link.expose()).is_err());
        assert!(!format!("{report:?}").contains(report.expose()));
    }

    #[test]
    fn challenge_ids_round_trip() {
        let c = ChallengeId::generate();
        assert_eq!(ChallengeId::parse(c.as_ref()).unwrap(), c);
        assert!(ChallengeId::parse("abc").is_err());
    }
}
