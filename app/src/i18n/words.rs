//! What an `AppError` says, and how a wait or a time in the past is put, in
//! a person's language. `AppError` keeps its English words for logs and
//! script clients (its JSON is a public shape); pages say these instead.

use super::{Locale, td_string};
use crate::domain::{AppError, CodeError, IdentifierError, PasskeyNameError};

/// The words for an error, in `l`.
pub fn error(e: &AppError, l: Locale) -> String {
    let s = |t: &dyn std::fmt::Display| t.to_string();
    match e {
        AppError::InvalidIdentifier(english) => identifier_problem(english, l),
        AppError::InvalidCode(english) => code_problem(english, l),
        AppError::WrongCode { attempts_left } => s(&td_string!(l, errors.wrong_code, count = *attempts_left)),
        AppError::TooManyAttempts => s(&td_string!(l, errors.too_many_attempts)),
        AppError::CodeExpired => s(&td_string!(l, errors.code_expired)),
        AppError::CodeUsed => s(&td_string!(l, errors.code_used)),
        AppError::CodeSuperseded => s(&td_string!(l, errors.code_superseded)),
        AppError::ApprovedElsewhere => s(&td_string!(l, errors.approved_elsewhere)),
        AppError::NotApprovedYet => s(&td_string!(l, errors.not_approved_yet)),
        AppError::ReportUnusable => s(&td_string!(l, errors.report_unusable)),
        AppError::NoChallenge => s(&td_string!(l, errors.no_challenge)),
        AppError::DeliveryFailed { destination, by_sms: true } => {
            s(&td_string!(l, errors.delivery_failed_sms, destination = destination))
        }
        AppError::DeliveryFailed { destination, by_sms: false } => {
            s(&td_string!(l, errors.delivery_failed_email, destination = destination))
        }
        AppError::DeliveryBusy => s(&td_string!(l, errors.delivery_busy)),
        AppError::NotSignedIn => s(&td_string!(l, errors.not_signed_in)),
        AppError::SendLimited { retry_after_secs } => {
            s(&td_string!(l, errors.send_limited, wait = wait(*retry_after_secs, l)))
        }
        AppError::VerifyLimited { retry_after_secs } => {
            s(&td_string!(l, errors.verify_limited, wait = wait(*retry_after_secs, l)))
        }
        AppError::SmsUnavailable => s(&td_string!(l, errors.sms_unavailable)),
        AppError::LinkUnusable => s(&td_string!(l, errors.link_unusable)),
        AppError::LinkChanged => s(&td_string!(l, errors.link_changed)),
        AppError::ProofNeeded => s(&td_string!(l, errors.proof_needed)),
        AppError::PasskeysUnavailable => s(&td_string!(l, errors.passkeys_unavailable)),
        AppError::PasskeyExpired => s(&td_string!(l, errors.passkey_expired)),
        AppError::PasskeyUnknown => s(&td_string!(l, errors.passkey_unknown)),
        AppError::PasskeyRefused => s(&td_string!(l, errors.passkey_refused)),
        AppError::PasskeyAlreadyAdded => s(&td_string!(l, errors.passkey_already_added)),
        AppError::NoPasskeys => s(&td_string!(l, errors.no_passkeys)),
        AppError::NoSuchPasskey => s(&td_string!(l, errors.no_such_passkey)),
        AppError::InvalidPasskeyName(english) => passkey_name_problem(english, l),
        AppError::AuthenticatorCodeShape => s(&td_string!(l, errors.authenticator_code_shape)),
        AppError::SecondStepGone => s(&td_string!(l, errors.second_step_gone)),
        AppError::SecondStepEnded => s(&td_string!(l, errors.second_step_ended)),
        AppError::AuthenticatorsUnavailable => s(&td_string!(l, errors.authenticators_unavailable)),
        AppError::AuthenticatorUnavailable => s(&td_string!(l, errors.authenticator_unavailable)),
        AppError::WrongSetupCode => s(&td_string!(l, errors.wrong_setup_code)),
        AppError::WrongSecondFactor => s(&td_string!(l, errors.wrong_second_factor)),
        AppError::AuthenticatorSetupGone => s(&td_string!(l, errors.authenticator_setup_gone)),
        AppError::AuthenticatorAlreadyOn => s(&td_string!(l, errors.authenticator_already_on)),
        AppError::NoAuthenticator => s(&td_string!(l, errors.no_authenticator)),
        AppError::Unavailable | AppError::Internal => s(&td_string!(l, errors.unavailable)),
        AppError::Request(_) => s(&td_string!(l, errors.request)),
    }
}

