//! The users service's source for the common relay (`common::relay`): queued messages, and
//! deleted accounts to announce.
//!
//! Order makes this lossless without transactions. A handler queues a message *before* the
//! write it belongs to; the relay publishes it only once that write is visible (its account
//! exists), and discards it if the write never happened (no account after [`ORPHAN_AFTER`]). An
//! account deletion is a single flag; the relay announces every flagged account, then purges it.
//! A message can go out twice (published, then the process dies before forgetting it); consumers
//! deduplicate by message id, which for `user.deleted` is derived from the account id.
//!
//! Handlers nudge the relay so mail goes out at once; a periodic pass picks up what a crash or a
//! broker outage left behind.

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{
    domain::UserId,
    messages::{self, EmailRequestedV1, UserDeletedV1},
    relay::{self, Outgoing, Pending, Source, Step},
    request_id::RequestId,
    revocation::Tombstones,
    store::{StoreError, StoreResult},
    topology,
};
use mongodb::bson;

use crate::store::{Exchange, OutboxMessage, Store};

/// How long a message may wait for its account to appear before it is discarded as the remains
/// of a failed write.
pub const ORPHAN_AFTER: Duration = Duration::from_secs(60);

/// How often parked messages are tried again.
pub const PARKED_RETRY_EVERY: Duration = Duration::from_secs(5 * 60);

/// The relay of this service's messages.
pub type Relay = relay::Relay<Outbox>;

/// The outbox entry for a mail about `user_id`.
pub fn email(user_id: UserId, message: &EmailRequestedV1) -> anyhow::Result<OutboxMessage> {
    Ok(OutboxMessage {
        routing_key: messages::EMAIL_REQUESTED_V1.to_owned(),
        body: serde_json::to_string(message)?,
        ..entry_for(user_id)
    })
}

/// The outbox entry announcing `message` about `user_id` on the domain exchange.
pub fn domain<T: serde::Serialize>(
    user_id: UserId,
    routing_key: &str,
    message: &T,
) -> anyhow::Result<OutboxMessage> {
    Ok(OutboxMessage {
        exchange: Exchange::Domain,
        routing_key: routing_key.to_owned(),
        body: serde_json::to_string(message)?,
        ..entry_for(user_id)
    })
}

/// An entry for `user_id` with a fresh id, to be given its exchange, key and body.
fn entry_for(user_id: UserId) -> OutboxMessage {
    OutboxMessage {
        id: uuid::Uuid::new_v4().to_string(),
        user_id,
        exchange: Exchange::Email,
        routing_key: String::new(),
        body: String::new(),
        created_at: bson::DateTime::now(),
        parked: false,
        park_reason: None,
        request_id: RequestId::current().map(|id| id.as_str().to_owned()),
    }
}

/// What the relay publishes for this service.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A queued message.
    Message(OutboxMessage),
    /// An account marked deleted, and since when.
    Deletion(UserId, DateTime<Utc>),
}

/// The outbox and the deleted accounts, seen by the relay.
#[derive(Clone)]
pub struct Outbox {
    pub store: Store,
    /// Where a deletion is recorded before it is announced.
    pub tombstones: Tombstones,
}

impl Source for Outbox {
    type Entry = Entry;

    async fn pending(&self, which: Pending, limit: usize) -> StoreResult<Vec<Entry>> {
        let mut entries: Vec<Entry> = self
            .store
            .queued(which, limit)
            .await?
            .into_iter()
            .map(Entry::Message)
            .collect();
        // A deletion is never parked: its announcement always encodes and is a broadcast.
        if which == Pending::Fresh {
            let deleted = self.store.deleted_accounts(relay::BATCH).await?;
            entries.extend(deleted.into_iter().map(|(id, at)| Entry::Deletion(id, at)));
        }
        Ok(entries)
    }

    fn recorded_at(entry: &Entry) -> DateTime<Utc> {
        match entry {
            Entry::Message(message) => message.created_at.to_chrono(),
            Entry::Deletion(_, at) => *at,
        }
    }

    fn id(entry: &Entry) -> String {
        match entry {
            Entry::Message(message) => message.id.clone(),
            Entry::Deletion(user_id, _) => format!("deletion of {user_id}"),
        }
    }

    async fn prepare(&self, entry: &Entry) -> StoreResult<Step> {
        match entry {
            Entry::Message(message) => self.prepare_message(message).await,
            Entry::Deletion(user_id, marked_at) => {
                // Recorded before it is announced: an instance that starts between the two
                // still refuses the account's tokens.
                self.tombstones.record(*user_id, *marked_at).await?;
                let deleted = UserDeletedV1 {
                    user_id: *user_id,
                    deleted_at: Utc::now(),
                };
                Ok(Step::Publish(vec![Outgoing {
                    exchange: topology::Exchange::Domain,
                    routing_key: messages::USER_DELETED_V1.to_owned(),
                    message_id: format!("user-deleted-{user_id}"),
                    body: serde_json::to_value(deleted).map_err(|e| StoreError::Other(e.into()))?,
                    // The deletion is a flag on the account: no request is remembered.
                    request_id: None,
                }]))
            }
        }
    }

    async fn done(&self, entry: &Entry) -> StoreResult<()> {
        match entry {
            Entry::Message(message) => self.store.dequeue(&message.id).await,
            Entry::Deletion(user_id, _) => self.store.purge(*user_id).await,
        }
    }

    async fn park(&self, entry: &Entry, reason: String) -> StoreResult<()> {
        match entry {
            Entry::Message(message) => self.store.park_message(&message.id, reason).await,
            Entry::Deletion(user_id, _) => {
                tracing::error!(%user_id, %reason, "announcing a deletion failed; the next pass retries");
                Ok(())
            }
        }
    }
}

impl Outbox {
    async fn prepare_message(&self, message: &OutboxMessage) -> StoreResult<Step> {
        if self.store.find(message.user_id).await?.is_none() {
            let age = Utc::now() - message.created_at.to_chrono();
            return Ok(if age.to_std().is_ok_and(|age| age > ORPHAN_AFTER) {
                Step::Discard("its account was never stored or is gone")
            } else {
                Step::Wait
            });
        }
        let body = match serde_json::from_str(&message.body) {
            Ok(body) => body,
            Err(err) => return Ok(Step::Park(format!("the body is not JSON: {err}"))),
        };
        let exchange = match message.exchange {
            Exchange::Email => topology::Exchange::Email,
            Exchange::Domain => topology::Exchange::Domain,
        };
        Ok(Step::Publish(vec![Outgoing {
            exchange,
            routing_key: message.routing_key.clone(),
            message_id: message.id.clone(),
            body,
            request_id: message.request_id.as_deref().and_then(RequestId::parse),
        }]))
    }
}
