//! Deleted accounts' tokens refused. An access token stays signed and unexpired for up to its
//! lifetime after its account is deleted, so every instance of every service keeps the ids of
//! the accounts deleted within [`KEPT_FOR`], and its verifier refuses their tokens.
//!
//! An instance hears of a deletion at once, on a queue of its own bound to `user.deleted`
//! (each instance gets every deletion, where the service's durable queue gives each to one). What
//! that queue cannot have told it (deletions before the instance started, or while its broker
//! connection was down) it reads from its service's [`Tombstones`]: each service records a
//! deletion there before acting on it, and each instance reads them when it starts, after each
//! reconnection, and every [`RELOAD_INTERVAL`] in case a reconnection went unheard.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use lapin::message::Delivery;
use mongodb::{Collection, Database, bson::doc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    amqp::{Broadcasts, Broker, Heard},
    background,
    domain::UserId,
    messages::{self, UserDeletedV1},
    store::{Deadline, StoreResult},
    topology::{Exchange, Queue, Topology},
};

/// How long a deletion is remembered: longer than any access token lives (the users service
/// refuses to sign tokens that outlive it).
pub const KEPT_FOR: Duration = Duration::from_secs(24 * 3600);

/// How often the tombstones are read again when nothing prompted it.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(60);

/// The accounts deleted within [`KEPT_FOR`], as one instance knows them.
#[derive(Debug, Default)]
pub struct RevokedAccounts {
    deleted_at: RwLock<HashMap<UserId, DateTime<Utc>>>,
}

impl RevokedAccounts {
    /// Refuses `user`'s tokens from now on.
    pub fn revoke(&self, user: UserId, deleted_at: DateTime<Utc>) {
        self.write().insert(user, deleted_at);
    }

    /// Whether `user`'s account was deleted.
    pub fn contains(&self, user: UserId) -> bool {
        self.deleted_at
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains_key(&user)
    }

