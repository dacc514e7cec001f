use std::fmt;
use std::str::FromStr;

pub use super::Channel;

/// Longest input we look at; RFC 5321 caps a forward path at 254 characters.
const MAX_INPUT: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    #[error("Enter your email address or phone number.")]
    Empty,
    #[error("That is too long to be an email address or phone number.")]
    TooLong,
    #[error("That contains characters that can't be part of an email address or phone number.")]
    ControlCharacters,
    #[error("Enter an email address like name@example.com.")]
    InvalidEmail,
    #[error("Enter a phone number with its country code, like +44 7911 123456.")]
    InvalidPhone,
    #[error(
        "Enter an email address like name@example.com or a phone number with its country code, like +44 7911 123456."
    )]
    Unrecognised,
}

/// An email address in the one spelling its inbox has here: the local part
/// lower-cased, the domain in its ASCII (IDNA) form. RFC 5321 lets a server
/// treat the local part as case-sensitive, but no mail service people use
/// does: `Jane@Example.com` and `jane@example.com` are one inbox, and so are
/// `jane@bücher.example` and `jane@xn--bcher-kva.example`, so each must be
/// one account with one set of limits. Spellings that only look like an
/// ordinary address are refused instead of given an account of their own:
/// quoted local parts (`"\j\a\n\e"@example.com`, `"x@victim.com"@evil.com`),
/// invisible and control characters, and full-width letters in the local
/// part (in the domain IDNA maps them to ASCII).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let trimmed = precheck(input)?;
        if trimmed.chars().any(char::is_whitespace) {
            return Err(IdentifierError::InvalidEmail);
        }
        let (user, domain) = trimmed.rsplit_once('@').ok_or(IdentifierError::InvalidEmail)?;
        if user.is_empty() || user.starts_with('"') || user.contains(['"', '\\', '@']) {
            return Err(IdentifierError::InvalidEmail);
        }
        if user.chars().any(|c| ('\u{FF01}'..='\u{FF5E}').contains(&c)) {
            return Err(IdentifierError::InvalidEmail);
        }
        // The domain as DNS knows it: IDNA (UTS #46) maps full-width and
        // other compatibility forms, folds case, and writes it in ASCII.
        let domain = idna::domain_to_ascii(domain).map_err(|_| IdentifierError::InvalidEmail)?;
        // lettre checks the rest of the grammar (dot-atoms, lengths).
        let address =
            lettre::Address::from_str(&format!("{user}@{domain}")).map_err(|_| IdentifierError::InvalidEmail)?;
        let (user, domain) = (address.user(), address.domain());
        // A real inbox needs a dotted host name of letters, digits and
        // hyphens (lettre also takes dotless and bracketed domains).
        let valid_domain = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.split('.').all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
            && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !valid_domain {
            return Err(IdentifierError::InvalidEmail);
        }
        Ok(Self(format!("{}@{domain}", user.to_lowercase())))
    }

    /// An address as the database holds it: anything with an `@` and
    /// something on each side of it (see `Identifier::from_stored`).
    fn stored(value: &str) -> Result<Self, IdentifierError> {
        match value.rsplit_once('@') {
            Some((user, domain)) if !user.is_empty() && !domain.is_empty() => Ok(Self(value.to_owned())),
            _ => Err(IdentifierError::InvalidEmail),
        }
    }

    /// `j•••@example.com`: enough to recognise, not enough to harvest. Split
    /// at the last `@` (the one that separates the domain).
    pub fn masked(&self) -> String {
        let (user, domain) = self.0.rsplit_once('@').expect("parsed address has an @");
        let first: String = user.chars().take(1).collect();
        format!("{first}•••@{domain}")
    }

    /// The address without its plus tag (`jane+news@example.com` →
    /// `jane@example.com`). Tagged addresses are separate accounts (many
    /// providers deliver them to separate folders, some to separate people),
    /// but they share the base address's send allowance: tags must not
    /// multiply how many codes one inbox can be sent.
    pub fn untagged(&self) -> String {
        let (user, domain) = self.0.rsplit_once('@').expect("parsed address has an @");
        match user.split_once('+') {
            Some((base, _)) if !base.is_empty() => format!("{base}@{domain}"),
            _ => self.0.clone(),
        }
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.masked())
    }
}

/// A phone number in E.164 form (`+447911123456`), checked against
/// libphonenumber's metadata.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
    international: String,
    country_code: u16,
}

