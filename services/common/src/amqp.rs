//! RabbitMQ through lapin: connecting with retries, declaring topology, publishing with
//! confirms, consuming with manual acks.
//!
//! Delivery is at least once: messages are persistent, publishes wait for the broker's confirm,
//! and a consumer acks only after its handler has finished. Consumers must therefore be
//! idempotent (the message id is the key). Connections recover by themselves after the broker
//! restarts (lapin's auto-recovery replays channels, topology, QoS, confirm mode and consumers).

use std::{future::Future, sync::Arc, time::Duration};

use futures::StreamExt;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
    message::Delivery,
    options::{
        BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicGetOptions,
        BasicNackOptions, BasicPublishOptions, BasicQosOptions, BasicRejectOptions,
        ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use serde::Serialize;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{config::AmqpConfig, request_id::RequestId, store::Abandoned};

/// Message header carrying the id of the request that caused the message.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Connects, retrying with exponential backoff for up to `cfg.retry_for`.
///
/// The same backoff governs recovery: after the connection is lost (a broker restart), lapin
/// reconnects and replays channels, topology, QoS, confirm mode and consumers, trying for up to
/// `cfg.retry_for` before it gives up. `name` shows in the broker's connection list after the
/// configuration's prefix, so that one namespace's connections are told from another's.
pub async fn connect(cfg: &AmqpConfig, name: &str) -> lapin::Result<Connection> {
    let properties = ConnectionProperties::default()
        .with_connection_name(format!("{}{name}", cfg.prefix).into())
        .configure_backoff(|backoff| {
            backoff
                .with_min_delay(Duration::from_millis(100))
                .with_max_delay(Duration::from_secs(3))
                .with_total_delay(Some(cfg.retry_for))
                .without_max_times()
                .with_jitter()
        })
        .enable_auto_recover();
    Connection::connect(cfg.uri.expose(), properties).await
}

/// A durable topic exchange named `name`.
pub async fn declare_exchange(channel: &Channel, name: &str) -> lapin::Result<()> {
    let options = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            name.into(),
            ExchangeKind::Topic,
            options,
            FieldTable::default(),
        )
        .await
}

/// A queue and what feeds it.
#[derive(Clone, Debug, Default)]
pub struct QueueSpec {
    /// Full queue name (already prefixed).
    pub name: String,
    /// `(exchange, routing key pattern)` pairs the queue is bound with.
    pub bindings: Vec<(String, String)>,
    /// Where rejected (or expired) messages go, if anywhere.
    pub dead_letter_exchange: Option<String>,
    /// The routing key they go with; their own when unset.
    pub dead_letter_routing_key: Option<String>,
    /// How long a message may wait in the queue before it expires (a delay queue).
    pub message_ttl: Option<std::time::Duration>,
}

/// Declares `spec` as a durable quorum queue (replicated, survives restarts, counts deliveries)
/// and binds it.
pub async fn declare_queue(channel: &Channel, spec: &QueueSpec) -> lapin::Result<()> {
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), long_string("quorum"));
    if let Some(dlx) = &spec.dead_letter_exchange {
        arguments.insert("x-dead-letter-exchange".into(), long_string(dlx));
        // Quorum queues can dead-letter at least once instead of at most once, but only
        // when the queue refuses new publishes rather than dropping old messages on overflow.
        arguments.insert(
            "x-dead-letter-strategy".into(),
            long_string("at-least-once"),
        );
        arguments.insert("x-overflow".into(), long_string("reject-publish"));
    }
    if let Some(key) = &spec.dead_letter_routing_key {
        arguments.insert("x-dead-letter-routing-key".into(), long_string(key));
    }
    if let Some(ttl) = spec.message_ttl {
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        arguments.insert("x-message-ttl".into(), AMQPValue::LongLongInt(millis));
    }
    channel
        .queue_declare(
            spec.name.as_str().into(),
            QueueDeclareOptions::durable(),
            arguments,
        )
        .await?;
    bind(channel, &spec.name, &spec.bindings).await
}

