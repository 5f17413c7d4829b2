//! Relays queued messages to RabbitMQ, and announces deleted accounts.
//!
//! Order makes this lossless without transactions. A handler queues a message *before* the
//! write it belongs to; the relay publishes it only once that write is visible (its account
//! exists), and drops it if the write never happened (no account after [`ORPHAN_AFTER`]). An
//! account deletion is a single flag; the relay announces every flagged account, then purges it.
//! A message can go out twice (published, then the process dies before forgetting it); consumers
//! deduplicate by message id, which for `user.deleted` is derived from the account id.
//!
//! Handlers nudge the relay so mail goes out at once; a periodic pass picks up what a crash or a
//! broker outage left behind.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use common::{
    amqp::Publisher,
    messages::{self, EmailRequestedV1, UserDeletedV1},
};
use mongodb::bson::{self, oid::ObjectId};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store::{Exchange, OutboxMessage, Store};

/// How many messages or accounts one pass handles.
const BATCH: i64 = 100;

/// How long a message may wait for its account to appear before it is dropped as the remains of
/// a failed write.
pub const ORPHAN_AFTER: Duration = Duration::from_secs(60);

/// The outbox entry for a mail about `user_id`.
pub fn email(user_id: ObjectId, message: &EmailRequestedV1) -> anyhow::Result<OutboxMessage> {
    Ok(OutboxMessage {
        id: uuid::Uuid::new_v4().to_string(),
        user_id,
        exchange: Exchange::Email,
        routing_key: messages::EMAIL_REQUESTED_V1.to_owned(),
        body: serde_json::to_string(message)?,
        created_at: bson::DateTime::now(),
    })
}

/// Publishes queued messages and announces deleted accounts.
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

    /// Asks for a pass now (after a write that queued a message or deleted an account).
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// One pass over the outbox and the deleted accounts; returns how many messages went out.
    pub async fn publish_pending(&self) -> anyhow::Result<usize> {
        let mut published = 0;
        for message in self.store.queued(BATCH).await? {
            if self.store.find(message.user_id).await?.is_none() {
                self.drop_if_orphaned(&message).await?;
                continue;
            }
            let publisher = match message.exchange {
                Exchange::Email => &self.email,
                Exchange::Domain => &self.domain,
            };
            let body: serde_json::Value = serde_json::from_str(&message.body)?;
            publisher
                .publish(&message.routing_key, &message.id, &body)
                .await?;
            self.store.dequeue(&message.id).await?;
            published += 1;
        }
        for user_id in self.store.deleted_accounts(BATCH).await? {
            let deleted = UserDeletedV1 {
                user_id: user_id.to_hex(),
                deleted_at: Utc::now(),
            };
            let id = format!("user-deleted-{}", user_id.to_hex());
            self.domain
                .publish(messages::USER_DELETED_V1, &id, &deleted)
                .await?;
            self.store.purge(user_id).await?;
            published += 1;
        }
        Ok(published)
    }

    async fn drop_if_orphaned(&self, message: &OutboxMessage) -> anyhow::Result<()> {
        let age = Utc::now() - message.created_at.to_chrono();
        if age.to_std().is_ok_and(|age| age > ORPHAN_AFTER) {
            tracing::warn!(message_id = %message.id, user_id = %message.user_id,
                "dropping a message whose account was never stored or is gone");
            self.store.dequeue(&message.id).await?;
        }
        Ok(())
    }

    /// Passes on every nudge and every `interval`, until `shutdown`.
    pub async fn run(self, interval: Duration, shutdown: CancellationToken) {
        common::background::repeat("outbox relay", interval, &self.nudge, shutdown, || {
            self.publish_pending()
        })
        .await;
    }
}
