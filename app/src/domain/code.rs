use rand::Rng;
use std::fmt;

/// Digits only, or uppercase letters and digits without the look-alikes
/// (0/O, 1/I/L) so a code read aloud or typed from a phone survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeAlphabet {
    Digits,
    Alphanumeric,
}

impl CodeAlphabet {
    fn chars(self) -> &'static [u8] {
        match self {
            CodeAlphabet::Digits => b"0123456789",
            CodeAlphabet::Alphanumeric => b"ABCDEFGHJKMNPQRSTUVWXYZ23456789",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePolicy {
    pub length: usize,
    pub alphabet: CodeAlphabet,
}

impl CodePolicy {
    pub const MIN_LENGTH: usize = 6;
    pub const MAX_LENGTH: usize = 10;
}

impl Default for CodePolicy {
    fn default() -> Self {
        Self { length: 6, alphabet: CodeAlphabet::Digits }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("Enter the code from your message.")]
    Empty,
    #[error("The code has {expected} characters; you entered {actual}.")]
    WrongLength { expected: usize, actual: usize },
    #[error("The code is made of digits only.")]
    NotDigits,
    #[error("The code is made of letters and digits only.")]
    BadCharacters,
}

/// A one-time code. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

impl Code {
    /// A fresh code from the thread-local CSPRNG (ChaCha, seeded from the OS).
    /// `random_range` samples uniformly by rejection, so no digit is favoured.
    pub fn generate(policy: &CodePolicy) -> Self {
        let alphabet = policy.alphabet.chars();
        let mut rng = rand::rng();
        let code = (0..policy.length).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect();
        Self(code)
    }

    /// Accepts what people paste: spaces and dashes are dropped, letters
    /// upper-cased.
    pub fn parse(input: &str, policy: &CodePolicy) -> Result<Self, CodeError> {
        let cleaned: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '–' | '—' | '.'))
            .flat_map(char::to_uppercase)
            .collect();
        if cleaned.is_empty() {
            return Err(CodeError::Empty);
        }
        let actual = cleaned.chars().count();
        let alphabet = policy.alphabet.chars();
        let in_alphabet = cleaned.bytes().all(|b| alphabet.contains(&b));
        if !in_alphabet {
            return Err(match policy.alphabet {
                CodeAlphabet::Digits => CodeError::NotDigits,
                CodeAlphabet::Alphanumeric => CodeError::BadCharacters,
            });
        }
        if actual != policy.length {
            return Err(CodeError::WrongLength { expected: policy.length, actual });
        }
        Ok(Self(cleaned))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Code(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_fit_their_policy() {
        for policy in [CodePolicy::default(), CodePolicy { length: 10, alphabet: CodeAlphabet::Alphanumeric }] {
            for _ in 0..200 {
                let code = Code::generate(&policy);
                assert_eq!(Code::parse(code.expose(), &policy).as_ref(), Ok(&code));
            }
        }
    }

    #[test]
    fn digits_are_roughly_uniform() {
        // 60,000 digits: each should appear ~6,000 times; 5,500..6,500 is
        // more than six standard deviations wide.
        let policy = CodePolicy { length: 10, alphabet: CodeAlphabet::Digits };
        let mut counts = [0u32; 10];
        for _ in 0..6_000 {
            for b in Code::generate(&policy).expose().bytes() {
                counts[(b - b'0') as usize] += 1;
            }
        }
        assert!(counts.iter().all(|&n| (5_500..6_500).contains(&n)), "{counts:?}");
    }

    #[test]
    fn pasted_codes_are_cleaned() {
        let p = CodePolicy::default();
        assert_eq!(Code::parse(" 123-456 ", &p).unwrap().expose(), "123456");
        assert_eq!(Code::parse("123 456", &p).unwrap().expose(), "123456");
        let alnum = CodePolicy { length: 6, alphabet: CodeAlphabet::Alphanumeric };
        assert_eq!(Code::parse("abc-def", &alnum).unwrap().expose(), "ABCDEF");
    }

    #[test]
    fn bad_codes_are_rejected_with_reasons() {
        let p = CodePolicy::default();
        assert_eq!(Code::parse("", &p), Err(CodeError::Empty));
        assert_eq!(Code::parse("12345", &p), Err(CodeError::WrongLength { expected: 6, actual: 5 }));
        assert_eq!(Code::parse("1234567", &p), Err(CodeError::WrongLength { expected: 6, actual: 7 }));
        assert_eq!(Code::parse("12345a", &p), Err(CodeError::NotDigits));
        let alnum = CodePolicy { length: 6, alphabet: CodeAlphabet::Alphanumeric };
        assert_eq!(Code::parse("ABCDE0", &alnum), Err(CodeError::BadCharacters));
    }

    #[test]
    fn debug_hides_the_code() {
        let code = Code::parse("123456", &CodePolicy::default()).unwrap();
        assert!(!format!("{code:?}").contains("123456"));
    }
}
