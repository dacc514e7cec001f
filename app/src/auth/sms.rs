//! Where the SMS is sent: a provider's HTTP API. Two dialects: Twilio's
//! Messages API (also spoken by several other providers) and a plain JSON
//! webhook for any other gateway.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::delivery::{Delivery, DeliveryError, DeliveryFuture, Message};

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
    /// Sends in flight at once; past this a request is turned away at once
    /// ("busy") instead of queueing behind a slow provider.
    permits: Arc<Semaphore>,
}

enum Failure {
    /// Worth one more try: 5xx, timeout, connection trouble.
    Transient(String),
    /// The provider said no (4xx): retrying will not change its mind.
    Permanent(String),
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
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
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
    fn send<'a>(&'a self, message: &'a Message) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let Ok(_permit) = self.permits.try_acquire() else {
                return Err(DeliveryError::Busy);
            };
            let to = message.to.as_ref();
            match self.send_once(to, &message.body).await {
                Ok(()) => Ok(()),
                Err(Failure::Permanent(why)) => Err(DeliveryError::Failed(why)),
                Err(Failure::Transient(first)) => {
                    tracing::warn!(to = %message.to.masked(), error = %first, "SMS send failed; trying once more");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    match self.send_once(to, &message.body).await {
                        Ok(()) => Ok(()),
                        Err(Failure::Permanent(why) | Failure::Transient(why)) => {
                            Err(DeliveryError::Failed(format!("{first}; retry: {why}")))
                        }
                    }
                }
            }
        })
    }

    fn describe(&self) -> &'static str {
        match self.api {
            SmsApi::Twilio { .. } => "SMS through a Twilio-compatible API",
            SmsApi::Webhook { .. } => "SMS through a JSON webhook",
        }
    }
}

/// Sends each message the way its channel needs.
pub struct ByChannel {
    pub email: Arc<dyn Delivery>,
    pub sms: Arc<dyn Delivery>,
}

impl Delivery for ByChannel {
    fn send<'a>(&'a self, message: &'a Message) -> DeliveryFuture<'a> {
        match message.channel() {
            crate::domain::Channel::Email => self.email.send(message),
            crate::domain::Channel::Sms => self.sms.send(message),
        }
    }

    fn describe(&self) -> &'static str {
        "email and SMS by channel"
    }
}
