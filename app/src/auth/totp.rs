//! Authenticator-app codes (TOTP, RFC 6238 with `totp-rs`) and backup
//! codes: the pure part, with time as a parameter. Which step was used
//! last, and which backup codes are spent, is the store's to decide
//! atomically (see `auth::authenticator`).

use std::fmt;

use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::error::AuthError;

/// RFC 6238's defaults, which every authenticator app reads the same way.
pub const STEP_SECS: u64 = 30;
pub const DIGITS: usize = 6;
/// One step either side: a phone's clock a little off, or a code typed as
/// it changed.
const SKEW: u16 = 1;
/// 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
/// Shown once, each good for one sign-in.
pub const BACKUP_CODES: usize = 10;
/// Lower case without 0/o, 1/l/i: ten of them are about 50 bits.
const BACKUP_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
const BACKUP_LEN: usize = 10;

/// An authenticator app's shared secret. Never printed.
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, account: &str, issuer: &str) -> Result<Totp, AuthError> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS as u8)
            .with_step_duration(STEP_SECS)
            .with_skew(SKEW)
            .with_secret(Secret::new(self.0.clone().into_boxed_slice()))
            // A colon would end the label early in the otpauth address.
            .with_account_name(account.replace(':', " "))
            .with_issuer(Some(issuer.replace(':', " ")))
            .build()
            .map_err(|e| AuthError::Unexpected(anyhow::anyhow!("building a TOTP: {e}")))
    }

    /// The secret as people type it into an app: base32, in groups of four.
    pub fn typed(&self) -> String {
        let b32 = Secret::new(self.0.clone().into_boxed_slice()).to_base32();
        b32.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
    }

    /// The `otpauth://` address an app reads from the QR code.
    pub fn otpauth_url(&self, account: &str, issuer: &str) -> Result<String, AuthError> {
        self.totp(account, issuer)?
            .to_url()
            .map_err(|e| AuthError::Unexpected(anyhow::anyhow!("writing the otpauth address: {e}")))
    }

    /// The QR code of `otpauth_url`, as an SVG data URL for an `<img>`
    /// (the page's CSP allows `data:` images, and no script draws it).
    pub fn qr_data_url(&self, account: &str, issuer: &str) -> Result<String, AuthError> {
        use base64::Engine as _;
        let url = self.otpauth_url(account, issuer)?;
        let code = qrcode::QrCode::new(url.as_bytes())
            .map_err(|e| AuthError::Unexpected(anyhow::anyhow!("drawing the QR code: {e}")))?;
        let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build();
        Ok(format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg)))
    }

    /// The step whose code `answer` is, within one step of `now_ms`;
    /// `None`: not a code of this secret now. Refusing a step already used
    /// is the caller's (RFC 6238 section 5.2).
    pub fn check(&self, answer: &TotpCode, now_ms: i64) -> Option<i64> {
        let totp = self.totp("-", "-").ok()?;
        totp.check(&answer.0, (now_ms.max(0) / 1000) as u64).map(|step| step as i64)
    }

    /// The code an app shows at `unix_secs` (for tests and the setup page's
    /// own check).
    #[cfg(test)]
    fn code_at(&self, unix_secs: u64) -> String {
        self.totp("-", "-").unwrap().generate(unix_secs).to_string()
    }
}

/// Six digits typed from an authenticator app.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(<redacted>)")
    }
}

/// A backup code, normalised (lower case, no separator). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct BackupCode(String);

impl fmt::Debug for BackupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupCode(<redacted>)")
    }
}

impl BackupCode {
    pub fn generate() -> Self {
        use rand::Rng;
        let mut rng = rand::rng();
        Self((0..BACKUP_LEN).map(|_| BACKUP_ALPHABET[rng.random_range(0..BACKUP_ALPHABET.len())] as char).collect())
    }

    /// As shown: two groups of five.
    pub fn shown(&self) -> String {
        format!("{}-{}", &self.0[..BACKUP_LEN / 2], &self.0[BACKUP_LEN / 2..])
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the second step's field takes: the app's code, or a backup code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactor {
    App(TotpCode),
    Backup(BackupCode),
}

impl SecondFactor {
    /// Spaces and dashes are how people copy codes; anything else that is
    /// not six digits or a backup code is refused before it costs a try.
    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        let s: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_lowercase();
        if s.len() == DIGITS && s.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Self::App(TotpCode(s)));
        }
        if s.len() == BACKUP_LEN && s.bytes().all(|b| BACKUP_ALPHABET.contains(&b)) {
            return Ok(Self::Backup(BackupCode(s)));
        }
        Err(AuthError::AuthenticatorCodeShape)
    }
}

