//! Where the email is sent: SMTP with lettre, pooled, with a bound on sends
//! in flight and one retry (see `retry`).

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{AsyncSmtpTransport, PoolConfig};
use lettre::{AsyncTransport, Tokio1Executor};

use crate::auth::{Delivery, DeliveryError, DeliveryFuture, DeliveryTurn, Message};
use crate::domain::{Channel, EmailAddress, Identifier};

use super::retry::{Failure, InFlight};

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
    fn turn(&self, _: Channel) -> Result<DeliveryTurn, DeliveryError> {
        self.in_flight.turn()
    }

    fn send<'a>(&'a self, turn: DeliveryTurn, message: &'a Message) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let email = self.build(message).map_err(DeliveryError::Failed)?;
            self.in_flight.send(turn, message, || self.send_once(&email)).await
        })
    }

    fn describe(&self) -> &'static str {
        "email over SMTP"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Code, CodePolicy};

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