impl PhoneNumber {
    /// `default_region` (ISO 3166 alpha-2, e.g. "GB") lets people type a
    /// national number; without it a leading `+` or `00` is required.
    pub fn parse(input: &str, default_region: Option<&str>) -> Result<Self, IdentifierError> {
        let trimmed = precheck(input)?;
        if !trimmed.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.')) {
            return Err(IdentifierError::InvalidPhone);
        }
        if trimmed.rfind('+').is_some_and(|i| i > 0) {
            return Err(IdentifierError::InvalidPhone);
        }
        let normalised = match trimmed.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None => trimmed.to_owned(),
        };
        let region = match default_region {
            Some(code) if !normalised.starts_with('+') => {
                Some(code.parse::<phonenumber::country::Id>().map_err(|_| IdentifierError::InvalidPhone)?)
            }
            _ => None,
        };
        if region.is_none() && !normalised.starts_with('+') {
            return Err(IdentifierError::InvalidPhone);
        }
        let number = phonenumber::parse(region, &normalised).map_err(|_| IdentifierError::InvalidPhone)?;
        if !phonenumber::is_valid(&number) {
            return Err(IdentifierError::InvalidPhone);
        }
        Ok(Self {
            e164: number.format().mode(phonenumber::Mode::E164).to_string(),
            international: number.format().mode(phonenumber::Mode::International).to_string(),
            country_code: number.code().value(),
        })
    }

    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The country calling code of an ISO 3166 region (`GB` → 44).
    pub fn calling_code_of(region: &str) -> Option<u16> {
        phonenumber::metadata::DATABASE.by_id(region.trim().to_ascii_uppercase().as_str()).map(|m| m.country_code())
    }

    /// `+44 •••• ••• 123`: the country code and the last three digits.
    pub fn masked(&self) -> String {
        let prefix = format!("+{}", self.country_code);
        let rest = self.international.strip_prefix(&prefix).unwrap_or(&self.international);
        let digits = rest.chars().filter(char::is_ascii_digit).count();
        let keep_from = digits.saturating_sub(3);
        let mut seen = 0;
        let masked: String = rest
            .chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    seen += 1;
                    if seen > keep_from { c } else { '•' }
                } else {
                    c
                }
            })
            .collect();
        format!("{prefix}{masked}")
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        &self.e164
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// Where a code goes: the key for challenges, users and (later) limits.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Identifier {
    Email(EmailAddress),
    Phone(PhoneNumber),
}

impl Identifier {
    /// One field accepts either: an `@` means email, otherwise a phone number.
    pub fn parse(input: &str, default_region: Option<&str>) -> Result<Self, IdentifierError> {
        let trimmed = precheck(input)?;
        if trimmed.contains('@') {
            return EmailAddress::parse(trimmed).map(Identifier::Email);
        }
        let looks_like_phone = trimmed.starts_with(['+', '(']) || trimmed.starts_with(|c: char| c.is_ascii_digit());
        if looks_like_phone {
            return PhoneNumber::parse(trimmed, default_region).map(Identifier::Phone);
        }
        Err(IdentifierError::Unrecognised)
    }

    pub fn channel(&self) -> Channel {
        match self {
            Identifier::Email(_) => Channel::Email,
            Identifier::Phone(_) => Channel::Sms,
        }
    }

    pub fn masked(&self) -> String {
        match self {
            Identifier::Email(e) => e.masked(),
            Identifier::Phone(p) => p.masked(),
        }
    }

    /// Whose send allowance a code to this identifier draws on: an email
    /// address without its plus tag (see `EmailAddress::untagged`), a phone
    /// number itself.
    pub fn allowance_key(&self) -> String {
        match self {
            Identifier::Email(e) => e.untagged(),
            Identifier::Phone(p) => p.as_ref().to_owned(),
        }
    }

    /// Rebuilds an identifier from its stored, already-normalised form. An
    /// email address is taken as stored (it was parsed when it was stored,
    /// perhaps under older, looser rules: refusing it now would lock its
    /// account out of every page instead of letting it sign in as before).
    pub fn from_stored(channel: Channel, value: &str) -> Result<Self, IdentifierError> {
        match channel {
            Channel::Email => EmailAddress::stored(value).map(Identifier::Email),
            Channel::Sms => PhoneNumber::parse(value, None).map(Identifier::Phone),
        }
    }
}

impl AsRef<str> for Identifier {
    fn as_ref(&self) -> &str {
        match self {
            Identifier::Email(e) => e.as_ref(),
            Identifier::Phone(p) => p.as_ref(),
        }
    }
}

fn precheck(input: &str) -> Result<&str, IdentifierError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(IdentifierError::Empty);
    }
    if trimmed.chars().count() > MAX_INPUT {
        return Err(IdentifierError::TooLong);
    }
    if trimmed.chars().any(|c| c.is_control() || is_invisible(c)) {
        return Err(IdentifierError::ControlCharacters);
    }
    Ok(trimmed)
}