impl TotpCode {
    /// Six digits, else the same refusal as the second step's.
    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        match SecondFactor::parse(raw)? {
            SecondFactor::App(code) => Ok(code),
            SecondFactor::Backup(_) => Err(AuthError::AuthenticatorCodeShape),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HOTP (RFC 4226 section 5.3) over HMAC-SHA-1, written here from the
    /// RFC so the vectors check `totp-rs` against an independent reading,
    /// not against itself.
    fn reference_totp(seed: &[u8], unix_secs: u64, digits: u32) -> String {
        use hmac::{Hmac, Mac};
        let counter = unix_secs / 30;
        let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(seed).unwrap();
        mac.update(&counter.to_be_bytes());
        let hash = mac.finalize().into_bytes();
        let offset = (hash[19] & 0x0f) as usize;
        let binary = u32::from_be_bytes([hash[offset] & 0x7f, hash[offset + 1], hash[offset + 2], hash[offset + 3]]);
        format!("{:0width$}", binary % 10u32.pow(digits), width = digits as usize)
    }

    /// RFC 6238 Appendix B, the SHA-1 rows: (time, 8-digit TOTP).
    const RFC_6238_SHA1: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];
    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_rfc_6238_appendix_b() {
        let secret = TotpSecret::from_bytes(RFC_SEED.to_vec());
        for (t, expected) in RFC_6238_SHA1 {
            // The reference reads the RFC right...
            assert_eq!(reference_totp(RFC_SEED, t, 8), expected, "reference at {t}");
            // ...and ours, at six digits, is the same number's last six.
            assert_eq!(secret.code_at(t), &expected[2..], "ours at {t}");
            assert_eq!(secret.code_at(t), reference_totp(RFC_SEED, t, 6));
            let answer = TotpCode::parse(&expected[2..]).unwrap();
            assert_eq!(secret.check(&answer, t as i64 * 1000), Some((t / 30) as i64), "accepted at {t}");
        }
    }

    #[test]
    fn one_step_of_skew_and_no_more() {
        let secret = TotpSecret::generate();
        let t = 1_800_000_000u64;
        let now = reference_totp(secret.expose(), t, 6);
        let code = TotpCode::parse(&now).unwrap();
        assert_eq!(secret.check(&code, t as i64 * 1000), Some((t / 30) as i64));
        assert_eq!(secret.check(&code, (t + 30) as i64 * 1000), Some((t / 30) as i64), "a step late");
        assert_eq!(secret.check(&code, (t - 30) as i64 * 1000), Some((t / 30) as i64), "a step early");
        assert_eq!(secret.check(&code, (t + 60) as i64 * 1000), None, "two steps late");
        assert_eq!(secret.check(&code, (t - 60) as i64 * 1000), None, "two steps early");
        // The reference and ours agree at any time, not only the RFC's.
        for t in [0u64, 29, 30, 1_700_000_017, 4_102_444_800] {
            assert_eq!(secret.code_at(t), reference_totp(secret.expose(), t, 6), "at {t}");
        }
    }

    #[test]
    fn answers_are_six_digits_or_a_backup_code() {
        assert!(matches!(SecondFactor::parse(" 123 456 "), Ok(SecondFactor::App(_))));
        assert!(matches!(SecondFactor::parse("123-456"), Ok(SecondFactor::App(_))));
        let backup = BackupCode::generate();
        assert_eq!(backup.shown().len(), 11);
        assert_eq!(
            SecondFactor::parse(&backup.shown().to_uppercase()).ok(),
            Some(SecondFactor::Backup(backup.clone()))
        );
        for bad in ["", "12345", "1234567", "12345a", "abcde-fghi1", "abcde-fghi", "١٢٣٤٥٦", "+12345"] {
            assert!(matches!(SecondFactor::parse(bad), Err(AuthError::AuthenticatorCodeShape)), "{bad:?}");
        }
        assert!(TotpCode::parse(&backup.shown()).is_err());
    }

    #[test]
    fn secrets_and_codes_never_print() {
        let secret = TotpSecret::generate();
        let typed = secret.typed();
        assert_eq!(typed.replace(' ', "").len(), 32, "160 bits of base32");
        assert!(!format!("{secret:?}").contains(&typed[..4]));
        assert_eq!(format!("{:?}", TotpCode::parse("123456").unwrap()), "TotpCode(<redacted>)");
        let backup = BackupCode::generate();
        assert!(!format!("{backup:?}").contains(backup.as_str()));
        let url = secret.otpauth_url("ann@example.com", "Passcode").unwrap();
        assert!(url.starts_with("otpauth://totp/Passcode:ann%40example.com?"), "{url}");
        assert!(url.contains(&format!("secret={}", typed.replace(' ', ""))));
        assert!(secret.qr_data_url("ann@example.com", "Passcode").unwrap().starts_with("data:image/svg+xml;base64,"));
    }
}
