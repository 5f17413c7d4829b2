//! RabbitMQ through lapin: one connection kept alive across the broker's restarts, declaring
//! topology, publishing with confirms, consuming with manual acks.
//!
//! Delivery is at least once: messages are persistent, publishes wait for the broker's confirm,
//! and a consumer acks only after its handler has finished. Consumers must therefore be
//! idempotent (the message id is the key).

mod broadcasts;
mod broker;
mod consume;
mod publisher;

use lapin::{
    Channel, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString},
};

pub use broadcasts::{Broadcasts, Heard};
pub use broker::{Broker, Link};
pub use consume::{Outcome, consume, drain};
pub use publisher::{PublishError, Publisher};

/// Message header carrying the id of the request that caused the message.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

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

/// Binds queue `name` with each `(exchange, routing key pattern)`.
pub(crate) async fn bind(
    channel: &Channel,
    name: &str,
    bindings: &[(String, String)],
) -> lapin::Result<()> {
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

pub(crate) fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}
