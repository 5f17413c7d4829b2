//! The log of changes: one document per version of each event, inserted before the change is
//! applied to `events`, marked `relayed` once announced (or `parked` if it could not be).

use chrono::{DateTime, Utc};
use common::{domain::EventId, relay::Pending, request_id::RequestId, store::StoreResult};
use futures::TryStreamExt;
use mongodb::bson::{self, doc};
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
    pub event_id: EventId,
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
    /// When the relay announced it (none before it did, and for versions older than this
    /// field).
    #[serde(default)]
    pub relayed_at: Option<bson::DateTime>,
    /// Whether its announcement could not be published as it was (see `common::relay`).
    #[serde(default)]
    pub parked: bool,
    /// Why, when parked.
    #[serde(default)]
    pub park_reason: Option<String>,
    /// The id of the request that made the change, which its announcements carry.
    #[serde(default)]
    pub request_id: Option<String>,
}

impl VersionDoc {
    pub fn new(
        change: Change,
        event_id: EventId,
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
            relayed_at: None,
            parked: false,
            park_reason: None,
            request_id: RequestId::current().map(|id| id.as_str().to_owned()),
        }
    }

    /// The request that made the change, if it was known.
    pub fn request_id(&self) -> Option<RequestId> {
        self.request_id.as_deref().and_then(RequestId::parse)
    }
}

impl Store {
    /// Up to `limit` versions not yet announced, in `which` state, in no particular order.
    pub async fn unrelayed(&self, which: Pending, limit: usize) -> StoreResult<Vec<VersionDoc>> {
        let filter = match which {
            // `$ne` so versions written before parking existed count as fresh.
            Pending::Fresh => doc! { "relayed": false, "parked": { "$ne": true } },
            Pending::Parked => doc! { "relayed": false, "parked": true },
        };
        let versions = self.versions.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.deadline
            .run("reading unannounced changes", async move {
                versions
                    .find(filter)
                    .limit(limit)
                    .await?
                    .try_collect()
                    .await
            })
            .await
    }

    /// The versions recorded or announced since `since`: every change an instance that
    /// stopped hearing the change messages then may have missed.
    pub async fn versions_since(&self, since: DateTime<Utc>) -> StoreResult<Vec<VersionDoc>> {
        let since = bson::DateTime::from_chrono(since);
        let filter = doc! {
            "$or": [ { "at": { "$gte": since } }, { "relayed_at": { "$gte": since } } ],
        };
        let versions = self.versions.clone();
        self.deadline
            .run("reading recent changes", async move {
                versions.find(filter).await?.try_collect().await
            })
            .await
    }

    /// Whether a version after `version` of the event exists.
    pub async fn is_superseded(&self, version: &VersionDoc) -> StoreResult<bool> {
        let versions = self.versions.clone();
        let filter = doc! { "event_id": version.event_id, "version": { "$gt": version.version } };
        self.deadline
            .run("looking for a newer version", async move {
                versions.find_one(filter).await.map(|newer| newer.is_some())
            })
            .await
    }

    /// Makes `events` show `version`, the latest of its event, in case its writer died before
    /// doing so. Idempotent.
    pub async fn roll_forward(&self, version: &VersionDoc) -> StoreResult<()> {
        match &version.event {
            Some(event) => self.put(event.clone(), "rolling an event forward").await,
            None => {
                self.remove(version.event_id, "rolling a deletion forward")
                    .await
            }
        }
    }

    /// Whether `events` already shows `version` (or a later one).
    pub async fn is_applied(&self, version: &VersionDoc) -> StoreResult<bool> {
        let live = self.event(version.event_id).await?;
        Ok(match version.change {
            Change::Deleted => live.is_none(),
            Change::Created | Change::Updated => live.is_some_and(|e| e.version >= version.version),
        })
    }

    /// Records that `version` was announced.
    pub async fn mark_relayed(&self, version: &VersionDoc) -> StoreResult<()> {
        self.set_version(
            version,
            doc! { "relayed": true, "relayed_at": bson::DateTime::now() },
            "marking a change as announced",
        )
        .await
    }

    /// Records that `version`'s announcement could not be published, and why.
    pub async fn park_version(&self, version: &VersionDoc, reason: String) -> StoreResult<()> {
        let set = doc! { "parked": true, "park_reason": reason };
        self.set_version(version, set, "parking a change").await
    }

    /// Makes every parked version fresh again, for the relay's next pass; returns how many.
    pub async fn unpark_versions(&self) -> StoreResult<u64> {
        let versions = self.versions.clone();
        self.deadline
            .run("unparking changes", async move {
                versions
                    .update_many(
                        doc! { "parked": true },
                        doc! { "$set": { "parked": false, "park_reason": null } },
                    )
                    .await
                    .map(|result| result.modified_count)
            })
            .await
    }

    async fn set_version(
        &self,
        version: &VersionDoc,
        set: bson::Document,
        what: &'static str,
    ) -> StoreResult<()> {
        let (versions, id) = (self.versions.clone(), version.id.clone());
        self.deadline
            .run(what, async move {
                versions
                    .update_one(doc! { "_id": id }, doc! { "$set": set })
                    .await
                    .map(drop)
            })
            .await
    }

    /// Deletes the relayed versions recorded before `before`; returns how many.
    pub async fn prune_versions(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let versions = self.versions.clone();
        let filter = doc! {
            "relayed": true,
            "at": { "$lt": bson::DateTime::from_chrono(before) },
        };
        self.deadline
            .run("pruning old versions", async move {
                versions
                    .delete_many(filter)
                    .await
                    .map(|result| result.deleted_count)
            })
            .await
    }
}
