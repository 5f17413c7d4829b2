//! How an instance follows every other's writes: its own queue for the v2 change messages,
//! exclusive to its connection (so it vanishes with it). What was published while the queue was
//! gone is lost to it, so after a reconnection it catches up from the database's version log
//! (the versions recorded or announced since shortly before the connection was lost), or
//! reloads the whole catalogue when the log may no longer reach that far back.

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{
    amqp::{Broadcasts, Broker, Heard},
    topology::{Exchange, Queue, Topology},
};
use lapin::types::ShortString;
use prometheus::{IntCounterVec, Opts, Registry};
use tokio_util::sync::CancellationToken;

use super::Catalogue;
use crate::{changes, relay, store::Store};

/// How far back a reload still trusts the catalogue over what it read: a change made just
/// before the read began may be missing from it on a server whose clock runs behind.
const CLOCK_MARGIN: chrono::Duration = chrono::Duration::seconds(5);

/// How long to wait before trying a failed catch-up again.
const RETRY: Duration = Duration::from_secs(1);

/// How far before a lost connection a catch-up reads: a dead connection may be noticed only
/// after the broker's heartbeat (a minute) fails, and a version recorded up to the relay's
/// roll-forward delay earlier may have gone out only then.
const CATCH_UP_MARGIN: chrono::Duration = chrono::Duration::minutes(2);

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
    broadcasts: Broadcasts,
    catch_ups: IntCounterVec,
}

/// How an instance makes up for what it missed while it heard nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
enum CatchUp {
    /// Apply the versions recorded or announced since then.
    FromLog(DateTime<Utc>),
    /// Load the whole catalogue again.
    Reload,
}

impl CatchUp {
    /// What to do, at `now`, for a connection lost at `lost_at`: the log is read while the
    /// relay cannot have pruned what it needs (with a day to spare).
    fn after_losing_at(lost_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let since = lost_at - CATCH_UP_MARGIN;
        if now - since < relay::VERSION_RETENTION - chrono::Duration::days(1) {
            Self::FromLog(since)
        } else {
            Self::Reload
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::FromLog(_) => "log",
            Self::Reload => "reload",
        }
    }
}

impl Follower {
    /// Declares this instance's queue and starts consuming it; counts catch-ups in
    /// `registry`.
    pub async fn subscribe(
        broker: &Broker,
        topology: &Topology,
        registry: &Registry,
    ) -> anyhow::Result<Self> {
        let catch_ups = IntCounterVec::new(
            Opts::new(
                "catalogue_catch_ups_total",
                "Catch-ups after a lost broker connection, by what they read",
            ),
            &["from"],
        )?;
        registry.register(Box::new(catch_ups.clone()))?;
        let queue = topology.queue(Queue::EventsCatalogue(uuid::Uuid::new_v4()));
        let exchange = topology.exchange(Exchange::Domain);
        let bindings: Vec<(String, String)> = changes::FOLLOWED
            .iter()
            .map(|key| (exchange.clone(), (*key).to_owned()))
            .collect();
        // A message lost with the queue is made up for by a catch-up.
        let broadcasts = Broadcasts::follow(broker, &queue, &bindings).await?;
        Ok(Self {
            broadcasts,
            catch_ups,
        })
    }

    /// Applies the change messages to `catalogue` until `shutdown`, catching up after every
    /// reconnection to the broker.
    pub async fn run(
        mut self,
        catalogue: Catalogue,
        store: Store,
        shutdown: CancellationToken,
    ) -> lapin::Result<()> {
        while let Some(heard) = self.broadcasts.next(&shutdown).await {
            match heard {
                Heard::Message(delivery) => {
                    apply(&catalogue, &delivery.routing_key, &delivery.data);
                }
                // The queue was declared anew, so a catch-up now reads everything it missed.
                Heard::Resumed { lost_at } => {
                    catch_up(lost_at, &catalogue, &store, &self.catch_ups, &shutdown).await;
                }
            }
        }
        self.broadcasts.close().await;
        Ok(())
    }
}

/// Makes up for what may have been missed since `lost_at`, counting how in `catch_ups`.
async fn catch_up(
    lost_at: DateTime<Utc>,
    catalogue: &Catalogue,
    store: &Store,
    catch_ups: &IntCounterVec,
    shutdown: &CancellationToken,
) {
    let catch_up = CatchUp::after_losing_at(lost_at, Utc::now());
    catch_up_until_done(catch_up, catalogue, store, shutdown).await;
    catch_ups.with_label_values(&[catch_up.label()]).inc();
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

async fn catch_up_until_done(
    catch_up: CatchUp,
    catalogue: &Catalogue,
    store: &Store,
    shutdown: &CancellationToken,
) {
    while !shutdown.is_cancelled() {
        let done = match catch_up {
            CatchUp::FromLog(since) => apply_versions_since(catalogue, store, since).await,
            CatchUp::Reload => load(catalogue, store).await,
        };
        match done {
            Ok(()) => return,
            Err(err) => {
                tracing::warn!(error = ?err, ?catch_up, "catching up failed; trying again");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Applies every version recorded or announced since `since` (in any order: a version older
/// than what the catalogue holds changes nothing).
async fn apply_versions_since(
    catalogue: &Catalogue,
    store: &Store,
    since: DateTime<Utc>,
) -> anyhow::Result<()> {
    let versions = store.versions_since(since).await?;
    let applied = versions
        .iter()
        .filter(|version| catalogue.apply(changes::catalogue_change(version)))
        .count();
    tracing::info!(read = versions.len(), applied, %since, "caught up from the version log");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catch_up_reads_the_log_while_the_relay_keeps_what_it_needs() {
        let lost_at = Utc::now();
        assert_eq!(
            CatchUp::after_losing_at(lost_at, lost_at + chrono::Duration::seconds(3)),
            CatchUp::FromLog(lost_at - CATCH_UP_MARGIN)
        );
        let much_later = lost_at + relay::VERSION_RETENTION;
        assert_eq!(
            CatchUp::after_losing_at(lost_at, much_later),
            CatchUp::Reload
        );
    }
}
