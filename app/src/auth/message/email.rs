//! The sign-in email: subject, plain text and HTML, with the code and a
//! sign-in link. Sending it is `delivery::smtp`'s job.

use std::net::IpAddr;

use crate::domain::Code;

use crate::auth::RequestContext;
use crate::auth::user_agent::{describe_user_agent, where_from};
use crate::i18n::td_string;

/// What goes into one sign-in email besides the code.
pub struct EmailDetails<'a> {
    pub product_name: &'a str,
    /// Milliseconds since the Unix epoch.
    pub requested_at: i64,
    pub expires_at: i64,
    /// The full sign-in link, built from the configured public URL.
    pub link: &'a str,
    /// The full "Not you?" link.
    pub report: &'a str,
    pub context: &'a RequestContext,
    /// See `PASSCODE_EMAIL_CODE_IN_SUBJECT` in docs/configuration.md for why this is off
    /// by default.
    pub code_in_subject: bool,
}

/// Subject, text and HTML of the sign-in email, in the language of the
/// page that asked (`RequestContext::locale`).
pub fn compose(code: &Code, d: &EmailDetails<'_>) -> (String, String, String) {
    let l = d.context.locale;
    let c = code.expose();
    let name = d.product_name;
    let minutes = u64::try_from(((d.expires_at - d.requested_at) / 60_000).max(1)).unwrap_or(1);
    let expires = clock_time_utc(d.expires_at);
    let requested = clock_time_utc(d.requested_at);
    let subject = if d.code_in_subject {
        td_string!(l, email.subject_with_code, code = c, product = name).to_string()
    } else {
        td_string!(l, email.subject).to_owned()
    };
    let intro = td_string!(l, email.intro, product = name).to_string();
    let expiry = td_string!(l, email.expires, count = minutes, time = &expires).to_string();
    let requested_line = match describe_request(d.context) {
        Some(place) => td_string!(l, email.requested_from, place = place, time = &requested).to_string(),
        None => td_string!(l, email.requested, time = &requested).to_string(),
    };
    let nobody = td_string!(l, email.nobody);
    let text = format!(
        "{intro}\n\n    {c}\n\n{expiry}\n\n{or_link}\n{link}\n\n{requested_line}\n{not_you}\n{nobody}\n",
        or_link = td_string!(l, email.or_link),
        link = d.link,
        not_you = td_string!(l, email.not_you_text, link = d.report),
    );
    // Our words are ours; everything else in the HTML (the product's name,
    // addresses, the browser's description) is escaped where it goes in.
    let report_h = escape_html(d.report);
    let report_link = |f: &mut std::fmt::Formatter<'_>, children: leptos_i18n::display::Children<'_>| {
        write!(f, r#"<a href="{report_h}" style="color:#2f5bd3">{}</a>"#, escape_html(&children.to_string()))
    };
    let not_you_h = td_string!(l, email.not_you_html, <a> = report_link).to_string();
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="color-scheme" content="light dark"><title>{subject_h}</title></head>
<body style="margin:0;padding:24px;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;line-height:1.5">
<div style="max-width:480px;margin:0 auto">
<p style="margin:0 0 16px">{intro_h}</p>
<p style="margin:0 0 16px;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:32px;font-weight:700;letter-spacing:6px;user-select:all">{c_h}</p>
<p style="margin:0 0 24px">{expiry_h}</p>
<p style="margin:0 0 24px"><a href="{link_h}" style="display:inline-block;padding:10px 18px;border-radius:8px;background:#2f5bd3;color:#ffffff;text-decoration:none;font-weight:600">{button_h}</a></p>
<p style="margin:0 0 8px;font-size:14px;color:#555">{requested_h}</p>
<p style="margin:0;font-size:14px;color:#555">{not_you_h} {nobody_h}</p>
</div>
</body></html>
"#,
        lang = crate::i18n::tag(l),
        subject_h = escape_html(&subject),
        intro_h = escape_html(&intro),
        c_h = escape_html(c),
        expiry_h = escape_html(&expiry),
        link_h = escape_html(d.link),
        button_h = escape_html(&td_string!(l, email.button, product = name).to_string()),
        requested_h = escape_html(&requested_line),
        nobody_h = escape_html(nobody),
    );
    (subject, text, html)
}

/// "203.0.113.7 (Firefox on Windows)", or as much of it as is known.
fn describe_request(ctx: &RequestContext) -> Option<String> {
    let ip = ctx.client_ip.map(|ip: IpAddr| ip.to_string());
    let agent = ctx.user_agent.as_deref().and_then(describe_user_agent);
    where_from(ip.as_deref(), agent.as_deref()).map(|w| crate::i18n::words::devices(&w, ctx.locale))
}

/// "14:32" for a time in milliseconds since the epoch.
pub fn clock_time_utc(ms: i64) -> String {
    let minutes_of_day = ms.div_euclid(60_000).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minutes_of_day / 60, minutes_of_day % 60)
}