/// Characters that print as nothing (or reorder what is around them), so
/// two inputs that look the same differ: Unicode's format characters (Cf)
/// and the variation selectors.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{0600}'..='\u{0605}'
        | '\u{06DD}' | '\u{070F}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_one_address_whatever_their_case() {
        let e = EmailAddress::parse("  Jane.Doe@Example.COM ").unwrap();
        assert_eq!(e.as_ref(), "jane.doe@example.com");
        assert_eq!(e.masked(), "j•••@example.com");
        assert_eq!(EmailAddress::parse("JANE.DOE@example.com").unwrap(), e);
        assert_eq!(Identifier::parse("Jane.Doe@EXAMPLE.com", None).unwrap(), Identifier::Email(e));
    }

    /// One inbox, one spelling: the domain in its ASCII form however it
    /// was typed; spellings that only look like an ordinary address refused.
    #[test]
    fn one_inbox_has_one_spelling() {
        let plain = EmailAddress::parse("jane@example.com").unwrap();
        for same in ["jane@ＥＸＡＭＰＬＥ.com", "jane@example。com", "Jane@EXAMPLE.COM", "jane@example.com"] {
            assert_eq!(EmailAddress::parse(same).unwrap(), plain, "{same}");
        }
        let idn = EmailAddress::parse("jane@Bücher.example").unwrap();
        assert_eq!(idn.as_ref(), "jane@xn--bcher-kva.example");
        assert_eq!(EmailAddress::parse("jane@xn--bcher-kva.example").unwrap(), idn);
        for refused in [
            "\"\\j\\a\\n\\e\"@example.com",
            "\"x@victim.com\"@evil.com",
            "\"jane\"@example.com",
            "jane\"@example.com",
            "ja\\ne@example.com",
            "ｊａｎｅ@example.com",
            "ja\u{200B}ne@example.com",
            "jane@exa\u{00AD}mple.com",
            "\u{202E}jane@example.com",
            "jane\u{2060}@example.com",
            "jane\u{FE0F}@example.com",
            "jane@example.com\u{E0041}",
            "x@victim.com@evil.com",
        ] {
            assert!(EmailAddress::parse(refused).is_err(), "{refused:?}");
        }
        // Masked at the address's own (last) @.
        assert_eq!(EmailAddress::parse("jane@evil.example").unwrap().masked(), "j•••@evil.example");
    }

    #[test]
    fn plus_tags_are_their_own_addresses_with_their_base_allowance() {
        let tagged = EmailAddress::parse("Jane+News@example.com").unwrap();
        assert_eq!(tagged.as_ref(), "jane+news@example.com");
        assert_eq!(tagged.untagged(), "jane@example.com");
        assert_eq!(EmailAddress::parse("jane@example.com").unwrap().untagged(), "jane@example.com");
        assert_eq!(EmailAddress::parse("+x@example.com").unwrap().untagged(), "+x@example.com");
        let phone = Identifier::parse("+44 7911 123456", None).unwrap();
        assert_eq!(phone.allowance_key(), "+447911123456");
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for bad in [
            "foo@",
            "@example.com",
            "foo@bar",
            "foo@@bar.com",
            "a b@c.com",
            "foo@exa mple.com",
            "foo@-x.com",
            "foo@x..com",
        ] {
            assert_eq!(EmailAddress::parse(bad), Err(IdentifierError::InvalidEmail), "{bad}");
        }
        assert_eq!(Identifier::parse("x\u{7}@example.com", None), Err(IdentifierError::ControlCharacters));
        assert_eq!(Identifier::parse(&"a".repeat(300), None), Err(IdentifierError::TooLong));
        assert_eq!(Identifier::parse("   ", None), Err(IdentifierError::Empty));
        assert_eq!(Identifier::parse("hello", None), Err(IdentifierError::Unrecognised));
    }

    #[test]
    fn phone_numbers_become_e164() {
        // UK, US, India, Germany, written the ways people write them.
        let cases = [
            ("+44 7911 123456", "+447911123456"),
            ("+44-7911-123-456", "+447911123456"),
            ("0044 7911 123456", "+447911123456"),
            ("+44 (0) 7911 123456", "+447911123456"),
            ("+1 (201) 555-0123", "+12015550123"),
            ("001 201 555 0123", "+12015550123"),
            ("+1.201.555.0123", "+12015550123"),
            ("+91 98765 43210", "+919876543210"),
            ("0091-98765-43210", "+919876543210"),
            ("+49 30 901820", "+4930901820"),
            ("+49 (30) 901820", "+4930901820"),
            ("0049 30 901820", "+4930901820"),
        ];
        for (input, e164) in cases {
            let p = PhoneNumber::parse(input, None).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(p.as_ref(), e164, "{input}");
        }
        // National forms need a default region.
        for (input, region, e164) in [
            ("07911 123456", "GB", "+447911123456"),
            ("(201) 555-0123", "US", "+12015550123"),
            ("098765 43210", "IN", "+919876543210"),
            ("030 901820", "DE", "+4930901820"),
        ] {
            let p = PhoneNumber::parse(input, Some(region)).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(p.as_ref(), e164, "{input} in {region}");
        }
    }

    #[test]
    fn bad_phone_numbers_are_rejected() {
        for bad in ["+1 12", "+44 12", "07911 123456", "+44 7700 9001a3", "++447911123456"] {
            assert!(PhoneNumber::parse(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn phone_mask_keeps_country_code_and_last_three_digits() {
        let p = PhoneNumber::parse("+447911123456", None).unwrap();
        let masked = p.masked();
        assert!(masked.starts_with("+44 "), "{masked}");
        assert!(masked.ends_with("456"), "{masked}");
        assert!(!masked.contains("7911"), "{masked}");
    }

    #[test]
    fn one_field_accepts_either() {
        assert_eq!(Identifier::parse("a@example.com", None).unwrap().channel(), Channel::Email);
        assert_eq!(Identifier::parse("+447911123456", None).unwrap().channel(), Channel::Sms);
    }
}
