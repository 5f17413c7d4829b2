//! Messages waiting to be published, one document each: inserting and deleting them never
//! touches an account document, so the relay cannot race a handler's update.

use anyhow::Context;
use futures::TryStreamExt;
use mongodb::bson::{self, doc, oid::ObjectId};
use serde::{Deserialize, Serialize};

use super::Store;

/// A message to publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// The message id, the consumers' deduplication key.
    #[serde(rename = "_id")]
    pub id: String,
    /// The account it is about; the relay holds it back until that account exists.
    pub user_id: ObjectId,
    pub exchange: Exchange,
    pub routing_key: String,
    /// The JSON body.
    pub body: String,
    pub created_at: bson::DateTime,
}

/// The exchanges the users service publishes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Exchange {
    Email,
    Domain,
}

impl Store {
    /// Queues messages for the relay.
    pub async fn enqueue(&self, messages: &[OutboxMessage]) -> anyhow::Result<()> {
        if !messages.is_empty() {
            self.outbox
                .insert_many(messages)
                .await
                .context("queueing messages")?;
        }
        Ok(())
    }

    /// Up to `limit` queued messages.
    pub async fn queued(&self, limit: i64) -> anyhow::Result<Vec<OutboxMessage>> {
        self.outbox
            .find(doc! {})
            .limit(limit)
            .await
            .context("reading the outbox")?
            .try_collect()
            .await
            .context("reading the outbox")
    }

    /// Forgets a message (published, or abandoned).
    pub async fn dequeue(&self, id: &str) -> anyhow::Result<()> {
        self.outbox
            .delete_one(doc! { "_id": id })
            .await
            .context("removing a published message")?;
        Ok(())
    }
}