/// `text` with every "Firefox on Windows" we wrote (a browser's
/// description, stored in English: sessions, challenges, the audit trail)
/// said in `l` ("Firefox unter Windows"). Anything else is left as it is.
pub fn devices(text: &str, l: Locale) -> String {
    use crate::auth::user_agent::{BROWSERS, SYSTEMS};
    let mut out = text.to_owned();
    if l == Locale::en || !out.contains(" on ") {
        return out;
    }
    for (_, browser) in BROWSERS {
        for (_, os) in SYSTEMS {
            let english = format!("{browser} on {os}");
            if out.contains(&english) {
                out =
                    out.replace(&english, &td_string!(l, device.browser_on_os, browser = browser, os = os).to_string());
            }
        }
    }
    out
}

/// The cross-site guard's refusal (a plain-text 403).
pub fn cross_site_refused(l: Locale) -> &'static str {
    td_string!(l, forbidden.cross_site)
}

/// The SMS refusals that are sent as identifier problems
/// (`auth/error.rs`), in their English words.
pub const SMS_COUNTRY_NOT_ALLOWED: &str =
    "We can't send text messages to numbers in that country. Please use your email address instead.";
pub const SMS_NOT_OFFERED: &str = "We don't send codes by text message here. Please use your email address instead.";

/// The English words `AppError::InvalidIdentifier` carries, read back as
/// the problem they name. Words we did not write (a forged or older
/// answer) get the general advice rather than being shown.
fn identifier_problem(english: &str, l: Locale) -> String {
    let is = |e: IdentifierError| e.to_string() == english;
    let words = if english == SMS_COUNTRY_NOT_ALLOWED {
        td_string!(l, errors.sms_country)
    } else if english == SMS_NOT_OFFERED {
        td_string!(l, errors.sms_not_offered)
    } else if is(IdentifierError::Empty) {
        td_string!(l, errors.identifier_empty)
    } else if is(IdentifierError::TooLong) {
        td_string!(l, errors.identifier_too_long)
    } else if is(IdentifierError::ControlCharacters) {
        td_string!(l, errors.identifier_control)
    } else if is(IdentifierError::InvalidEmail) {
        td_string!(l, errors.identifier_email)
    } else if is(IdentifierError::InvalidPhone) {
        td_string!(l, errors.identifier_phone)
    } else {
        td_string!(l, errors.identifier_unrecognised)
    };
    words.to_string()
}

fn code_problem(english: &str, l: Locale) -> String {
    let is = |e: CodeError| e.to_string() == english;
    if is(CodeError::NotDigits) {
        return td_string!(l, errors.code_digits).to_string();
    }
    if is(CodeError::BadCharacters) {
        return td_string!(l, errors.code_characters).to_string();
    }
    // "The code has 6 characters; you entered 5."
    let lengths = english
        .strip_prefix("The code has ")
        .and_then(|r| r.strip_suffix('.'))
        .and_then(|r| r.split_once(" characters; you entered "))
        .and_then(|(e, a)| Some((e.parse::<usize>().ok()?, a.parse::<usize>().ok()?)));
    if let Some((expected, actual)) = lengths
        && english == (CodeError::WrongLength { expected, actual }).to_string()
    {
        return td_string!(l, errors.code_length, expected = expected, count = actual).to_string();
    }
    td_string!(l, errors.code_empty).to_string()
}

fn passkey_name_problem(english: &str, l: Locale) -> String {
    let is = |e: PasskeyNameError| e.to_string() == english;
    let words = if is(PasskeyNameError::TooLong) {
        td_string!(l, errors.passkey_name_too_long)
    } else if is(PasskeyNameError::ControlCharacter) {
        td_string!(l, errors.passkey_name_control)
    } else {
        td_string!(l, errors.passkey_name_empty)
    };
    words.to_string()
}

/// "24 seconds", "2 minutes", "2 hours": a wait, rounded up, in `l`.
pub fn wait(secs: u64, l: Locale) -> String {
    let secs = secs.max(1);
    if secs < 90 {
        td_string!(l, wait.seconds, count = secs).to_string()
    } else if secs < 90 * 60 {
        td_string!(l, wait.minutes, count = secs.div_ceil(60)).to_string()
    } else {
        td_string!(l, wait.hours, count = secs.div_ceil(3600)).to_string()
    }
}

