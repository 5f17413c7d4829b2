//! Consuming a work queue with manual acks, across the broker's reconnections.

use std::{future::Future, time::Duration};

use futures::StreamExt;
use lapin::{
    Channel, Connection, Consumer,
    message::Delivery,
    options::{
        BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicGetOptions,
        BasicNackOptions, BasicQosOptions, BasicRejectOptions,
    },
    types::{AMQPValue, FieldTable, ShortString},
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{Broker, REQUEST_ID_HEADER};
use crate::request_id::RequestId;

/// How long to wait before consuming again when the broker refused to let a consumer start on a
/// connection that works (a queue being declared again, say).
pub(super) const PAUSE_AFTER_REFUSAL: Duration = Duration::from_secs(1);

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
/// handled in its own task and acknowledged per the handler's [`Outcome`]. When the connection is
/// lost it consumes again on the next one; deliveries it held go back to the queue (a handler
/// still busy with one finds it cannot settle it, and the copy redelivered is deduplicated by its
/// message id). On shutdown it stops taking deliveries and waits for those in flight.
///
/// Fails only if the first consumer cannot start (the queue is missing, say).
pub async fn consume<H, Fut>(
    broker: &Broker,
    queue: &str,
    prefetch: u16,
    shutdown: CancellationToken,
    handler: H,
) -> lapin::Result<()>
where
    H: Fn(Delivery) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let mut in_flight = JoinSet::new();
    let mut started = false;
    loop {
        let link = tokio::select! {
            () = shutdown.cancelled() => break,
            link = broker.connected() => link,
        };
        let (channel, mut consumer) = match start(link.connection(), queue, prefetch).await {
            Ok(started) => started,
            Err(err) if !started => return Err(err),
            Err(err) => {
                tracing::warn!(error = %err, queue, "consuming again failed; trying once more");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(PAUSE_AFTER_REFUSAL) => continue,
                }
            }
        };
        started = true;
        loop {
            let next = tokio::select! {
                () = shutdown.cancelled() => {
                    stop(&channel, &consumer, queue).await;
                    in_flight.join_all().await;
                    close(&channel, queue).await;
                    return Ok(());
                }
                () = broker.replaced(link.generation()) => None,
                next = consumer.next() => next,
            };
            match next {
                Some(Ok(delivery)) => {
                    let handler = handler.clone();
                    let id = request_id_of(&delivery);
                    let span = delivery_span(queue, &delivery, &id);
                    in_flight.spawn(id.scope(settle(delivery, handler)).instrument(span));
                }
                Some(Err(err)) => {
                    tracing::warn!(error = %err, queue, "lost the consumer; consuming again");
                    break;
                }
                // Cancelled by the broker (the queue deleted), or its connection replaced.
                None => {
                    tracing::warn!(queue, "the consumer ended; consuming again");
                    break;
                }
            }
            while in_flight.try_join_next().is_some() {}
        }
    }
    in_flight.join_all().await;
    Ok(())
}

async fn start(
    connection: &Connection,
    queue: &str,
    prefetch: u16,
) -> lapin::Result<(Channel, Consumer)> {
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(prefetch, BasicQosOptions { global: false })
        .await?;
    let consumer = channel
        .basic_consume(
            queue.into(),
            ShortString::from(""),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((channel, consumer))
}

/// Cancels explicitly and waits for the broker's cancel-ok: dropping a consumer races its
/// cancel-ok against the channel's close, which lapin treats as a connection error.
async fn stop(channel: &Channel, consumer: &Consumer, queue: &str) {
    if let Err(err) = channel
        .basic_cancel(consumer.tag(), BasicCancelOptions::default())
        .await
    {
        tracing::warn!(error = %err, queue, "cancelling the consumer failed");
    }
}

pub(super) async fn close(channel: &Channel, queue: &str) {
    if let Err(err) = channel.close(200, "stopped consuming".into()).await {
        tracing::debug!(error = %err, queue, "closing the channel failed");
    }
}

/// Handles, one at a time, every message waiting in `queue` now, and returns how many; stops
/// early at one that must wait (requeued). For what must be taken in before a consumer of
/// another queue starts.
pub async fn drain<H, Fut>(broker: &Broker, queue: &str, handler: H) -> lapin::Result<usize>
where
    H: Fn(Delivery) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let channel = broker.channel().await?;
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
        // The delivery's channel is gone: the broker will redeliver it.
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