    /// Forgets deletions older than [`KEPT_FOR`]: every token of those accounts has expired.
    fn forget_expired(&self, now: DateTime<Utc>) {
        let cutoff = now - kept_for();
        self.write().retain(|_, deleted_at| *deleted_at >= cutoff);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<UserId, DateTime<Utc>>> {
        self.deleted_at
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn kept_for() -> chrono::Duration {
    chrono::Duration::from_std(KEPT_FOR).unwrap_or(chrono::Duration::MAX)
}

#[derive(Debug, Serialize, Deserialize)]
struct Tombstone {
    #[serde(rename = "_id")]
    user: UserId,
    deleted_at: mongodb::bson::DateTime,
}

/// A service's record of the accounts deleted within [`KEPT_FOR`], in its own database.
#[derive(Clone)]
pub struct Tombstones {
    collection: Collection<Tombstone>,
    deadline: Deadline,
}

impl Tombstones {
    /// The `deleted_accounts` collection of `db`.
    pub fn new(db: &Database, deadline: Deadline) -> Self {
        Self {
            collection: db.collection("deleted_accounts"),
            deadline,
        }
    }

    /// Records that `user` was deleted at `deleted_at`. Idempotent.
    pub async fn record(&self, user: UserId, deleted_at: DateTime<Utc>) -> StoreResult<()> {
        let tombstone = Tombstone {
            user,
            deleted_at: mongodb::bson::DateTime::from_millis(deleted_at.timestamp_millis()),
        };
        let recorded = self
            .deadline
            .on(
                "recording a deleted account",
                &self.collection,
                |c| async move { c.insert_one(tombstone).await.map(drop) },
            )
            .await;
        match recorded {
            Err(err) if err.is_duplicate() => Ok(()),
            other => other,
        }
    }

    /// Adds every recorded deletion to `revoked`; returns how many there are. The collection
    /// holds one day's deletions, so it is read whole.
    pub async fn load_into(&self, revoked: &RevokedAccounts) -> StoreResult<usize> {
        let tombstones: Vec<Tombstone> = self
            .deadline
            .on(
                "reading deleted accounts",
                &self.collection,
                |c| async move { c.find(doc! {}).await?.try_collect().await },
            )
            .await?;
        for tombstone in &tombstones {
            let deleted_at =
                DateTime::from_timestamp_millis(tombstone.deleted_at.timestamp_millis());
            revoked.revoke(tombstone.user, deleted_at.unwrap_or_else(Utc::now));
        }
        Ok(tombstones.len())
    }

    async fn prune(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let filter = doc! { "deleted_at": {
            "$lt": mongodb::bson::DateTime::from_millis(before.timestamp_millis()),
        } };
        self.deadline
            .on(
                "pruning deleted accounts",
                &self.collection,
                |c| async move {
                    c.delete_many(filter)
                        .await
                        .map(|deleted| deleted.deleted_count)
                },
            )
            .await
    }
}

/// What an instance needs to refuse deleted accounts' tokens.
#[derive(Clone)]
pub struct Revocations {
    /// What the verifier consults.
    pub revoked: Arc<RevokedAccounts>,
    /// Where the service records deletions.
    pub tombstones: Tombstones,
}

impl Revocations {
    /// Empty, recording in `db`.
    pub fn new(db: &Database, deadline: Deadline) -> Self {
        Self {
            revoked: Arc::default(),
            tombstones: Tombstones::new(db, deadline),
        }
    }

    /// Subscribes this instance of `service` to deletions, then reads what was recorded before:
    /// call before the port is bound, so no request is served before deletions are known.
    pub async fn subscribe(
        self,
        broker: &Broker,
        topology: &Topology,
        service: &'static str,
    ) -> anyhow::Result<Follower> {
        let queue = topology.queue(Queue::AccountDeletions {
            service,
            instance: uuid::Uuid::new_v4(),
        });
        let bindings = [(
            topology.exchange(Exchange::Domain),
            messages::USER_DELETED_V1.to_owned(),
        )];
        // A message lost with the queue is made up for by reading the tombstones again.
        let broadcasts = Broadcasts::follow(broker, &queue, &bindings).await?;
        self.tombstones.load_into(&self.revoked).await?;
        Ok(Follower {
            revocations: self,
            broadcasts,
        })
    }
}

/// One instance following deletions (see the module documentation).
pub struct Follower {
    revocations: Revocations,
    broadcasts: Broadcasts,
}

impl Follower {
    /// Follows deletions until `shutdown`, and prunes the tombstones hourly.
    pub async fn run(self, shutdown: CancellationToken) -> lapin::Result<()> {
        let Self {
            revocations,
            mut broadcasts,
        } = self;
        let tombstones = revocations.tombstones.clone();
        let pruning = background::prune(
            "deleted accounts",
            Duration::from_secs(3600),
            kept_for(),
            shutdown.clone(),
            move |before| {
                let tombstones = tombstones.clone();
                async move { tombstones.prune(before).await }
            },
        );
        let reload = Notify::new();
        let reloading = background::repeat(
            "reading deleted accounts",
            RELOAD_INTERVAL,
            &reload,
            shutdown.clone(),
            || revocations.reload(),
        );
        let following = async {
            while let Some(heard) = broadcasts.next(&shutdown).await {
                match heard {
                    Heard::Message(delivery) => revocations.apply(&delivery),
                    // The queue was declared anew; what came meanwhile is in the tombstones.
                    Heard::Resumed { .. } => reload.notify_one(),
                }
            }
            broadcasts.close().await;
            Ok(())
        };
        let ((), (), followed) = tokio::join!(pruning, reloading, following);
        followed
    }
}

impl Revocations {
    fn apply(&self, delivery: &Delivery) {
        match serde_json::from_slice::<UserDeletedV1>(&delivery.data) {
            Ok(deleted) => self.revoked.revoke(deleted.user_id, deleted.deleted_at),
            Err(err) => tracing::error!(error = %err, "an unreadable user.deleted message"),
        }
    }

    async fn reload(&self) -> anyhow::Result<usize> {
        self.revoked.forget_expired(Utc::now());
        Ok(self.tombstones.load_into(&self.revoked).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deletion_is_remembered_for_as_long_as_a_token_can_live() {
        let revoked = RevokedAccounts::default();
        let (recent, old) = (UserId::new(), UserId::new());
        let now = Utc::now();
        revoked.revoke(recent, now - kept_for() + chrono::Duration::minutes(1));
        revoked.revoke(old, now - kept_for() - chrono::Duration::minutes(1));
        revoked.forget_expired(now);
        assert!(revoked.contains(recent));
        assert!(!revoked.contains(old));
        assert!(!revoked.contains(UserId::new()));
    }
}
