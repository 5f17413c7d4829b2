//! How an instance follows every other's writes: its own queue for the v2 change messages,
//! exclusive to its connection (so it vanishes with it), and a reload from the database after a
//! reconnection, since what was published while the queue was gone is lost to it.

use std::time::Duration;

use chrono::Utc;
use common::{
    amqp,
    topology::{Exchange, Queue, Topology},
};
use futures::StreamExt;
use lapin::{
    Channel, Connection, Consumer,
    options::BasicConsumeOptions,
    types::{FieldTable, ShortString},
};
use tokio_util::sync::CancellationToken;

use super::Catalogue;
use crate::{changes, store::Store};

/// How far back a reload still trusts the catalogue over what it read: a change made just
/// before the read began may be missing from it on a server whose clock runs behind.
const CLOCK_MARGIN: chrono::Duration = chrono::Duration::seconds(5);

/// How long to wait before trying a failed reload again.
const RELOAD_RETRY: Duration = Duration::from_secs(1);

/// Loads the whole catalogue from the database into `catalogue`.
pub async fn load(catalogue: &Catalogue, store: &Store) -> anyhow::Result<()> {
    let read_from = Utc::now() - CLOCK_MARGIN;
    let events = store.all_events().await?;
    let count = events.len();
    catalogue.reload(events, read_from);
    tracing::info!(events = count, "catalogue loaded");
    Ok(())
}

/// This instance's subscription to the change messages: its queue, exclusive to its
/// connection, already consumed. Subscribe before loading the catalogue, so that nothing
/// written meanwhile is missed (what arrives twice is applied once).
pub struct Follower {
    channel: Channel,
    consumer: Consumer,
}

impl Follower {
    /// Declares this instance's queue and starts consuming it.
    pub async fn subscribe(connection: &Connection, topology: &Topology) -> lapin::Result<Self> {
        let queue = topology.queue(Queue::EventsCatalogue(uuid::Uuid::new_v4()));
        let exchange = topology.exchange(Exchange::Domain);
        // Declared on the consuming channel, so that the connection's recovery declares it again.
        let channel = connection.create_channel().await?;
        let bindings: Vec<(String, String)> = changes::FOLLOWED
            .iter()
            .map(|key| (exchange.clone(), (*key).to_owned()))
            .collect();
        amqp::declare_private_queue(&channel, &queue, &bindings).await?;
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                ShortString::from(""),
                // Nothing to redeliver: a message lost with the queue is made up for by a reload.
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        Ok(Self { channel, consumer })
    }

    /// Applies the change messages to `catalogue` until `shutdown`, reloading after every
    /// reconnection to the broker.
    pub async fn run(
        mut self,
        catalogue: Catalogue,
        store: Store,
        shutdown: CancellationToken,
    ) -> lapin::Result<()> {
        loop {
            let next = tokio::select! {
                () = shutdown.cancelled() => break,
                next = self.consumer.next() => next,
            };
            match next {
                Some(Ok(delivery)) => apply(&catalogue, &delivery.routing_key, &delivery.data),
                Some(Err(err)) => {
                    self.channel.wait_for_recovery(err).await?;
                    reload_until_done(&catalogue, &store, &shutdown).await;
                }
                None => break,
            }
        }
        if let Err(err) = self.channel.close(200, "stopped following".into()).await {
            tracing::debug!(error = %err, "closing the catalogue channel failed");
        }
        Ok(())
    }
}

fn apply(catalogue: &Catalogue, routing_key: &ShortString, body: &[u8]) {
    match changes::change(routing_key.as_str(), body) {
        Ok(Some(change)) => {
            catalogue.apply(change);
        }
        Ok(None) => tracing::debug!(%routing_key, "not a catalogue change"),
        Err(err) => tracing::error!(error = ?err, %routing_key, "an unreadable catalogue change"),
    }
}

async fn reload_until_done(catalogue: &Catalogue, store: &Store, shutdown: &CancellationToken) {
    while !shutdown.is_cancelled() {
        match load(catalogue, store).await {
            Ok(()) => return,
            Err(err) => {
                tracing::warn!(error = ?err, "reloading the catalogue failed; trying again");
                tokio::time::sleep(RELOAD_RETRY).await;
            }
        }
    }
}