/// "3 hours ago": how long before `now` (both in ms since the epoch) a
/// thing happened, in `l`, to the largest whole unit.
pub fn ago(then_ms: i64, now_ms: i64, l: Locale) -> String {
    let secs = u64::try_from((now_ms - then_ms) / 1000).unwrap_or(0);
    if secs < 10 {
        td_string!(l, ago.just_now).to_string()
    } else if secs < 60 {
        td_string!(l, ago.seconds, count = secs).to_string()
    } else if secs < 3600 {
        td_string!(l, ago.minutes, count = secs / 60).to_string()
    } else if secs < 86_400 {
        td_string!(l, ago.hours, count = secs / 3600).to_string()
    } else {
        td_string!(l, ago.days, count = secs / 86_400).to_string()
    }
}

/// "November 25, 2026, 14:32 UTC", "25. November 2026, 14:32 UTC": a
/// moment (ms since the epoch) as `l` writes a date, in UTC.
pub fn date_time(ms: i64, l: Locale) -> String {
    let (year, month, day) = crate::auth::civil_date(ms);
    let time = crate::auth::clock_time_utc(ms);
    td_string!(l, dates.date_time, year = year, month = month_name(month, l), day = day, time = time).to_string()
}

/// "14:32 UTC".
pub fn clock_time(ms: i64, l: Locale) -> String {
    td_string!(l, dates.time, time = crate::auth::clock_time_utc(ms)).to_string()
}