/// Declares `name` as the calling connection's own queue, bound as `bindings` say: exclusive and
/// not durable, so it is gone with the connection. For a consumer that follows broadcasts for
/// its own process and makes up for what it missed by other means after a reconnection.
pub async fn declare_private_queue(
    channel: &Channel,
    name: &str,
    bindings: &[(String, String)],
) -> lapin::Result<()> {
    let options = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(name.into(), options, FieldTable::default())
        .await?;
    bind(channel, name, bindings).await
}

/// Declares `name` as the connection's own queue (see [`declare_private_queue`]) on a channel of
/// its own, so that the connection's recovery declares it again, and consumes it without acks:
/// for broadcasts whose loss the consumer makes up for by other means, so nothing is
/// redelivered.
pub async fn subscribe_private(
    connection: &Connection,
    name: &str,
    bindings: &[(String, String)],
) -> lapin::Result<(Channel, lapin::Consumer)> {
    let channel = connection.create_channel().await?;
    declare_private_queue(&channel, name, bindings).await?;
    let consumer = channel
        .basic_consume(
            name.into(),
            ShortString::from(""),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok((channel, consumer))
}

/// Binds queue `name` with each `(exchange, routing key pattern)`.
async fn bind(channel: &Channel, name: &str, bindings: &[(String, String)]) -> lapin::Result<()> {
    for (exchange, pattern) in bindings {
        channel
            .queue_bind(
                name.into(),
                exchange.as_str().into(),
                pattern.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

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
    /// The connection failed and did not recover in time.
    #[error("broker unavailable: {0}")]
    Broker(#[from] lapin::Error),
    /// The broker did not confirm within the publisher's deadline.
    #[error("the broker did not confirm within {0:?}")]
    Timeout(Duration),
    /// The task publishing it panicked.
    #[error("publishing failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Publishes JSON messages to one exchange and waits for the broker to confirm each.
#[derive(Clone)]
pub struct Publisher {
    channel: Channel,
    exchange: Arc<str>,
    mandatory: bool,
    deadline: Duration,
}

impl Publisher {
    /// Opens a confirm-mode channel publishing to `exchange`; a publish that is not confirmed
    /// within `deadline` fails with [`PublishError::Timeout`] (the broker may still take it, so
    /// consumers deduplicate by message id as ever).
    pub async fn new(
        connection: &Connection,
        exchange: &str,
        deadline: Duration,
    ) -> lapin::Result<Self> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Self {
            channel,
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
    /// `x-request-id` header. When the connection is being recovered, waits for it once.
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
        let publishing = async move {
            let attempt = || this.try_publish(&routing_key, &payload, properties.clone());
            match attempt().await {
                Err(PublishError::Broker(err)) => {
                    this.channel.wait_for_recovery(err).await?;
                    attempt().await
                }
                other => other,
            }
        };
        match crate::store::within(self.deadline, publishing).await {
            Ok(result) => result,
            Err(Abandoned::Failed(join)) => Err(PublishError::Task(join)),
            Err(Abandoned::TimedOut(limit)) => Err(PublishError::Timeout(limit)),
        }
    }

    async fn try_publish(
        &self,
        routing_key: &str,
        payload: &[u8],
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        let options = BasicPublishOptions {
            mandatory: self.mandatory,
            ..BasicPublishOptions::default()
        };
        let confirm = self
            .channel
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

/// What a handler decided about a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done: remove it from the queue.
    Ack,
    /// Not now: put it back to be delivered again.
    Requeue,
    /// Never: dead-letter it (or drop it, if the queue has no dead-letter exchange).
    Reject,
}

/// Consumes `queue` until `shutdown` is cancelled, at most `prefetch` deliveries in flight, each
/// handled in its own task and acknowledged per the handler's [`Outcome`]. On shutdown it stops
/// taking deliveries and waits for those in flight; unacked ones return to the queue.
pub async fn consume<H, Fut>(
    connection: &Connection,
    queue: &str,
    prefetch: u16,
    shutdown: CancellationToken,
    handler: H,
) -> lapin::Result<()>
where
    H: Fn(Delivery) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(prefetch, BasicQosOptions { global: false })
        .await?;
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            ShortString::from(""),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut in_flight = JoinSet::new();
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => break,
            next = consumer.next() => next,
        };
        match next {
            Some(Ok(delivery)) => {
                let handler = handler.clone();
                let id = request_id_of(&delivery);
                let span = delivery_span(queue, &delivery, &id);
                in_flight.spawn(id.scope(settle(delivery, handler)).instrument(span));
            }
            Some(Err(err)) => channel.wait_for_recovery(err).await?,
            None => break,
        }
        while in_flight.try_join_next().is_some() {}
    }
    // Cancel explicitly and wait for the broker's cancel-ok: dropping a consumer races its
    // cancel-ok against the channel's close, which lapin treats as a connection error.
    if let Err(err) = channel
        .basic_cancel(consumer.tag(), BasicCancelOptions::default())
        .await
    {
        tracing::warn!(error = %err, queue, "cancelling the consumer failed");
    }
    in_flight.join_all().await;
    if let Err(err) = channel.close(200, "consumer stopped".into()).await {
        tracing::debug!(error = %err, queue, "closing the consumer channel failed");
    }
    Ok(())
}

/// Handles, one at a time, every message waiting in `queue` now, and returns how many; stops
/// early at one that must wait (requeued). For what must be taken in before a consumer of
/// another queue starts.
pub async fn drain<H, Fut>(connection: &Connection, queue: &str, handler: H) -> lapin::Result<usize>
where
    H: Fn(Delivery) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let channel = connection.create_channel().await?;
    let mut handled = 0;
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions::default())
        .await?
    {
        handled += 1;
        let acker = message.delivery.acker.clone();
        let outcome = handler(message.delivery).await;
        report(outcome, settle_as(&acker, outcome).await);
        if outcome == Outcome::Requeue {
            break;
        }
    }
    channel.close(200, "drained".into()).await?;
    Ok(handled)
}

async fn settle<H, Fut>(delivery: Delivery, handler: H)
where
    H: Fn(Delivery) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let acker = delivery.acker.clone();
    let outcome = handler(delivery).await;
    report(outcome, settle_as(&acker, outcome).await);
}

