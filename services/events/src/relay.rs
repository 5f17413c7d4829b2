//! Applies and announces recorded changes, so that a change and its message cannot part.
//!
//! A writer records a version before it updates `events`. The relay takes each version not yet
//! relayed: if `events` does not show it yet and its writer has had [`ROLL_FORWARD_AFTER`] to
//! get there, the writer died and the relay applies it (unless a newer version exists). Then it
//! publishes `event.updated` / `event.deleted` with publisher confirms, forgets the saves of a
//! deleted event, and marks the version relayed. A crash between publish and mark publishes
//! again; the message id (`event-<id>-v<version>`) lets consumers deduplicate.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use common::{
    amqp::Publisher,
    background,
    messages::{self, EventDeletedV1, EventUpdatedV1},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store::{Change, Store, VersionDoc};

/// Changes one pass handles.
const BATCH: i64 = 100;

/// How long a writer may take between recording a version and applying it.
pub const ROLL_FORWARD_AFTER: Duration = Duration::from_secs(10);

/// How long a relayed version is kept. A writer only ever inserts the version after the one
/// it just read, so only the latest versions guard anything; older ones are history.
const VERSION_RETENTION: chrono::Duration = chrono::Duration::days(30);

/// How often old versions are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);

/// Publishes recorded changes to the domain exchange.
#[derive(Clone)]
pub struct Relay {
    store: Store,
    domain: Publisher,
    nudge: Arc<Notify>,
}

impl Relay {
    pub fn new(store: Store, domain: Publisher) -> Self {
        Self {
            store,
            domain,
            nudge: Arc::new(Notify::new()),
        }
    }

    /// Asks for a pass now (after a change).
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// One pass; returns how many changes were relayed.
    pub async fn relay_pending(&self) -> anyhow::Result<usize> {
        let mut relayed = 0;
        for version in self.store.unrelayed(BATCH).await? {
            if !self.store.is_applied(&version).await? {
                if !writer_gave_up(&version) {
                    continue;
                }
                if !self.store.is_superseded(&version).await? {
                    tracing::warn!(version = %version.id, "applying a change its writer left half done");
                    self.store.roll_forward(&version).await?;
                }
            }
            self.announce(&version).await?;
            self.store.mark_relayed(&version).await?;
            relayed += 1;
        }
        Ok(relayed)
    }

    async fn announce(&self, version: &VersionDoc) -> anyhow::Result<()> {
        let message_id = format!("event-{}-v{}", version.event_id, version.version);
        match (version.change, &version.event, version.previous_starts_at) {
            (Change::Updated, Some(event), Some(previous)) => {
                let updated = EventUpdatedV1 {
                    version: u32::try_from(version.version)?,
                    previous_starts_at: previous.to_chrono(),
                    event: event.summary(),
                    updated_at: version.at.to_chrono(),
                };
                self.domain
                    .publish(messages::EVENT_UPDATED_V1, &message_id, &updated)
                    .await?;
            }
            (Change::Deleted, _, _) => {
                self.store.forget_event(version.event_id).await?;
                let deleted = EventDeletedV1 {
                    event_id: version.event_id.to_hex(),
                    deleted_at: version.at.to_chrono(),
                };
                self.domain
                    .publish(messages::EVENT_DELETED_V1, &message_id, &deleted)
                    .await?;
            }
            // Nobody listens for new events yet; the version only had to be applied.
            _ => {}
        }
        Ok(())
    }

    /// Passes on every nudge and every `interval`, and prunes every [`PRUNE_EVERY`], until
    /// `shutdown`.
    pub async fn run(self, interval: Duration, shutdown: CancellationToken) {
        let relaying = background::repeat(
            "change relay",
            interval,
            &self.nudge,
            shutdown.clone(),
            || self.relay_pending(),
        );
        let pruning = background::prune(
            "version pruning",
            PRUNE_EVERY,
            VERSION_RETENTION,
            shutdown,
            |before| self.store.prune_versions(before),
        );
        tokio::join!(relaying, pruning);
    }
}

fn writer_gave_up(version: &VersionDoc) -> bool {
    let age = Utc::now() - version.at.to_chrono();
    age.to_std().is_ok_and(|age| age > ROLL_FORWARD_AFTER)
}
