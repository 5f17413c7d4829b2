//! Relays the messages writes left in account outboxes to RabbitMQ, then clears them.
//!
//! A handler that stores a message nudges the relay, so mail goes out at once; a periodic pass
//! picks up whatever a crash or a broker outage left behind. A message may be published twice
//! (published, then the process dies before clearing it); consumers deduplicate by message id.

use std::{sync::Arc, time::Duration};

use common::{
    amqp::Publisher,
    messages::{self, EmailRequestedV1, UserDeletedV1},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store::{Exchange, OutboxMessage, Store};

/// How many accounts one pass looks at.
const BATCH: i64 = 100;

/// Builds outbox entries for the messages the users service sends.
pub fn email(message: &EmailRequestedV1) -> anyhow::Result<OutboxMessage> {
    entry(Exchange::Email, messages::EMAIL_REQUESTED_V1, message)
}

/// The outbox entry announcing a deleted account.
pub fn user_deleted(message: &UserDeletedV1) -> anyhow::Result<OutboxMessage> {
    entry(Exchange::Domain, messages::USER_DELETED_V1, message)
}

fn entry(
    exchange: Exchange,
    routing_key: &str,
    body: &impl serde::Serialize,
) -> anyhow::Result<OutboxMessage> {
    Ok(OutboxMessage {
        id: uuid::Uuid::new_v4().to_string(),
        exchange,
        routing_key: routing_key.to_owned(),
        body: serde_json::to_string(body)?,
    })
}

/// Publishes outbox messages.
#[derive(Clone)]
pub struct Relay {
    store: Store,
    email: Publisher,
    domain: Publisher,
    nudge: Arc<Notify>,
}

impl Relay {
    pub fn new(store: Store, email: Publisher, domain: Publisher) -> Self {
        Self {
            store,
            email,
            domain,
            nudge: Arc::new(Notify::new()),
        }
    }

    /// Asks for a pass now (after a write that left a message).
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Publishes every pending message once; returns how many went out.
    pub async fn publish_pending(&self) -> anyhow::Result<usize> {
        let mut published = 0;
        for user in self.store.with_pending_messages(BATCH).await? {
            for message in &user.outbox {
                self.publish(message).await?;
                self.store.mark_published(user.id, &message.id).await?;
                published += 1;
            }
        }
        Ok(published)
    }

    async fn publish(&self, message: &OutboxMessage) -> anyhow::Result<()> {
        let publisher = match message.exchange {
            Exchange::Email => &self.email,
            Exchange::Domain => &self.domain,
        };
        let body: serde_json::Value = serde_json::from_str(&message.body)?;
        publisher
            .publish(&message.routing_key, &message.id, &body)
            .await?;
        Ok(())
    }

    /// Passes on every nudge and every `interval`, until `shutdown`.
    pub async fn run(self, interval: Duration, shutdown: CancellationToken) {
        loop {
            match self.publish_pending().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(published = n, "outbox relayed"),
                Err(err) => tracing::warn!(error = ?err, "outbox relay pass failed; will retry"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.nudge.notified() => {}
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}