async fn settle_as(acker: &lapin::Acker, outcome: Outcome) -> lapin::Result<bool> {
    match outcome {
        Outcome::Ack => acker.ack(BasicAckOptions::default()).await,
        Outcome::Requeue => {
            acker
                .nack(BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await
        }
        Outcome::Reject => acker.reject(BasicRejectOptions { requeue: false }).await,
    }
}

fn report(outcome: Outcome, settled: lapin::Result<bool>) {
    match settled {
        Ok(true) => tracing::debug!(?outcome, "delivery settled"),
        // The channel was recovered after the delivery: the broker will redeliver it.
        Ok(false) => tracing::warn!(?outcome, "delivery belongs to a lost channel"),
        Err(err) => tracing::warn!(?outcome, error = %err, "settling the delivery failed"),
    }
}

fn delivery_span(queue: &str, delivery: &Delivery, request_id: &RequestId) -> tracing::Span {
    let message_id = delivery
        .properties
        .message_id()
        .as_ref()
        .map(ShortString::to_string);
    tracing::info_span!(
        "message",
        queue,
        routing_key = %delivery.routing_key,
        message_id = message_id.as_deref().unwrap_or(""),
        %request_id,
        redelivered = delivery.redelivered,
    )
}

fn request_id_of(delivery: &Delivery) -> RequestId {
    let from_header = delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get(REQUEST_ID_HEADER))
        // A message caused by no request gets an id of its own, so its log lines still group.
        .and_then(|value| match value {
            AMQPValue::LongString(s) => RequestId::parse(&s.to_string()),
            AMQPValue::ShortString(s) => RequestId::parse(s.as_str()),
            _ => None,
        });
    from_header.unwrap_or_else(RequestId::generate)
}
