//! What the events service consumes: `user.deleted`, to forget that user's saved events.

use std::sync::Arc;

use common::{
    amqp::{self, Outcome, QueueSpec},
    messages::{self, UserDeletedV1},
};
use lapin::{Connection, message::Delivery};
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// The queue of accounts deleted, bound to the domain exchange.
pub const USER_DELETED_QUEUE: &str = "events.user-deleted";

/// Declares the domain exchange and this service's queue on it.
pub async fn declare(connection: &Connection, prefix: &str) -> lapin::Result<()> {
    let channel = connection.create_channel().await?;
    messages::declare_domain_exchange(&channel, prefix).await?;
    amqp::declare_queue(
        &channel,
        &QueueSpec {
            name: format!("{prefix}{USER_DELETED_QUEUE}"),
            bindings: vec![(
                format!("{prefix}{}", messages::DOMAIN_EXCHANGE),
                messages::USER_DELETED_V1.into(),
            )],
            ..Default::default()
        },
    )
    .await?;
    channel.close(200, "declared".into()).await
}

/// Forgets deleted users' saves until `shutdown`.
pub async fn consume_user_deletions(
    connection: Arc<Connection>,
    prefix: String,
    prefetch: u16,
    store: Store,
    shutdown: CancellationToken,
) -> lapin::Result<()> {
    let queue = format!("{prefix}{USER_DELETED_QUEUE}");
    amqp::consume(&connection, &queue, prefetch, shutdown, move |delivery| {
        let store = store.clone();
        async move { forget_user(&store, &delivery).await }
    })
    .await
}

async fn forget_user(store: &Store, delivery: &Delivery) -> Outcome {
    let deleted: UserDeletedV1 = match serde_json::from_slice(&delivery.data) {
        Ok(message) => message,
        Err(err) => {
            tracing::error!(error = %err, "dropping an unreadable user.deleted message");
            return Outcome::Reject;
        }
    };
    match store.forget_user(&deleted.user_id).await {
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
