//! The text message that carries a code. Sending it is `delivery::sms`'s job.

use crate::domain::Code;

/// The text message: a sentence, the "Not you?" link, a blank line, then the
/// origin-bound one-time-code line (`@host #code`), which must come last, so
/// browsers and phones can offer to fill the code in (WebOTP).
pub fn compose(product_name: &str, code: &Code, minutes: i64, report: &str, public_host: &str) -> String {
    let c = code.expose();
    format!(
        "Your {product_name} sign-in code is {c}. It expires in {minutes} minutes.\nNot you? {report}\n\n@{public_host} #{c}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CodePolicy;

    #[test]
    fn the_text_ends_with_the_one_time_code_line() {
        let code = Code::generate(&CodePolicy::default());
        let text = compose("Passcode", &code, 10, "https://login.example.com/n?t=abc", "login.example.com");
        assert!(text.contains("Not you? https://login.example.com/n?t=abc\n"), "{text}");
        assert!(text.ends_with(&format!("\n\n@login.example.com #{}", code.expose())), "{text}");
    }
}
