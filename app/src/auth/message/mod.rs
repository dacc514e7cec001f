//! Message composition: what a person receives, in words. The email
//! (`email`) carries the code and a sign-in link; the text message (`sms`)
//! stays short. Nothing here sends anything.

pub mod email;
pub mod sms;

use crate::domain::{Channel, Code, Identifier, LinkToken, ReportToken};

use super::delivery::Message;
use super::service::{AuthSettings, LINK_PATH, REPORT_PATH, RequestContext};

/// The links a message carries besides its code.
pub struct Links<'a> {
    /// The email's sign-in link (none in a text message).
    pub sign_in: Option<&'a LinkToken>,
    /// "Not you?": every message has one.
    pub report: &'a ReportToken,
}

pub use email::{civil_date, clock_time_utc, escape_html};

/// The message for a fresh code.
pub fn compose(
    settings: &AuthSettings,
    to: &Identifier,
    code: &Code,
    links: &Links<'_>,
    now: i64,
    expires_at: i64,
    ctx: &RequestContext,
) -> Message {
    let name = &settings.product_name;
    // Short: it has to fit in a text message beside the code.
    let report = format!("{}{REPORT_PATH}?t={}", settings.public_url, links.report.expose());
    let (subject, body, html) = match to.channel() {
        Channel::Email => {
            let link = format!(
                "{}{LINK_PATH}?token={}",
                settings.public_url,
                links.sign_in.map(LinkToken::expose).unwrap_or_default()
            );
            let details = email::EmailDetails {
                product_name: name,
                requested_at: now,
                expires_at,
                link: &link,
                report: &report,
                context: ctx,
                code_in_subject: settings.email_code_in_subject,
            };
            let (subject, text, html) = email::compose(code, &details);
            (subject, text, Some(html))
        }
        Channel::Sms => {
            let minutes = ((expires_at - now) / 60_000).max(1);
            let body = sms::compose(name, code, minutes, &report, &settings.public_host, ctx.locale);
            (crate::i18n::td_string!(ctx.locale, sms.subject).to_owned(), body, None)
        }
    };
    Message { to: to.clone(), subject, body, html, code: code.clone() }
}
