//! Where the email is written and sent: the sign-in message (plain text and
//! HTML, with the code and a sign-in link) and its delivery over SMTP with
//! lettre.

use std::net::IpAddr;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{AsyncSmtpTransport, PoolConfig};
use lettre::{AsyncTransport, Tokio1Executor};

use crate::domain::{Code, EmailAddress, Identifier};

use super::delivery::{Delivery, DeliveryError, DeliveryFuture, Failure, InFlight, Message};
use super::service::RequestContext;

/// What goes into one sign-in email besides the code.
pub struct EmailDetails<'a> {
    pub product_name: &'a str,
    /// Milliseconds since the Unix epoch.
    pub requested_at: i64,
    pub expires_at: i64,
    /// The full sign-in link, built from the configured public URL.
    pub link: &'a str,
    pub context: &'a RequestContext,
    /// See `PASSCODE_EMAIL_CODE_IN_SUBJECT` in the README for why this is off
    /// by default.
    pub code_in_subject: bool,
}

/// Subject, text and HTML of the sign-in email.
pub fn compose(code: &Code, d: &EmailDetails<'_>) -> (String, String, String) {
    let c = code.expose();
    let name = d.product_name;
    let minutes = ((d.expires_at - d.requested_at) / 60_000).max(1);
    let expires = clock_time_utc(d.expires_at);
    let subject =
        if d.code_in_subject { format!("{c} is your {name} sign-in code") } else { "Your sign-in code".to_owned() };
    let from_where = describe_request(d.context);
    let text = format!(
        "Your {name} sign-in code is:\n\n    {c}\n\n\
         It expires in {minutes} minutes (at {expires} UTC) and works once.\n\n\
         Or sign in with this link (you'll be asked to confirm):\n{link}\n\n\
         This was requested{from_where} at {requested} UTC.\n\
         If you didn't ask for this, ignore this email: nobody can sign in without the code.\n",
        link = d.link,
        requested = clock_time_utc(d.requested_at),
    );
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="color-scheme" content="light dark"><title>{subject_h}</title></head>
<body style="margin:0;padding:24px;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;line-height:1.5">
<div style="max-width:480px;margin:0 auto">
<p style="margin:0 0 16px">Your {name_h} sign-in code is:</p>
<p style="margin:0 0 16px;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:32px;font-weight:700;letter-spacing:6px;user-select:all">{c_h}</p>
<p style="margin:0 0 24px">It expires in {minutes} minutes (at {expires} UTC) and works once.</p>
<p style="margin:0 0 24px"><a href="{link_h}" style="display:inline-block;padding:10px 18px;border-radius:8px;background:#2f5bd3;color:#ffffff;text-decoration:none;font-weight:600">Sign in to {name_h}</a></p>
<p style="margin:0 0 8px;font-size:14px;color:#555">This was requested{from_where_h} at {requested} UTC.</p>
<p style="margin:0;font-size:14px;color:#555">If you didn't ask for this, ignore this email: nobody can sign in without the code.</p>
</div>
</body></html>
"#,
        subject_h = escape_html(&subject),
        name_h = escape_html(name),
        c_h = escape_html(c),
        link_h = escape_html(d.link),
        from_where_h = escape_html(&from_where),
        requested = clock_time_utc(d.requested_at),
    );
    (subject, text, html)
}

/// " from 203.0.113.7 (Firefox on Windows)", or as much of it as is known.
fn describe_request(ctx: &RequestContext) -> String {
    let ip = ctx.client_ip.map(|ip: IpAddr| ip.to_string());
    let agent = ctx.user_agent.as_deref().and_then(describe_user_agent);
    match (ip, agent) {
        (Some(ip), Some(agent)) => format!(" from {ip} ({agent})"),
        (Some(ip), None) => format!(" from {ip}"),
        (None, Some(agent)) => format!(" from {agent}"),
        (None, None) => String::new(),
    }
}

/// "Firefox on Windows": enough for a person to recognise their own request
/// (or not), never the raw header, which an attacker controls.
pub(crate) fn describe_user_agent(ua: &str) -> Option<String> {
    // Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| name);
    match (browser, os) {
        (Some(b), Some(o)) => Some(format!("{b} on {o}")),
        (Some(b), None) => Some(b.to_owned()),
        (None, Some(o)) => Some(o.to_owned()),
        (None, None) => None,
    }
}

