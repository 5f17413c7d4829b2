//! Following broadcasts through a queue of one's own, across the broker's reconnections.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use lapin::{
    Channel, Connection, Consumer,
    message::Delivery,
    options::{BasicConsumeOptions, QueueDeclareOptions},
    types::{FieldTable, ShortString},
};
use tokio_util::sync::CancellationToken;

use super::{Broker, bind, consume::PAUSE_AFTER_REFUSAL};

/// What following broadcasts brought.
pub enum Heard {
    /// A message.
    Message(Box<Delivery>),
    /// Following again after losing the connection at `lost_at`: what was broadcast since then
    /// is lost, for the follower to make up for by other means.
    Resumed {
        /// When the connection was found lost.
        lost_at: DateTime<Utc>,
    },
}

/// Broadcasts heard through a queue exclusive to the connection, declared again on every
/// connection and consumed without acks: for followers that make up for a loss by other means
/// (reading the database), so nothing is redelivered.
pub struct Broadcasts {
    broker: Broker,
    queue: String,
    bindings: Vec<(String, String)>,
    live: Option<Live>,
    lost_at: Option<DateTime<Utc>>,
}

struct Live {
    channel: Channel,
    consumer: Consumer,
    generation: u64,
}

impl Broadcasts {
    /// Declares `queue`, binds it as `bindings` say and starts consuming it: what is broadcast
    /// from now on is heard.
    pub async fn follow(
        broker: &Broker,
        queue: &str,
        bindings: &[(String, String)],
    ) -> lapin::Result<Self> {
        let mut broadcasts = Self {
            broker: broker.clone(),
            queue: queue.to_owned(),
            bindings: bindings.to_vec(),
            live: None,
            lost_at: None,
        };
        let link = broker.connected().await;
        broadcasts.live = Some(
            broadcasts
                .subscribe(link.connection(), link.generation())
                .await?,
        );
        Ok(broadcasts)
    }

    /// The next thing heard, or `None` once `shutdown` is cancelled.
    pub async fn next(&mut self, shutdown: &CancellationToken) -> Option<Heard> {
        loop {
            if let Some(live) = &mut self.live {
                tokio::select! {
                    () = shutdown.cancelled() => return None,
                    next = live.consumer.next() => match next {
                        Some(Ok(delivery)) => return Some(Heard::Message(Box::new(delivery))),
                        Some(Err(err)) => {
                            tracing::warn!(error = %err, queue = self.queue, "lost the broadcasts");
                        }
                        None => tracing::warn!(queue = self.queue, "the broadcasts ended"),
                    },
                    () = self.broker.replaced(live.generation) => {}
                }
                self.lost_at.get_or_insert_with(Utc::now);
                self.live = None;
            }
            let link = tokio::select! {
                () = shutdown.cancelled() => return None,
                link = self.broker.connected() => link,
            };
            match self.subscribe(link.connection(), link.generation()).await {
                Ok(live) => {
                    self.live = Some(live);
                    let lost_at = self.lost_at.take().unwrap_or_else(Utc::now);
                    return Some(Heard::Resumed { lost_at });
                }
                Err(err) => {
                    tracing::warn!(error = %err, queue = self.queue, "following again failed; trying once more");
                    tokio::select! {
                        () = shutdown.cancelled() => return None,
                        () = tokio::time::sleep(PAUSE_AFTER_REFUSAL) => {}
                    }
                }
            }
        }
    }

    /// Stops following; the queue goes with its channel.
    pub async fn close(self) {
        if let Some(live) = self.live {
            super::consume::close(&live.channel, &self.queue).await;
        }
    }

    async fn subscribe(&self, connection: &Connection, generation: u64) -> lapin::Result<Live> {
        let channel = connection.create_channel().await?;
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(self.queue.as_str().into(), options, FieldTable::default())
            .await?;
        bind(&channel, &self.queue, &self.bindings).await?;
        let consumer = channel
            .basic_consume(
                self.queue.as_str().into(),
                ShortString::from(""),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        Ok(Live {
            channel,
            consumer,
            generation,
        })
    }
}
