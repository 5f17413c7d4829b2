//! The version log as a source of the common relay (`common::relay`), so that a change and its
//! message cannot part.
//!
//! A writer records a version before it updates `events`. For each version not yet relayed: if
//! `events` does not show it yet and its writer has had [`ROLL_FORWARD_AFTER`] to get there, the
//! writer died and it is applied here (unless a newer version exists). Then `event.updated.v1` /
//! `event.deleted.v1` and the v2 message (`changes.rs`) are published, the saves of a deleted
//! event are forgotten, and the version is marked relayed. The message id
//! (`event-<id>-v<version>`) lets consumers deduplicate.

use std::time::Duration;

use chrono::Utc;
use common::{
    background,
    messages::{self, EventDeletedV1, EventUpdatedV1},
    relay::{self, Outgoing, Pending, Source, Step},
    store::{StoreError, StoreResult},
    topology::Exchange,
};
use tokio_util::sync::CancellationToken;

use crate::{
    changes,
    store::{Change, Store, VersionDoc},
};

/// How long a writer may take between recording a version and applying it.
pub const ROLL_FORWARD_AFTER: Duration = Duration::from_secs(10);

/// How long a relayed version is kept. A writer only ever inserts the version after the one
/// it just read, so only the latest versions guard anything; older ones are history.
pub const VERSION_RETENTION: chrono::Duration = chrono::Duration::days(30);

/// How often old versions are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);

/// How often parked announcements are tried again.
pub const PARKED_RETRY_EVERY: Duration = Duration::from_secs(5 * 60);

/// The relay of this service's changes.
pub type Relay = relay::Relay<VersionLog>;

/// The `event_versions` collection, seen by the relay.
#[derive(Clone)]
pub struct VersionLog {
    pub store: Store,
}

impl Source for VersionLog {
    type Entry = VersionDoc;

    async fn pending(&self, which: Pending, limit: usize) -> StoreResult<Vec<VersionDoc>> {
        self.store.unrelayed(which, limit).await
    }

    fn recorded_at(version: &VersionDoc) -> chrono::DateTime<Utc> {
        version.at.to_chrono()
    }

    fn id(version: &VersionDoc) -> String {
        version.id.clone()
    }

    async fn prepare(&self, version: &VersionDoc) -> StoreResult<Step> {
        if !self.store.is_applied(version).await? {
            if !writer_gave_up(version) {
                return Ok(Step::Wait);
            }
            if !self.store.is_superseded(version).await? {
                tracing::warn!(version = %version.id, "applying a change its writer left half done");
                self.store.roll_forward(version).await?;
            }
        }
        if version.change == Change::Deleted {
            self.store.forget_event(version.event_id).await?;
        }
        // v2 too, whether or not the writer published it: an instance applies it only over an
        // older version, so a second copy costs nothing and a lost first one is made up for.
        let v2 = changes::announcement(version).map_err(|err| StoreError::Other(err.into()))?;
        let v1 = announcement(version).map_err(StoreError::Other)?;
        Ok(Step::Publish(v1.into_iter().chain([v2]).collect()))
    }

    async fn done(&self, version: &VersionDoc) -> StoreResult<()> {
        self.store.mark_relayed(version).await
    }

    async fn park(&self, version: &VersionDoc, reason: String) -> StoreResult<()> {
        self.store.park_version(version, reason).await
    }
}

/// The message announcing `version`, if anyone listens for its kind.
fn announcement(version: &VersionDoc) -> anyhow::Result<Option<Outgoing>> {
    let message_id = format!("event-{}-v{}", version.event_id, version.version);
    let (routing_key, body) = match (version.change, &version.event, version.previous_starts_at) {
        (Change::Updated, Some(event), Some(previous)) => (
            messages::EVENT_UPDATED_V1,
            serde_json::to_value(EventUpdatedV1 {
                version: u32::try_from(version.version)?,
                previous_starts_at: previous.to_chrono(),
                event: event.summary(),
                updated_at: version.at.to_chrono(),
            })?,
        ),
        (Change::Deleted, _, _) => (
            messages::EVENT_DELETED_V1,
            serde_json::to_value(EventDeletedV1 {
                event_id: version.event_id,
                deleted_at: version.at.to_chrono(),
            })?,
        ),
        // Nobody listens for new events yet; the version only had to be applied.
        _ => return Ok(None),
    };
    Ok(Some(Outgoing {
        exchange: Exchange::Domain,
        routing_key: routing_key.to_owned(),
        message_id,
        body,
        request_id: version.request_id(),
    }))
}

/// Relays on every nudge and every `interval`, and prunes every [`PRUNE_EVERY`], until
/// `shutdown`.
pub async fn run(relay: Relay, store: Store, interval: Duration, shutdown: CancellationToken) {
    let relaying = relay.run(
        "change relay",
        interval,
        PARKED_RETRY_EVERY,
        shutdown.clone(),
    );
    let pruning = background::prune(
        "version pruning",
        PRUNE_EVERY,
        VERSION_RETENTION,
        shutdown,
        |before| {
            let store = store.clone();
            async move { store.prune_versions(before).await }
        },
    );
    tokio::join!(relaying, pruning);
}

fn writer_gave_up(version: &VersionDoc) -> bool {
    let age = Utc::now() - version.at.to_chrono();
    age.to_std().is_ok_and(|age| age > ROLL_FORWARD_AFTER)
}