/// (year, month, day) in UTC for a time in milliseconds since the epoch:
/// days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
/// Each language writes it its own way (`i18n::words::date_time`).
pub fn civil_date(ms: i64) -> (i64, u32, u32) {
    let days = ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Text made safe to place in HTML, in element content or a double-quoted
/// attribute. The dev outbox page uses it too.
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CodePolicy;

    fn details<'a>(ctx: &'a RequestContext, code_in_subject: bool) -> EmailDetails<'a> {
        EmailDetails {
            product_name: "Passcode",
            // 2027-01-15 14:22:00 UTC
            requested_at: 1_800_022_920_000,
            expires_at: 1_800_022_920_000 + 600_000,
            link: "https://login.example.com/sign-in/email-link?token=abc",
            report: "https://login.example.com/n?t=xyz",
            context: ctx,
            code_in_subject,
        }
    }

    #[test]
    fn the_email_says_what_a_person_needs() {
        let code = Code::generate(&CodePolicy::default());
        let ctx = RequestContext {
            client_ip: Some("203.0.113.7".parse().unwrap()),
            user_agent: Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0".into()),
            ..RequestContext::default()
        };
        let (subject, text, html) = compose(&code, &details(&ctx, false));
        assert_eq!(subject, "Your sign-in code");
        for part in [&text, &html] {
            assert!(part.contains(code.expose()));
            assert!(part.contains("10 minutes (at 14:32 UTC)"), "{part}");
            assert!(part.contains("203.0.113.7 (Firefox on Windows) at 14:22 UTC"), "{part}");
            assert!(part.contains("Not you?"));
            assert!(part.contains("https://login.example.com/n?t=xyz"), "{part}");
        }
        assert!(text.contains("https://login.example.com/sign-in/email-link?token=abc"));
        assert!(html.contains(r#"href="https://login.example.com/sign-in/email-link?token=abc""#));
        let (subject, ..) = compose(&code, &details(&ctx, true));
        assert_eq!(subject, format!("{} is your Passcode sign-in code", code.expose()));
    }

    /// Subject, text and HTML in each language: its own words, its `lang`,
    /// the code, both links, and what was asked from where.
    #[test]
    fn the_email_is_written_in_the_language_it_was_asked_in() {
        use crate::i18n::{Locale, all, tag};
        let code = Code::generate(&CodePolicy::default());
        let english = {
            let ctx = RequestContext::default();
            compose(&code, &details(&ctx, false))
        };
        for &l in &all()[1..] {
            let ctx = RequestContext {
                client_ip: Some("203.0.113.7".parse().unwrap()),
                user_agent: Some(
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0".into(),
                ),
                locale: l,
                ..RequestContext::default()
            };
            let (subject, text, html) = compose(&code, &details(&ctx, false));
            assert_ne!(subject, english.0);
            assert!(html.contains(&format!("<html lang=\"{}\">", tag(l))), "{html}");
            for part in [&text, &html] {
                assert!(part.contains(code.expose()));
                assert!(part.contains("14:32") && part.contains("14:22") && part.contains("203.0.113.7"), "{part}");
                assert!(part.contains("https://login.example.com/n?t=xyz"), "{part}");
                for english_words in ["sign-in code", "Not you?", "expires in", "requested", "Nobody can"] {
                    assert!(!part.contains(english_words), "{l:?}: {english_words} in {part}");
                }
            }
            // The browser's description too ("Firefox unter Windows").
            assert!(!text.contains("Firefox on Windows"), "{text}");
            assert!(html.contains(r#"href="https://login.example.com/sign-in/email-link?token=abc""#));
        }
        let _ = Locale::en;
    }

    #[test]
    fn request_details_are_escaped_and_summarised() {
        let code = Code::generate(&CodePolicy::default());
        let ctx = RequestContext {
            client_ip: None,
            user_agent: Some("<script>alert(1)</script> Firefox/1".into()),
            ..RequestContext::default()
        };
        let (_, text, html) = compose(&code, &details(&ctx, false));
        assert!(!html.contains("<script>") && !text.contains("<script>"));
        assert!(text.contains("requested from Firefox at"));
        let ctx = RequestContext::default();
        let (_, text, _) = compose(&code, &details(&ctx, false));
        assert!(text.contains("This was requested at 14:22 UTC."));
    }

    #[test]
    fn dates_are_counted_in_utc() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        // 2027-01-15 14:22:00 UTC, as in the email above.
        assert_eq!(civil_date(1_800_022_920_000), (2027, 1, 15));
        assert_eq!(clock_time_utc(1_800_022_920_000), "14:22");
        assert_eq!(civil_date(951_782_400_000), (2000, 2, 29));
        assert_eq!(civil_date(4_107_542_399_000), (2100, 2, 28));
        assert_eq!(clock_time_utc(4_107_542_399_000), "23:59");
    }
}
