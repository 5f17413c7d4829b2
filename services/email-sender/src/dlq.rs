//! The parking queue, for operators (`cargo task dlq list|replay`): what could not be mailed,
//! and sending it again once the cause is fixed.

use std::time::Duration;

use common::{
    amqp::{Broker, Publisher},
    messages::{self, EmailRequestedV1},
    topology::{Exchange, Queue, Topology},
};
use lapin::{
    Channel, Connection,
    message::Delivery,
    options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions},
    types::{FieldTable, ShortString},
};

/// A parked mail request.
#[derive(Debug, Clone)]
pub struct Parked {
    pub message_id: Option<String>,
    pub request: Result<EmailRequestedV1, String>,
}

/// How long an operator's replay waits for each confirm.
const REPLAY_DEADLINE: Duration = Duration::from_secs(30);

/// How many messages wait in `queue`, declaring the email topology first (idempotent), so
/// asking before the email-sender ever ran answers 0 rather than failing.
async fn depth(connection: &Connection, topology: &Topology, queue: &str) -> lapin::Result<u32> {
    let channel = connection.create_channel().await?;
    topology.declare_email(&channel).await?;
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok(declared.message_count())
}

/// What is parked, without taking it out: the messages are read unacknowledged on a channel
/// that is then closed, which returns them to the queue.
pub async fn list(broker: &Broker, topology: &Topology) -> anyhow::Result<Vec<Parked>> {
    let link = broker.connected().await;
    let connection = link.connection();
    let queue = topology.queue(Queue::ParkedEmails);
    let count = depth(connection, topology, &queue).await?;
    let channel = connection.create_channel().await?;
    let mut parked = Vec::new();
    for _ in 0..count {
        let Some(delivery) = next(&channel, &queue).await? else {
            break;
        };
        parked.push(Parked {
            message_id: message_id(&delivery),
            request: serde_json::from_slice(&delivery.data).map_err(|e| e.to_string()),
        });
    }
    channel.close(200, "listed".into()).await?;
    Ok(parked)
}

/// Sends every parked mail back to the work queue with a fresh retry budget; each is removed
/// from the parking queue only once the broker confirmed its copy. Returns how many.
pub async fn replay(broker: &Broker, topology: &Topology) -> anyhow::Result<usize> {
    let link = broker.connected().await;
    let connection = link.connection();
    let queue = topology.queue(Queue::ParkedEmails);
    let count = depth(connection, topology, &queue).await?;
    let exchange = topology.exchange(Exchange::Email);
    let publisher = Publisher::new(broker, &exchange, REPLAY_DEADLINE).await?;
    let channel = connection.create_channel().await?;
    let mut replayed = 0;
    for _ in 0..count {
        let Some(delivery) = next(&channel, &queue).await? else {
            break;
        };
        let request: EmailRequestedV1 = serde_json::from_slice(&delivery.data)?;
        let message_id = message_id(&delivery).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        publisher
            .publish(messages::EMAIL_REQUESTED_V1, &message_id, &request)
            .await?;
        delivery.ack(BasicAckOptions::default()).await?;
        replayed += 1;
    }
    Ok(replayed)
}

/// The next parked message, unacknowledged, if any.
async fn next(channel: &Channel, queue: &str) -> lapin::Result<Option<Delivery>> {
    let message = channel
        .basic_get(queue.into(), BasicGetOptions::default())
        .await?;
    Ok(message.map(|m| m.delivery))
}

fn message_id(delivery: &Delivery) -> Option<String> {
    delivery
        .properties
        .message_id()
        .as_ref()
        .map(ShortString::to_string)
}
