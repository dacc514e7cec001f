//! The text message that carries a code. Sending it is `delivery::sms`'s job.

use crate::domain::Code;
use crate::i18n::{Locale, td_string};

/// The text message: a sentence, the "Not you?" link, a blank line, then the
/// origin-bound one-time-code line (`@host #code`), which must come last, so
/// browsers and phones can offer to fill the code in (WebOTP). That line is
/// a format, not words: it is the same in every language.
pub fn compose(product_name: &str, code: &Code, minutes: i64, report: &str, public_host: &str, l: Locale) -> String {
    let c = code.expose();
    let minutes = u64::try_from(minutes).unwrap_or(1);
    let sentence = td_string!(l, sms.body, product = product_name, code = c, count = minutes);
    let not_you = td_string!(l, sms.not_you, link = report);
    format!("{sentence}\n{not_you}\n\n@{public_host} #{c}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CodePolicy;

    #[test]
    fn the_text_ends_with_the_one_time_code_line() {
        let code = Code::generate(&CodePolicy::default());
        let text = compose("Passcode", &code, 10, "https://login.example.com/n?t=abc", "login.example.com", Locale::en);
        assert!(
            text.starts_with(&format!("Your Passcode sign-in code is {}. It expires in 10 minutes.", code.expose()))
        );
        assert!(text.contains("Not you? https://login.example.com/n?t=abc\n"), "{text}");
        assert!(text.ends_with(&format!("\n\n@login.example.com #{}", code.expose())), "{text}");
        let one = compose("Passcode", &code, 1, "https://x/n?t=abc", "x", Locale::en);
        assert!(one.contains("It expires in 1 minute."), "{one}");
        for l in [Locale::de, Locale::fr, Locale::es] {
            let text = compose("Passcode", &code, 10, "https://login.example.com/n?t=abc", "login.example.com", l);
            assert!(!text.contains("sign-in code") && !text.contains("Not you"), "{text}");
            assert!(
                text.contains(code.expose())
                    && text.contains("10")
                    && text.contains("https://login.example.com/n?t=abc")
            );
            // The WebOTP line is not translated.
            assert!(text.ends_with(&format!("\n\n@login.example.com #{}", code.expose())), "{text}");
        }
    }
}
