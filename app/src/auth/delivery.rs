//! Where messages leave the system, as the core sees it: a message ready to
//! go and one trait to send it. The ways out (SMTP, SMS providers, the
//! development outbox) are adapters in `crate::delivery`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::domain::{Channel, Code, Identifier};

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

/// A place among a channel's sends in flight, taken before anything is
/// spent on a code (the send allowance, the SMS budgets): a "busy" answer
/// must cost the person nothing, as with `HashSlot`. Held until the send
/// is over.
pub struct DeliveryTurn {
    /// Given back when the turn is dropped.
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl DeliveryTurn {
    /// A turn of a way out that has no bound (the development outbox).
    pub fn unbounded() -> Self {
        Self { _permit: None }
    }

    pub fn held(permit: tokio::sync::OwnedSemaphorePermit) -> Self {
        Self { _permit: Some(permit) }
    }
}

pub trait Delivery: Send + Sync + 'static {
    /// A turn to send a message on `channel`; `DeliveryError::Busy` at
    /// once when too many sends are in flight (nothing waits in a queue
    /// behind a slow provider).
    fn turn(&self, channel: Channel) -> Result<DeliveryTurn, DeliveryError>;
    /// Sends `message` on the turn taken for it.
    fn send<'a>(&'a self, turn: DeliveryTurn, message: &'a Message) -> DeliveryFuture<'a>;
    /// Shown in logs at start-up.
    fn describe(&self) -> &'static str;
}
