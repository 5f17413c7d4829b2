//! The relay: publishes what a service recorded, so that a change and its message cannot part.
//!
//! A service writes the message it owes (an outbox entry, a version of an event) in the same
//! place as, or before, the change itself; a [`Source`] hands those entries to the relay, which
//! publishes them with confirms and tells the source when each went out. One mechanism, several
//! sources (the users service's outbox, the events service's version log).
//!
//! - Pending entries are read by an equality the store answers cheaply and ordered here, oldest
//!   first, never by a sorted query (on the local store a sort decodes the whole collection).
//! - An entry the broker is down for stays pending: the next pass tries again.
//! - An entry that cannot be published as it is (no queue for it, a body that does not encode)
//!   is parked, not dropped: kept and flagged by its source, counted in
//!   `eventpost_relay_parked_total`, retried every [`Relay::run`] park interval, and made fresh
//!   again at once by `cargo task relay-replay`. One bad entry never holds up the others.
//! - A crash between publishing and `done` publishes again; the message id lets consumers
//!   deduplicate.

use std::{future::Future, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use prometheus::{IntCounter, Registry};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    amqp::{PublishError, Publisher},
    background,
    request_id::RequestId,
    store::StoreResult,
    topology::Exchange,
};

/// Entries one pass reads.
pub const BATCH: usize = 100;

/// A message to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub exchange: Exchange,
    pub routing_key: String,
    /// The consumers' deduplication key.
    pub message_id: String,
    /// The JSON body.
    pub body: serde_json::Value,
    /// The request that caused it, which it carries (a fresh id when none is known).
    pub request_id: Option<RequestId>,
}

/// What to do with an entry now.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Publish these (none is fine: the entry only had to be applied), then call `done`.
    Publish(Vec<Outgoing>),
    /// Not yet: its change is not visible yet.
    Wait,
    /// Never: its change never happened. Logged with the reason, then `done`.
    Discard(&'static str),
    /// It cannot be published as it is (its body does not parse, say): parked with the reason.
    Park(String),
}

/// Which entries a pass reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Those waiting their first publish (or a retry after an outage).
    Fresh,
    /// Those parked after a publish that could not succeed as it was.
    Parked,
}

/// Where entries come from: one service's record of what it owes the broker.
pub trait Source: Clone + Send + Sync + 'static {
    /// One recorded message (or the change it is made from).
    type Entry: Send + Sync;

    /// Up to `limit` entries in `which` state, in any order, read by an equality.
    fn pending(
        &self,
        which: Pending,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<Self::Entry>>> + Send;
    /// When the entry was recorded: the relay goes oldest first.
    fn recorded_at(entry: &Self::Entry) -> DateTime<Utc>;
    /// Its id, for the logs.
    fn id(entry: &Self::Entry) -> String;
    /// Gets the entry ready (applies what its writer left half done, say) and says what to do.
    fn prepare(&self, entry: &Self::Entry) -> impl Future<Output = StoreResult<Step>> + Send;
    /// The entry went out (or was discarded): it is no longer pending.
    fn done(&self, entry: &Self::Entry) -> impl Future<Output = StoreResult<()>> + Send;
    /// Keeps the entry, flagged as parked with `reason`.
    fn park(
        &self,
        entry: &Self::Entry,
        reason: String,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Publishes a [`Source`]'s entries.
#[derive(Clone)]
pub struct Relay<S> {
    source: S,
    publishers: Arc<[(Exchange, Publisher)]>,
    nudge: Arc<Notify>,
    parked: IntCounter,
}

impl<S: Source> Relay<S> {
    /// A relay of `source`'s entries through `publishers` (one per exchange it publishes to),
    /// counting parked entries in `registry`.
    pub fn new(
        source: S,
        publishers: Vec<(Exchange, Publisher)>,
        registry: &Registry,
    ) -> prometheus::Result<Self> {
        let parked = IntCounter::new(
            "relay_parked_total",
            "Messages parked because they could not be published as they were",
        )?;
        registry.register(Box::new(parked.clone()))?;
        Ok(Self {
            source,
            publishers: publishers.into(),
            nudge: Arc::new(Notify::new()),
            parked,
        })
    }

    /// A relay of another source of the same service, through the same publishers, counting
    /// its parked entries with this one's.
    pub fn beside<T: Source>(&self, source: T) -> Relay<T> {
        Relay {
            source,
            publishers: self.publishers.clone(),
            nudge: Arc::new(Notify::new()),
            parked: self.parked.clone(),
        }
    }

    /// Asks for a pass now (after a write that recorded an entry).
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// One pass over the entries in `which` state; returns how many went out.
    pub async fn pass(&self, which: Pending) -> anyhow::Result<usize> {
        let mut entries = self.source.pending(which, BATCH).await?;
        entries.sort_by_key(S::recorded_at);
        let mut relayed = 0;
        for entry in &entries {
            match self.source.prepare(entry).await? {
                Step::Wait => continue,
                Step::Park(reason) => {
                    self.park(entry, reason).await?;
                    continue;
                }
                Step::Discard(why) => {
                    tracing::warn!(entry = %S::id(entry), why, "discarding a relay entry");
                }
                Step::Publish(messages) => {
                    if let Err(err) = self.publish(&messages).await {
                        if !is_permanent(&err) {
                            return Err(err.into());
                        }
                        self.park(entry, err.to_string()).await?;
                        continue;
                    }
                }
            }
            self.source.done(entry).await?;
            relayed += 1;
        }
        Ok(relayed)
    }

    async fn park(&self, entry: &S::Entry, reason: String) -> StoreResult<()> {
        tracing::error!(entry = %S::id(entry), %reason, "parking a message that cannot be published");
        self.source.park(entry, reason).await?;
        self.parked.inc();
        Ok(())
    }

    async fn publish(&self, messages: &[Outgoing]) -> Result<(), PublishError> {
        for message in messages {
            let publisher = self
                .publishers
                .iter()
                .find(|(exchange, _)| *exchange == message.exchange)
                .map(|(_, publisher)| publisher)
                .ok_or_else(|| PublishError::Unroutable(format!("{:?}", message.exchange)))?;
            let request_id = message
                .request_id
                .clone()
                .unwrap_or_else(RequestId::generate);
            request_id
                .scope(publisher.publish(&message.routing_key, &message.message_id, &message.body))
                .await?;
        }
        Ok(())
    }

    /// Passes on every nudge and every `interval`, and over parked entries every
    /// `park_interval`, until `shutdown`. `what` names it in the logs.
    pub async fn run(
        self,
        what: &'static str,
        interval: Duration,
        park_interval: Duration,
        shutdown: CancellationToken,
    ) {
        let fresh = background::repeat(what, interval, &self.nudge, shutdown.clone(), || {
            self.pass(Pending::Fresh)
        });
        // Nothing nudges the parked pass: it runs on the clock alone.
        let never = Notify::new();
        let parked = background::repeat(what, park_interval, &never, shutdown, || {
            self.pass(Pending::Parked)
        });
        tokio::join!(fresh, parked);
    }
}

/// Whether publishing `err` would fail the same way again (so the entry is parked), rather
/// than because the broker is away for now.
fn is_permanent(err: &PublishError) -> bool {
    matches!(err, PublishError::Encode(_) | PublishError::Unroutable(_))
}
