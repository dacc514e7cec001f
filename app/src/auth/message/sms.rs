//! The text message that carries a code. Sending it is `delivery::sms`'s job.

use crate::domain::Code;

/// The text message: a sentence, a blank line, then the origin-bound
/// one-time-code line (`@host #code`) so browsers and phones can offer to fill
/// the code in (WebOTP).
pub fn compose(product_name: &str, code: &Code, minutes: i64, public_host: &str) -> String {
    let c = code.expose();
    format!("Your {product_name} sign-in code is {c}. It expires in {minutes} minutes.\n\n@{public_host} #{c}")
}