fn month_name(month: u32, l: Locale) -> &'static str {
    match month {
        1 => td_string!(l, dates.months.m1),
        2 => td_string!(l, dates.months.m2),
        3 => td_string!(l, dates.months.m3),
        4 => td_string!(l, dates.months.m4),
        5 => td_string!(l, dates.months.m5),
        6 => td_string!(l, dates.months.m6),
        7 => td_string!(l, dates.months.m7),
        8 => td_string!(l, dates.months.m8),
        9 => td_string!(l, dates.months.m9),
        10 => td_string!(l, dates.months.m10),
        11 => td_string!(l, dates.months.m11),
        _ => td_string!(l, dates.months.m12),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::all;

    #[test]
    fn every_english_problem_is_read_back_as_itself() {
        for e in [
            IdentifierError::Empty,
            IdentifierError::TooLong,
            IdentifierError::ControlCharacters,
            IdentifierError::InvalidEmail,
            IdentifierError::InvalidPhone,
            IdentifierError::Unrecognised,
        ] {
            assert_eq!(error(&AppError::InvalidIdentifier(e.to_string()), Locale::en), e.to_string());
        }
        for english in [SMS_COUNTRY_NOT_ALLOWED, SMS_NOT_OFFERED] {
            assert_eq!(error(&AppError::InvalidIdentifier(english.into()), Locale::en), english);
        }
        for e in [
            CodeError::Empty,
            CodeError::NotDigits,
            CodeError::BadCharacters,
            CodeError::WrongLength { expected: 6, actual: 5 },
            CodeError::WrongLength { expected: 8, actual: 1 },
        ] {
            assert_eq!(error(&AppError::InvalidCode(e.to_string()), Locale::en), e.to_string());
        }
        for e in [PasskeyNameError::Empty, PasskeyNameError::TooLong, PasskeyNameError::ControlCharacter] {
            assert_eq!(error(&AppError::InvalidPasskeyName(e.to_string()), Locale::en), e.to_string());
        }
        // Words we never wrote are not shown.
        let forged = error(&AppError::InvalidIdentifier("Call +1 555 0100 to unlock".into()), Locale::de);
        assert!(!forged.contains("555"), "{forged}");
    }

    /// English pages say what `AppError` says; other languages say
    /// something else (no English left behind).
    #[test]
    fn every_error_has_its_words_in_every_language() {
        let errors = [
            AppError::WrongCode { attempts_left: 1 },
            AppError::WrongCode { attempts_left: 3 },
            AppError::TooManyAttempts,
            AppError::CodeExpired,
            AppError::CodeUsed,
            AppError::CodeSuperseded,
            AppError::ApprovedElsewhere,
            AppError::NotApprovedYet,
            AppError::ReportUnusable,
            AppError::NoChallenge,
            AppError::DeliveryFailed { destination: "a•••@example.com".into(), by_sms: false },
            AppError::DeliveryFailed { destination: "+44 •••• 3456".into(), by_sms: true },
            AppError::DeliveryBusy,
            AppError::NotSignedIn,
            AppError::SendLimited { retry_after_secs: 1 },
            AppError::SendLimited { retry_after_secs: 24 },
            AppError::VerifyLimited { retry_after_secs: 900 },
            AppError::VerifyLimited { retry_after_secs: 7200 },
            AppError::SmsUnavailable,
            AppError::LinkUnusable,
            AppError::LinkChanged,
            AppError::ProofNeeded,
            AppError::PasskeysUnavailable,
            AppError::PasskeyExpired,
            AppError::PasskeyUnknown,
            AppError::PasskeyRefused,
            AppError::PasskeyAlreadyAdded,
            AppError::NoPasskeys,
            AppError::NoSuchPasskey,
            AppError::AuthenticatorCodeShape,
            AppError::SecondStepGone,
            AppError::SecondStepEnded,
            AppError::AuthenticatorsUnavailable,
            AppError::AuthenticatorUnavailable,
            AppError::WrongSetupCode,
            AppError::WrongSecondFactor,
            AppError::AuthenticatorSetupGone,
            AppError::AuthenticatorAlreadyOn,
            AppError::NoAuthenticator,
            AppError::Unavailable,
        ];
        for e in &errors {
            assert_eq!(error(e, Locale::en), e.to_string());
            for l in &all()[1..] {
                let words = error(e, *l);
                assert!(!words.is_empty() && words != e.to_string(), "{l:?}: {words}");
            }
        }
    }

    #[test]
    fn dates_are_written_as_each_language_writes_them() {
        // 2027-01-15 14:22:00 UTC.
        let t = 1_800_022_920_000;
        assert_eq!(date_time(t, Locale::en), "January 15, 2027, 14:22 UTC");
        assert_eq!(date_time(t, Locale::de), "15. Januar 2027, 14:22 UTC");
        assert_eq!(date_time(t, Locale::fr), "15 janvier 2027 à 14:22 UTC");
        assert_eq!(date_time(t, Locale::es), "15 de enero de 2027, 14:22 UTC");
        for l in &all()[1..] {
            let d = date_time(t, *l);
            assert!(d.contains("2027") && d.contains("15") && d.contains("14:22"), "{d}");
            assert!(!d.contains("January"), "{d}");
        }
        assert_eq!(clock_time(t, Locale::en), "14:22 UTC");
    }

    #[test]
    fn browser_descriptions_are_put_in_the_readers_language() {
        assert_eq!(devices("203.0.113.7 (Firefox on Windows)", Locale::en), "203.0.113.7 (Firefox on Windows)");
        assert_eq!(devices("203.0.113.7 (Firefox on Windows)", Locale::de), "203.0.113.7 (Firefox unter Windows)");
        assert_eq!(devices("Chrome on Linux", Locale::fr), "Chrome sur Linux");
        assert_eq!(devices("Safari on iOS", Locale::es), "Safari en iOS");
        // Only our own words: someone's "on" stays.
        assert_eq!(devices("Passkey on my desk", Locale::de), "Passkey on my desk");
    }

    #[test]
    fn waits_and_times_past_read_naturally() {
        assert_eq!(wait(1, Locale::en), "1 second");
        assert_eq!(wait(24, Locale::en), "24 seconds");
        assert_eq!(wait(120, Locale::en), "2 minutes");
        assert_eq!(wait(7200, Locale::en), "2 hours");
        assert_eq!(crate::domain::human_wait(24), wait(24, Locale::en));
        let now = 1_800_000_000_000;
        assert_eq!(ago(now - 3 * 3_600_000, now, Locale::en), "3 hours ago");
        assert_eq!(ago(now - 60_000, now, Locale::en), "1 minute ago");
        assert_eq!(ago(now - 2 * 86_400_000, now, Locale::en), "2 days ago");
        assert_eq!(ago(now, now, Locale::en), "just now");
        for l in &all()[1..] {
            assert_ne!(ago(now - 3 * 3_600_000, now, *l), "3 hours ago");
            assert!(ago(now - 3 * 3_600_000, now, *l).contains('3'));
        }
    }
}
