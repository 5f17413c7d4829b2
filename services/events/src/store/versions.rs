//! The log of changes: one document per version of each event, inserted before the change is
//! applied to `events`, marked `relayed` once announced.

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{self, doc, oid::ObjectId};
use serde::{Deserialize, Serialize};

use super::{EventDoc, Store};

/// What a version did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    Updated,
    Deleted,
}

/// One version of one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionDoc {
    /// `<event id>:<version>`: unique, so only one writer gets each version.
    #[serde(rename = "_id")]
    pub id: String,
    pub event_id: ObjectId,
    pub version: i64,
    pub change: Change,
    /// The event after the change; none for a deletion.
    pub event: Option<EventDoc>,
    /// When the event started before the change; none for a creation.
    pub previous_starts_at: Option<bson::DateTime>,
    /// When the change was made.
    pub at: bson::DateTime,
    /// Whether the relay has applied and announced it.
    pub relayed: bool,
}

impl VersionDoc {
    pub fn new(
        change: Change,
        event_id: ObjectId,
        version: i64,
        event: Option<EventDoc>,
        previous_starts_at: Option<bson::DateTime>,
    ) -> Self {
        Self {
            id: format!("{event_id}:{version}"),
            event_id,
            version,
            change,
            event,
            previous_starts_at,
            at: bson::DateTime::now(),
            relayed: false,
        }
    }
}

impl Store {
    /// Up to `limit` changes not yet announced, oldest first.
    pub async fn unrelayed(&self, limit: i64) -> anyhow::Result<Vec<VersionDoc>> {
        self.versions
            .find(doc! { "relayed": false })
            .sort(doc! { "at": 1 })
            .limit(limit)
            .await
            .context("reading unannounced changes")?
            .try_collect()
            .await
            .context("reading unannounced changes")
    }

    /// Whether a version after `version` of the event exists.
    pub async fn is_superseded(&self, version: &VersionDoc) -> anyhow::Result<bool> {
        let newer = self
            .versions
            .find_one(doc! { "event_id": version.event_id, "version": { "$gt": version.version } })
            .await
            .context("looking for a newer version")?;
        Ok(newer.is_some())
    }

    /// Makes `events` show `version`, the latest of its event, in case its writer died before
    /// doing so. Idempotent.
    pub async fn roll_forward(&self, version: &VersionDoc) -> anyhow::Result<()> {
        match &version.event {
            Some(event) => {
                self.events
                    .replace_one(doc! { "_id": event.id }, event)
                    .upsert(true)
                    .await
                    .context("rolling an event forward")?;
            }
            None => {
                self.events
                    .delete_one(doc! { "_id": version.event_id })
                    .await
                    .context("rolling a deletion forward")?;
            }
        }
        Ok(())
    }

    /// Whether `events` already shows `version` (or a later one).
    pub async fn is_applied(&self, version: &VersionDoc) -> anyhow::Result<bool> {
        let live = self.event(version.event_id).await?;
        Ok(match version.change {
            Change::Deleted => live.is_none(),
            Change::Created | Change::Updated => live.is_some_and(|e| e.version >= version.version),
        })
    }

    /// Records that `version` was announced.
    pub async fn mark_relayed(&self, version: &VersionDoc) -> anyhow::Result<()> {
        self.versions
            .update_one(
                doc! { "_id": &version.id },
                doc! { "$set": { "relayed": true } },
            )
            .await
            .context("marking a change as announced")?;
        Ok(())
    }

    /// Deletes the relayed versions recorded before `before`; returns how many.
    pub async fn prune_versions(&self, before: DateTime<Utc>) -> anyhow::Result<u64> {
        let result = self
            .versions
            .delete_many(doc! {
                "relayed": true,
                "at": { "$lt": bson::DateTime::from_chrono(before) },
            })
            .await
            .context("pruning old versions")?;
        Ok(result.deleted_count)
    }
}
