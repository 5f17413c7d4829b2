//! Messages waiting to be published, one document each: inserting and deleting them never
//! touches an account document, so the relay cannot race a handler's update.

use common::{domain::UserId, relay::Pending, store::StoreResult};
use futures::TryStreamExt;
use mongodb::bson::{self, doc};
use serde::{Deserialize, Serialize};

use super::Store;

/// A message to publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// The message id, the consumers' deduplication key.
    #[serde(rename = "_id")]
    pub id: String,
    /// The account it is about; the relay holds it back until that account exists.
    pub user_id: UserId,
    pub exchange: Exchange,
    pub routing_key: String,
    /// The JSON body.
    pub body: String,
    pub created_at: bson::DateTime,
    /// Whether it could not be published as it was (see `common::relay`).
    #[serde(default)]
    pub parked: bool,
    /// Why, when parked.
    #[serde(default)]
    pub park_reason: Option<String>,
    /// The id of the request that queued it, which the message carries.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// The exchanges the users service publishes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Exchange {
    Email,
    Domain,
}

impl Store {
    /// Deletes what is queued about `user_id`: the mail an attempt at registering queued before
    /// it failed, which would otherwise go out beside its retry's once the account exists.
    pub async fn drop_queued_for(&self, user_id: UserId) -> StoreResult<u64> {
        self.deadline
            .on(
                "dropping queued messages",
                &self.outbox,
                |outbox| async move {
                    outbox
                        .delete_many(doc! { "user_id": user_id })
                        .await
                        .map(|deleted| deleted.deleted_count)
                },
            )
            .await
    }

    /// Queues messages for the relay.
    pub async fn enqueue(&self, messages: &[OutboxMessage]) -> StoreResult<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let messages = messages.to_vec();
        self.deadline
            .on("queueing messages", &self.outbox, |outbox| async move {
                outbox.insert_many(messages).await.map(drop)
            })
            .await
    }

    /// Up to `limit` queued messages in `which` state, in no particular order.
    pub async fn queued(&self, which: Pending, limit: usize) -> StoreResult<Vec<OutboxMessage>> {
        let filter = match which {
            // `$ne` so messages queued before parking existed count as fresh.
            Pending::Fresh => doc! { "parked": { "$ne": true } },
            Pending::Parked => doc! { "parked": true },
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.deadline
            .on("reading the outbox", &self.outbox, |outbox| async move {
                outbox.find(filter).limit(limit).await?.try_collect().await
            })
            .await
    }

    /// Forgets a message (published, or abandoned).
    pub async fn dequeue(&self, id: &str) -> StoreResult<()> {
        let filter = doc! { "_id": id };
        self.deadline
            .on(
                "removing a published message",
                &self.outbox,
                |outbox| async move { outbox.delete_one(filter).await.map(drop) },
            )
            .await
    }

    /// Keeps a message that could not be published, flagged with `reason`.
    pub async fn park_message(&self, id: &str, reason: String) -> StoreResult<()> {
        let filter = doc! { "_id": id };
        let set = doc! { "$set": { "parked": true, "park_reason": reason } };
        self.deadline
            .on("parking a message", &self.outbox, |outbox| async move {
                outbox.update_one(filter, set).await.map(drop)
            })
            .await
    }

    /// Makes every parked message fresh again, for the relay's next pass; returns how many.
    pub async fn unpark_messages(&self) -> StoreResult<u64> {
        let filter = doc! { "parked": true };
        let set = doc! { "$set": { "parked": false, "park_reason": null } };
        self.deadline
            .on("unparking messages", &self.outbox, |outbox| async move {
                outbox
                    .update_many(filter, set)
                    .await
                    .map(|result| result.modified_count)
            })
            .await
    }
}
