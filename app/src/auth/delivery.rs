//! Where messages leave the system. One trait, one implementation per way
//! out; the development outbox is the only one so far.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::domain::{Channel, Code, Identifier};

use super::store::Store;

/// A message ready to go. `Debug` hides the body and the code.
#[derive(Clone)]
pub struct Message {
    pub to: Identifier,
    pub subject: String,
    pub body: String,
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

pub type DeliveryFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

pub trait Delivery: Send + Sync + 'static {
    fn send<'a>(&'a self, message: &'a Message) -> DeliveryFuture<'a>;
    /// Shown in logs at start-up.
    fn describe(&self) -> &'static str;
}

/// Development delivery: messages are stored in the database and shown at
/// `/dev/outbox`. Never a production channel (the server refuses it there
/// unless explicitly allowed).
pub struct Outbox {
    store: Store,
    clock: std::sync::Arc<dyn super::Clock>,
}

impl Outbox {
    pub fn new(store: Store, clock: std::sync::Arc<dyn super::Clock>) -> Self {
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
            // The code itself stays out of the log, even in development:
            // logs get copied into tickets and chat.
            tracing::info!(to = %message.to.masked(), channel = message.channel().as_str(), "message stored in the dev outbox; read it at /dev/outbox");
            tracing::debug!(body = %message.body, "dev outbox message body");
            Ok(())
        })
    }

    fn describe(&self) -> &'static str {
        "development outbox (/dev/outbox)"
    }
}
