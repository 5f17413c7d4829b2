//! What the events service consumes: `user.deleted`, to record the deletion (its instances
//! refuse the account's tokens) and forget that user's saved events.

use std::sync::Arc;

use common::{
    amqp::{self, Outcome},
    messages::{self, UserDeletedV1},
    revocation::Tombstones,
    topology::{Queue, Topology},
};
use lapin::{Connection, message::Delivery};
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// Declares the domain exchange and this service's queue on it.
pub async fn declare(connection: &Connection, topology: &Topology) -> lapin::Result<()> {
    let channel = connection.create_channel().await?;
    topology
        .declare_domain_queue(
            &channel,
            Queue::EventsUserDeletions,
            &[messages::USER_DELETED_V1],
        )
        .await?;
    channel.close(200, "declared".into()).await
}

/// Forgets deleted users' saves until `shutdown`.
pub async fn consume_user_deletions(
    connection: Arc<Connection>,
    topology: Topology,
    prefetch: u16,
    store: Store,
    tombstones: Tombstones,
    shutdown: CancellationToken,
) -> lapin::Result<()> {
    let queue = topology.queue(Queue::EventsUserDeletions);
    amqp::consume(&connection, &queue, prefetch, shutdown, move |delivery| {
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
