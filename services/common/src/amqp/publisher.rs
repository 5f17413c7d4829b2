//! Publishing JSON messages with confirms, on whichever connection the broker has now.

use std::{sync::Arc, time::Duration};

use lapin::{
    BasicProperties, Channel, Confirmation, Connection,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::FieldTable,
};
use serde::Serialize;
use tokio::{sync::Mutex, time::Instant};

use super::{Broker, REQUEST_ID_HEADER, long_string};
use crate::{request_id::RequestId, store::Abandoned};

/// Why a publish did not reach a queue.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The message could not be encoded.
    #[error("encoding the message: {0}")]
    Encode(#[from] serde_json::Error),
    /// No queue is bound for the routing key, so the broker returned the message.
    #[error("no queue is bound for routing key {0}")]
    Unroutable(String),
    /// The broker refused to take responsibility for the message.
    #[error("the broker refused the message")]
    Nacked,
    /// The connection failed twice in a row.
    #[error("broker unavailable: {0}")]
    Broker(#[from] lapin::Error),
    /// The broker did not confirm (or could not be reached) within the publisher's deadline.
    #[error("the broker did not confirm within {0:?}")]
    Timeout(Duration),
    /// The task publishing it panicked.
    #[error("publishing failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Publishes JSON messages to one exchange and waits for the broker to confirm each. Clones
/// share one confirm-mode channel, opened again when it is lost.
#[derive(Clone)]
pub struct Publisher {
    broker: Broker,
    channel: Arc<Mutex<Option<Channel>>>,
    exchange: Arc<str>,
    mandatory: bool,
    deadline: Duration,
}

impl Publisher {
    /// Opens a confirm-mode channel publishing to `exchange`; a publish that is not confirmed
    /// within `deadline` fails with [`PublishError::Timeout`] (the broker may still take it, so
    /// consumers deduplicate by message id as ever).
    pub async fn new(broker: &Broker, exchange: &str, deadline: Duration) -> lapin::Result<Self> {
        let channel = confirming_channel(broker.connected().await.connection()).await?;
        Ok(Self {
            broker: broker.clone(),
            channel: Arc::new(Mutex::new(Some(channel))),
            exchange: exchange.into(),
            mandatory: true,
            deadline,
        })
    }

    /// For broadcasts (domain events): a message no queue is bound for yet is dropped by the
    /// broker instead of failing the publish. Work queues stay mandatory.
    pub fn broadcast(mut self) -> Self {
        self.mandatory = false;
        self
    }

    /// Publishes `message` persistently with `routing_key` and returns once the broker has it.
    ///
    /// `message_id` is the consumer's deduplication key. The current request id travels in the
    /// `x-request-id` header. While the broker is out of reach, waits for it until the deadline.
    pub async fn publish<T: Serialize>(
        &self,
        routing_key: &str,
        message_id: &str,
        message: &T,
    ) -> Result<(), PublishError> {
        self.publish_with_headers(routing_key, message_id, message, FieldTable::default())
            .await
    }

    /// Like [`Publisher::publish`], with extra headers (an attempt count, say).
    pub async fn publish_with_headers<T: Serialize>(
        &self,
        routing_key: &str,
        message_id: &str,
        message: &T,
        headers: FieldTable,
    ) -> Result<(), PublishError> {
        let payload = serde_json::to_vec(message)?;
        // Built here: the request id is task-local and the publish runs in a task of its own,
        // so that giving up on it at the deadline never leaves lapin half-way through a frame.
        let properties = properties(message_id, headers);
        let (this, routing_key) = (self.clone(), routing_key.to_owned());
        let until = Instant::now() + self.deadline;
        let publishing = async move {
            let mut retried = false;
            loop {
                let channel = tokio::time::timeout_at(until, this.channel())
                    .await
                    .map_err(|_| PublishError::Timeout(this.deadline))??;
                match this
                    .try_publish(&channel, &routing_key, &payload, properties.clone())
                    .await
                {
                    // The connection was lost under it: once more, on the next one.
                    Err(PublishError::Broker(err)) if !retried => {
                        tracing::debug!(error = %err, "publishing again on a new channel");
                        retried = true;
                    }
                    other => return other,
                }
            }
        };
        match crate::store::within(self.deadline, publishing).await {
            Ok(result) => result,
            Err(Abandoned::Failed(join)) => Err(PublishError::Task(join)),
            Err(Abandoned::TimedOut(limit)) => Err(PublishError::Timeout(limit)),
        }
    }

    /// The shared channel if it still works, else a new one once the broker is reachable.
    async fn channel(&self) -> lapin::Result<Channel> {
        let mut held = self.channel.lock().await;
        if let Some(channel) = held.as_ref().filter(|c| c.status().connected()) {
            return Ok(channel.clone());
        }
        *held = None;
        let channel = confirming_channel(self.broker.connected().await.connection()).await?;
        *held = Some(channel.clone());
        Ok(channel)
    }

    async fn try_publish(
        &self,
        channel: &Channel,
        routing_key: &str,
        payload: &[u8],
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        let options = BasicPublishOptions {
            mandatory: self.mandatory,
            ..BasicPublishOptions::default()
        };
        let confirm = channel
            .basic_publish(
                self.exchange.as_ref().into(),
                routing_key.into(),
                options,
                payload,
                properties,
            )
            .await?
            .await?;
        match confirm {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(_returned)) => {
                Err(PublishError::Unroutable(routing_key.to_owned()))
            }
            Confirmation::Nack(_) => Err(PublishError::Nacked),
            Confirmation::NotRequested => {
                unreachable!("publisher channels are opened in confirm mode")
            }
        }
    }
}

async fn confirming_channel(connection: &Connection) -> lapin::Result<Channel> {
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(channel)
}

fn properties(message_id: &str, mut headers: FieldTable) -> BasicProperties {
    if let Some(id) = RequestId::current() {
        headers.insert(REQUEST_ID_HEADER.into(), long_string(id.as_str()));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(message_id.into())
        .with_timestamp(now)
        .with_headers(headers)
}