/// "14:32" for a time in milliseconds since the epoch.
pub fn clock_time_utc(ms: i64) -> String {
    let minutes_of_day = ms.div_euclid(60_000).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minutes_of_day / 60, minutes_of_day % 60)
}

/// Text made safe to place in HTML, in element content or a double-quoted
/// attribute. The dev outbox page uses it too.
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: plain connection upgraded with STARTTLS, which is required.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    ImplicitTls,
    /// `smtp://` to this machine (a local relay or maildev): no TLS. The
    /// configuration allows it for loopback hosts only.
    None,
}

#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from_name: String,
    pub from_address: EmailAddress,
    /// Bounds each network step and, doubled, the whole send.
    pub timeout: Duration,
    pub pool_size: u32,
    pub max_in_flight: usize,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("from", &self.from_address)
            .finish_non_exhaustive()
    }
}

/// Email over SMTP: an async, pooled lettre transport.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    hello_name: String,
    timeout: Duration,
    in_flight: InFlight,
}

impl Smtp {
    /// `hello_name`: our name in EHLO and in Message-IDs, the public URL's host.
    pub fn new(s: SmtpSettings, hello_name: &str) -> anyhow::Result<Self> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
            .port(s.port)
            .timeout(Some(s.timeout))
            .hello_name(ClientId::Domain(hello_name.to_owned()))
            .pool_config(PoolConfig::new().max_size(s.pool_size).idle_timeout(Duration::from_secs(60)));
        let tls = || TlsParameters::new(s.host.clone()).map_err(|e| anyhow::anyhow!("SMTP TLS set-up: {e}"));
        builder = match s.security {
            SmtpSecurity::StartTls => builder.tls(Tls::Required(tls()?)),
            SmtpSecurity::ImplicitTls => builder.tls(Tls::Wrapper(tls()?)),
            SmtpSecurity::None => builder.tls(Tls::None),
        };
        if let (Some(user), Some(password)) = (s.username, s.password) {
            builder = builder.credentials(Credentials::new(user, password));
        }
        let from_address: lettre::Address =
            s.from_address.as_ref().parse().map_err(|e| anyhow::anyhow!("PASSCODE_EMAIL_FROM: {e}"))?;
        Ok(Self {
            transport: builder.build(),
            from: Mailbox::new(Some(s.from_name), from_address),
            hello_name: hello_name.to_owned(),
            timeout: s.timeout,
            in_flight: InFlight::new(s.max_in_flight, "email"),
        })
    }

    /// The lettre message. The recipient comes from a parsed `EmailAddress`
    /// (no CR, LF or other header tricks can get this far), and lettre
    /// encodes every header value it writes.
    pub fn build(&self, message: &Message) -> Result<lettre::Message, String> {
        let Identifier::Email(address) = &message.to else {
            return Err("not an email address".into());
        };
        let to: lettre::Address = address.as_ref().parse().map_err(|e| format!("recipient refused: {e}"))?;
        let builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(message.subject.clone())
            .message_id(Some(format!("<{}@{}>", crate::domain::random_id(), self.hello_name)))
            .date_now();
        let mut email = match &message.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(message.body.clone(), html.clone())),
            None => builder.body(message.body.clone()),
        }
        .map_err(|e| format!("building the email: {e}"))?;
        // Asks mail systems not to send out-of-office replies to us.
        email.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ));
        Ok(email)
    }

    async fn send_once(&self, email: &lettre::Message) -> Result<(), Failure> {
        // lettre's timeout bounds each step; this bounds the whole exchange.
        match tokio::time::timeout(self.timeout * 2, self.transport.send(email.clone())).await {
            Err(_) => Err(Failure::Transient("timed out".into())),
            Ok(Ok(_)) => Ok(()),
            // The server's reply text helps the operator; it goes to the log
            // and the audit trail, never to the person.
            Ok(Err(e)) if e.is_permanent() => Err(Failure::Permanent(format!("SMTP server refused: {e}"))),
            Ok(Err(e)) if e.is_timeout() => Err(Failure::Transient("timed out".into())),
            Ok(Err(e)) => Err(Failure::Transient(format!("SMTP: {e}"))),
        }
    }
}

