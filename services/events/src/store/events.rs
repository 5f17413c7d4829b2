//! Live events (the latest version of each) and the writes that change them.

use common::{
    domain::{EventId, TimeZone},
    messages::EventSummary,
    store::{Deadline, Dependency, StoreError, StoreResult},
};
use futures::TryStreamExt;
use mongodb::bson::{self, doc};
use serde::{Deserialize, Deserializer, Serialize};

use super::{Change, Store, VersionDoc};
use crate::domain::{Coordinates, Description, Organizer, Title, Topics};

/// How long loading the whole catalogue may take (100,000 events on the local store take
/// seconds).
const LOAD_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDoc {
    #[serde(rename = "_id")]
    pub id: EventId,
    pub title: Title,
    pub description: Description,
    pub starts_at: bson::DateTime,
    pub ends_at: Option<bson::DateTime>,
    /// Checked when written; one stored by hand that does not parse is read as UTC.
    #[serde(deserialize_with = "stored_zone")]
    pub timezone: TimeZone,
    pub place: PlaceDoc,
    pub organizer: Option<Organizer>,
    pub topics: Topics,
    pub created_at: bson::DateTime,
    pub updated_at: bson::DateTime,
    /// 1 when created, one more on every change.
    pub version: i64,
}

fn stored_zone<'de, D: Deserializer<'de>>(deserializer: D) -> Result<TimeZone, D::Error> {
    let raw = String::deserialize(deserializer)?;
    Ok(TimeZone::or_utc(&raw, "stored event", &"unknown"))
}

/// Where, as stored: coordinates as plain fields so one index serves the bounding box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceDoc {
    pub name: String,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

impl EventDoc {
    /// What other services keep of an event (reminder mails show it).
    pub fn summary(&self) -> EventSummary {
        EventSummary {
            id: self.id,
            title: self.title.as_str().to_owned(),
            starts_at: self.starts_at.to_chrono(),
            ends_at: self.ends_at.map(bson::DateTime::to_chrono),
            timezone: self.timezone,
            place: match &self.place.address {
                Some(address) => format!("{}, {address}", self.place.name),
                None => self.place.name.clone(),
            },
            version: self.version,
        }
    }
}

impl PlaceDoc {
    /// The position, if the place has a valid one.
    pub fn position(&self) -> Option<Coordinates> {
        Coordinates::parse(self.lat?, self.lon?).ok()
    }
}

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Another change was made from the same version first.
    #[error("the event was changed by someone else")]
    Stale,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// The live event `id`, if any.
    pub async fn event(&self, id: EventId) -> StoreResult<Option<EventDoc>> {
        let events = self.events.clone();
        self.deadline
            .run("reading an event", async move {
                events.find_one(doc! { "_id": id }).await
            })
            .await
    }

    /// Every live event, for loading the catalogue: the one read of the whole collection, at
    /// start and after losing the broker, so it may take longer than the usual deadline.
    pub async fn all_events(&self) -> StoreResult<Vec<EventDoc>> {
        let events = self.events.clone();
        Deadline::new(
            Dependency::Database,
            LOAD_DEADLINE.max(self.deadline.limit()),
        )
        .run("loading the catalogue", async move {
            events.find(doc! {}).await?.try_collect().await
        })
        .await
    }

    /// Stores `events` as they are, recording no versions (see `seed::bulk`).
    pub async fn bulk_insert(&self, events: Vec<EventDoc>) -> StoreResult<()> {
        let collection = self.events.clone();
        Deadline::new(Dependency::Database, LOAD_DEADLINE)
            .run("storing events in bulk", async move {
                collection.insert_many(events).await.map(drop)
            })
            .await
    }

    /// How many events start at or after `now`.
    pub async fn count_upcoming(&self, now: chrono::DateTime<chrono::Utc>) -> StoreResult<u64> {
        let events = self.events.clone();
        let filter = doc! { "starts_at": { "$gte": bson::DateTime::from_chrono(now) } };
        self.deadline
            .run("counting upcoming events", async move {
                events.count_documents(filter).await
            })
            .await
    }

    /// Stores a new event (version 1); returns the version recorded.
    pub async fn create(&self, event: &EventDoc) -> StoreResult<VersionDoc> {
        let version = VersionDoc::new(
            Change::Created,
            event.id,
            event.version,
            Some(event.clone()),
            None,
        );
        self.record(version.clone(), "recording a new event")
            .await?;
        self.put(event.clone(), "storing a new event").await?;
        Ok(version)
    }

    /// Replaces `current` by `next`, whose version must be the one after `current`'s; returns
    /// the version recorded.
    pub async fn replace(
        &self,
        current: &EventDoc,
        next: &EventDoc,
    ) -> Result<VersionDoc, WriteError> {
        let version = VersionDoc::new(
            Change::Updated,
            next.id,
            next.version,
            Some(next.clone()),
            Some(current.starts_at),
        );
        self.claim(version.clone()).await?;
        self.put(next.clone(), "storing a changed event").await?;
        Ok(version)
    }

    /// Deletes `current` (and, through the relay, everyone's saves of it); returns the version
    /// recorded.
    pub async fn delete(&self, current: &EventDoc) -> Result<VersionDoc, WriteError> {
        let version = VersionDoc::new(
            Change::Deleted,
            current.id,
            current.version + 1,
            None,
            Some(current.starts_at),
        );
        self.claim(version.clone()).await?;
        self.remove(current.id, "deleting an event").await?;
        Ok(version)
    }

    /// Records `version`, unless another writer already recorded that version of the event.
    async fn claim(&self, version: VersionDoc) -> Result<(), WriteError> {
        match self.record(version, "recording a change").await {
            Err(err) if err.is_duplicate() => Err(WriteError::Stale),
            other => Ok(other?),
        }
    }

    async fn record(&self, version: VersionDoc, what: &'static str) -> StoreResult<()> {
        let versions = self.versions.clone();
        self.deadline
            .run(
                what,
                async move { versions.insert_one(version).await.map(drop) },
            )
            .await
    }

    /// Makes `events` hold `event` (inserted or replaced).
    pub(super) async fn put(&self, event: EventDoc, what: &'static str) -> StoreResult<()> {
        let events = self.events.clone();
        self.deadline
            .run(what, async move {
                events
                    .replace_one(doc! { "_id": event.id }, event)
                    .upsert(true)
                    .await
                    .map(drop)
            })
            .await
    }

    /// Removes event `id` from `events`.
    pub(super) async fn remove(&self, id: EventId, what: &'static str) -> StoreResult<()> {
        let events = self.events.clone();
        self.deadline
            .run(what, async move {
                events.delete_one(doc! { "_id": id }).await.map(drop)
            })
            .await
    }
}
