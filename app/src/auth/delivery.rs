//! Where messages leave the system. One trait, one implementation per way
//! out: the development outbox (here), SMTP (`email.rs`) and SMS providers
//! (`sms.rs`), plus what the real ones share: a bound on sends in flight and
//! one retry after a transient failure.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::domain::{Channel, Code, Identifier};

use super::store::Store;

/// A message ready to go. `Debug` hides the body and the code.
#[derive(Clone)]
pub struct Message {
    pub to: Identifier,
    pub subject: String,
    /// Plain text: the whole message for SMS, the text part of an email.
    pub body: String,
    /// The HTML alternative of an email.
    pub html: Option<String>,
    pub code: Code,
}

impl Message {
    pub fn channel(&self) -> Channel {
        self.to.channel()
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message").field("to", &self.to.masked()).field("subject", &self.subject).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("delivery failed: {0}")]
    Failed(String),
    /// Too many sends already in flight; nothing was attempted.
    #[error("too many sends in flight")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl DeliveryError {
    /// Providers like to quote the recipient ("550 <jane@example.com>:
    /// mailbox unavailable"); the log and the audit trail keep it masked.
    pub fn masking(self, destination: &str, masked: &str) -> Self {
        match self {
            DeliveryError::Failed(why) => DeliveryError::Failed(why.replace(destination, masked)),
            other => other,
        }
    }
}

pub type DeliveryFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

pub trait Delivery: Send + Sync + 'static {
    fn send<'a>(&'a self, message: &'a Message) -> DeliveryFuture<'a>;
    /// Shown in logs at start-up.
    fn describe(&self) -> &'static str;
}

/// Why one attempt to hand a message over failed.
pub enum Failure {
    /// Worth one more try: a timeout, connection trouble, an HTTP 5xx or 429,
    /// an SMTP 4xx ("try again later").
    Transient(String),
    /// The provider said no: retrying will not change its mind.
    Permanent(String),
}

/// What every real channel does around its attempts: at most `max` sends in
/// flight (past that a request is turned away at once, "busy", instead of
/// queueing behind a slow provider), and one retry after a transient failure.
pub struct InFlight {
    permits: Semaphore,
    channel: &'static str,
}

impl InFlight {
    pub fn new(max: usize, channel: &'static str) -> Self {
        Self { permits: Semaphore::new(max.max(1)), channel }
    }

    pub async fn send<F, Fut>(&self, message: &Message, attempt: F) -> Result<(), DeliveryError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), Failure>>,
    {
        let Ok(_permit) = self.permits.try_acquire() else {
            return Err(DeliveryError::Busy);
        };
        match attempt().await {
            Ok(()) => Ok(()),
            Err(Failure::Permanent(why)) => Err(DeliveryError::Failed(why)),
            Err(Failure::Transient(first)) => {
                tracing::warn!(to = %message.to.masked(), channel = self.channel, error = %first, "send failed; trying once more");
                tokio::time::sleep(Duration::from_millis(250)).await;
                match attempt().await {
                    Ok(()) => Ok(()),
                    Err(Failure::Permanent(why) | Failure::Transient(why)) => {
                        Err(DeliveryError::Failed(format!("{first}; retry: {why}")))
                    }
                }
            }
        }
    }
}

/// Development delivery: messages are stored in the database and shown at
/// `/dev/outbox`. Never a production channel (the server refuses it there
/// unless explicitly allowed).
pub struct Outbox {
    store: Store,
    clock: Arc<dyn super::Clock>,
}

impl Outbox {
    pub fn new(store: Store, clock: Arc<dyn super::Clock>) -> Self {
        Self { store, clock }
    }
}

/// One stored outbox message, as `/dev/outbox.json` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutboxEntry {
    pub to: String,
    pub channel: String,
    pub subject: String,
    pub body: String,
    pub code: String,
    /// Milliseconds since the Unix epoch.
    pub sent_at: i64,
}

impl Delivery for Outbox {
    fn send<'a>(&'a self, message: &'a Message) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let entry = OutboxEntry {
                to: message.to.as_ref().to_owned(),
                channel: message.channel().as_str().to_owned(),
                subject: message.subject.clone(),
                body: message.body.clone(),
                code: message.code.expose().to_owned(),
                sent_at: self.clock.now_ms(),
            };
            self.store
                .insert_outbox(&entry)
                .await
                .map_err(|e| anyhow::Error::new(e).context("writing to the dev outbox"))?;
            // No body and no code in the log at any level, even in
            // development: logs get copied into tickets and chat.
            tracing::info!(to = %message.to.masked(), channel = message.channel().as_str(), "message stored in the dev outbox; read it at /dev/outbox");
            Ok(())
        })
    }

    fn describe(&self) -> &'static str {
        "development outbox (/dev/outbox)"
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
            Channel::Email => self.email.send(message),
            Channel::Sms => self.sms.send(message),
        }
    }

    fn describe(&self) -> &'static str {
        "email and SMS by channel"
    }
}
