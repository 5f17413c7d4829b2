//! What the events service consumes: `user.deleted`, to record the deletion (its instances
//! refuse the account's tokens) and forget that user's saved events.

use common::{
    amqp::{self, Broker, Outcome},
    messages::{self, UserDeletedV1},
    revocation::Tombstones,
    topology::{Queue, Topology},
};
use lapin::message::Delivery;
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// Declares the domain exchange and this service's queue on it; again on every connection made
/// after losing the broker.
pub async fn declare(broker: &Broker, topology: &Topology) -> lapin::Result<()> {
    let topology = topology.clone();
    broker
        .declare(move |channel| {
            let topology = topology.clone();
            async move {
                topology
                    .declare_domain_queue(
                        &channel,
                        Queue::EventsUserDeletions,
                        &[messages::USER_DELETED_V1],
                    )
                    .await
            }
        })
        .await
}

/// Forgets deleted users' saves until `shutdown`.
pub async fn consume_user_deletions(
    broker: Broker,
    topology: Topology,
    prefetch: u16,
    store: Store,
    tombstones: Tombstones,
    shutdown: CancellationToken,
) -> lapin::Result<()> {
    let queue = topology.queue(Queue::EventsUserDeletions);
    amqp::consume(&broker, &queue, prefetch, shutdown, move |delivery| {
        let (store, tombstones) = (store.clone(), tombstones.clone());
        async move { forget_user(&store, &tombstones, &delivery).await }
    })
    .await
}

async fn forget_user(store: &Store, tombstones: &Tombstones, delivery: &Delivery) -> Outcome {
    let deleted: UserDeletedV1 = match serde_json::from_slice(&delivery.data) {
        Ok(message) => message,
        Err(err) => {
            tracing::error!(error = %err, "dropping an unreadable user.deleted message");
            return Outcome::Reject;
        }
    };
    if let Err(err) = tombstones.record(deleted.user_id, deleted.deleted_at).await {
        tracing::warn!(error = ?err, "recording a deleted user failed; will retry");
        return Outcome::Requeue;
    }
    match store.forget_user(deleted.user_id).await {
        Ok(count) => {
            tracing::info!(user_id = %deleted.user_id, saves = count, "forgot a deleted user's saves");
            Outcome::Ack
        }
        Err(err) => {
            tracing::warn!(error = ?err, "forgetting a deleted user failed; will retry");
            Outcome::Requeue
        }
    }
}
