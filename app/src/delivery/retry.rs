//! What every real channel does around its attempts: a bound on sends in
//! flight, and one retry after a transient failure.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::auth::{DeliveryError, DeliveryTurn, Message};

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
    permits: Arc<Semaphore>,
    channel: &'static str,
}

impl InFlight {
    pub fn new(max: usize, channel: &'static str) -> Self {
        Self { permits: Arc::new(Semaphore::new(max.max(1))), channel }
    }

    /// A place among the sends in flight, or `Busy` at once.
    pub fn turn(&self) -> Result<DeliveryTurn, DeliveryError> {
        self.permits.clone().try_acquire_owned().map(DeliveryTurn::held).map_err(|_| DeliveryError::Busy)
    }

    /// Sends on `turn` (held until the attempts are over).
    pub async fn send<F, Fut>(&self, turn: DeliveryTurn, message: &Message, attempt: F) -> Result<(), DeliveryError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), Failure>>,
    {
        let _turn = turn;
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
