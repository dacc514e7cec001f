//! Where the SMS is sent: a provider's HTTP API. Two dialects: Twilio's
//! Messages API (also spoken by several other providers) and a plain JSON
//! webhook for any other gateway.

use std::time::Duration;

use crate::auth::{Delivery, DeliveryError, DeliveryFuture, DeliveryTurn, Message};
use crate::domain::Channel;

use super::retry::{Failure, InFlight};

#[derive(Clone)]
pub enum SmsApi {
    /// `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, form-encoded,
    /// HTTP basic auth.
    Twilio { account_sid: String, auth_token: String, sender: TwilioSender },
    /// `POST {url}` with `{"to": …, "body": …}` and a bearer token.
    Webhook { token: String },
}

#[derive(Clone, Debug)]
pub enum TwilioSender {
    From(String),
    MessagingService(String),
}

pub struct HttpSms {
    api: SmsApi,
    /// Twilio: the API's base URL; webhook: the full URL.
    url: String,
    client: reqwest::Client,
    in_flight: InFlight,
}

impl HttpSms {
    pub fn new(api: SmsApi, url: String, timeout: Duration, max_in_flight: usize) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("building the SMS HTTP client: {e}"))?;
        Ok(Self {
            api,
            url: url.trim_end_matches('/').to_owned(),
            client,
            in_flight: InFlight::new(max_in_flight, "sms"),
        })
    }

    async fn send_once(&self, to: &str, body: &str) -> Result<(), Failure> {
        let request = match &self.api {
            SmsApi::Twilio { account_sid, auth_token, sender } => {
                let (key, value) = match sender {
                    TwilioSender::From(from) => ("From", from.as_str()),
                    TwilioSender::MessagingService(sid) => ("MessagingServiceSid", sid.as_str()),
                };
                self.client
                    .post(format!("{}/2010-04-01/Accounts/{account_sid}/Messages.json", self.url))
                    .basic_auth(account_sid, Some(auth_token))
                    .form(&[("To", to), (key, value), ("Body", body)])
            }
            SmsApi::Webhook { token } => {
                self.client.post(&self.url).bearer_auth(token).json(&serde_json::json!({ "to": to, "body": body }))
            }
        };
        let response = request.send().await.map_err(|e| {
            Failure::Transient(if e.is_timeout() { "timed out".into() } else { format!("request failed: {e}") })
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // The provider's own words help the operator; they go to the log and
        // the audit trail, never to the person.
        let text: String = response.text().await.unwrap_or_default().chars().take(300).collect();
        let what = format!("provider answered {status}: {text}");
        Err(if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            Failure::Transient(what)
        } else {
            Failure::Permanent(what)
        })
    }
}

impl Delivery for HttpSms {
    fn turn(&self, _: Channel) -> Result<DeliveryTurn, DeliveryError> {
        self.in_flight.turn()
    }

    fn send<'a>(&'a self, turn: DeliveryTurn, message: &'a Message) -> DeliveryFuture<'a> {
        Box::pin(self.in_flight.send(turn, message, || self.send_once(message.to.as_ref(), &message.body)))
    }

    fn describe(&self) -> &'static str {
        match self.api {
            SmsApi::Twilio { .. } => "SMS through a Twilio-compatible API",
            SmsApi::Webhook { .. } => "SMS through a JSON webhook",
        }
    }
}
