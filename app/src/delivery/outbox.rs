//! Development delivery: messages are stored in the database and shown at
//! `/dev/outbox` (pages in `server/src/web/outbox.rs`). Never a production
//! channel: the configuration refuses it there unless explicitly allowed.

use std::sync::Arc;

use sqlx::AnyPool;

use crate::auth::{Clock, Delivery, DeliveryError, DeliveryFuture, DeliveryTurn, Message};
use crate::domain::Channel;

/// The outbox: where development messages go, and where its pages read them.
#[derive(Clone)]
pub struct Outbox {
    pool: AnyPool,
    clock: Arc<dyn Clock>,
}

/// One stored outbox message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxEntry {
    #[sqlx(rename = "destination")]
    pub to: String,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub subject: String,
    pub body: String,
    pub code: String,
    /// Milliseconds since the Unix epoch.
    pub sent_at: i64,
}

impl Outbox {
    pub fn new(pool: AnyPool, clock: Arc<dyn Clock>) -> Self {
        Self { pool, clock }
    }

    /// The latest `limit` messages, newest first.
    pub async fn recent(&self, limit: i64) -> Result<Vec<OutboxEntry>, sqlx::Error> {
        sqlx::query_as(
            "SELECT destination, channel, subject, body, code, sent_at FROM outbox ORDER BY sent_at DESC, seq DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    async fn store(&self, message: &Message) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO outbox (destination, channel, subject, body, code, sent_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(message.to.as_ref())
        .bind(message.channel().as_str())
        .bind(&message.subject)
        .bind(&message.body)
        .bind(message.code.expose())
        .bind(self.clock.now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl Delivery for Outbox {
    /// A table write: nothing to wait for, so no bound.
    fn turn(&self, _: Channel) -> Result<DeliveryTurn, DeliveryError> {
        Ok(DeliveryTurn::unbounded())
    }

    fn send<'a>(&'a self, _turn: DeliveryTurn, message: &'a Message) -> DeliveryFuture<'a> {
        Box::pin(async move {
            self.store(message).await.map_err(|e| anyhow::Error::new(e).context("writing to the dev outbox"))?;
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