impl Delivery for Smtp {
    fn send<'a>(&'a self, message: &'a Message) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let email = self.build(message).map_err(DeliveryError::Failed)?;
            self.in_flight.send(message, || self.send_once(&email)).await
        })
    }

    fn describe(&self) -> &'static str {
        "email over SMTP"
    }
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
            device: None,
        };
        let (subject, text, html) = compose(&code, &details(&ctx, false));
        assert_eq!(subject, "Your sign-in code");
        for part in [&text, &html] {
            assert!(part.contains(code.expose()));
            assert!(part.contains("10 minutes (at 14:32 UTC)"), "{part}");
            assert!(part.contains("203.0.113.7 (Firefox on Windows) at 14:22 UTC"), "{part}");
            assert!(part.contains("If you didn't ask for this, ignore this email"));
        }
        assert!(text.contains("https://login.example.com/sign-in/email-link?token=abc"));
        assert!(html.contains(r#"href="https://login.example.com/sign-in/email-link?token=abc""#));
        let (subject, ..) = compose(&code, &details(&ctx, true));
        assert_eq!(subject, format!("{} is your Passcode sign-in code", code.expose()));
    }

    #[test]
    fn request_details_are_escaped_and_summarised() {
        let code = Code::generate(&CodePolicy::default());
        let ctx = RequestContext {
            client_ip: None,
            user_agent: Some("<script>alert(1)</script> Firefox/1".into()),
            device: None,
        };
        let (_, text, html) = compose(&code, &details(&ctx, false));
        assert!(!html.contains("<script>") && !text.contains("<script>"));
        assert!(text.contains("requested from Firefox at"));
        let ctx = RequestContext::default();
        let (_, text, _) = compose(&code, &details(&ctx, false));
        assert!(text.contains("This was requested at 14:22 UTC."));
    }

    #[test]
    fn user_agents_become_a_short_description() {
        let table = [
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                Some("Safari on macOS"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                Some("Edge on Windows"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                Some("Chrome on Android"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                Some("Safari on iOS"),
            ),
            ("curl/8.5.0", None),
        ];
        for (ua, expected) in table {
            assert_eq!(describe_user_agent(ua).as_deref(), expected, "{ua}");
        }
    }

    fn smtp() -> Smtp {
        Smtp::new(
            SmtpSettings {
                host: "127.0.0.1".into(),
                port: 1,
                security: SmtpSecurity::None,
                username: None,
                password: None,
                from_name: "Passcode".into(),
                from_address: EmailAddress::parse("sign-in@example.com").unwrap(),
                timeout: Duration::from_secs(1),
                pool_size: 1,
                max_in_flight: 1,
            },
            "login.example.com",
        )
        .unwrap()
    }

    // The pooled transport needs a runtime to drop into.
    #[tokio::test]
    async fn the_message_has_one_recipient_both_parts_and_no_injected_headers() {
        let code = Code::generate(&CodePolicy::default());
        let to = Identifier::Email(EmailAddress::parse("someone@example.com").unwrap());
        let message = Message {
            to,
            subject: "Your sign-in code".into(),
            body: "text part".into(),
            html: Some("<p>html part</p>".into()),
            code,
        };
        let email = smtp().build(&message).ok().unwrap();
        let envelope = email.envelope();
        assert_eq!(envelope.to().len(), 1);
        assert_eq!(envelope.to()[0].to_string(), "someone@example.com");
        let raw = String::from_utf8(email.formatted()).unwrap();
        assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
        assert!(raw.contains("text part") && raw.contains("<p>html part</p>"));
        assert!(raw.contains("Auto-Submitted: auto-generated"));
        assert!(raw.contains("@login.example.com>"), "Message-ID names our host: {raw}");
    }

    #[test]
    fn header_tricks_never_reach_a_message() {
        // The parsed type is the first wall; lettre's own address type the
        // second. Neither lets a line break or a second address through.
        for hostile in [
            "victim@example.com\r\nBcc: attacker@example.com",
            "victim@example.com\nBcc: attacker@example.com",
            "victim@example.com>\r\nRCPT TO:<attacker@example.com",
            "victim@example.com, attacker@example.com",
            "Victim <victim@example.com>",
            "victim@example.com\u{85}Bcc: attacker@example.com",
        ] {
            assert!(EmailAddress::parse(hostile).is_err(), "{hostile:?} parsed");
            assert!(hostile.parse::<lettre::Address>().is_err(), "lettre took {hostile:?}");
        }
    }
}
