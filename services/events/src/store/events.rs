//! Live events (the latest version of each) and the writes that change them.

use anyhow::Context;
use common::messages::EventSummary;
use mongodb::bson::{self, doc, oid::ObjectId};
use serde::{Deserialize, Serialize};

use super::{Change, Store, VersionDoc};
use crate::domain::{Coordinates, Description, Organizer, Title, Topics};

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDoc {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub title: Title,
    pub description: Description,
    pub starts_at: bson::DateTime,
    pub ends_at: Option<bson::DateTime>,
    /// IANA name, checked when written.
    pub timezone: String,
    pub place: PlaceDoc,
    pub organizer: Option<Organizer>,
    pub topics: Topics,
    /// What a text search matches (see `domain::words`).
    pub words: Vec<String>,
    pub created_at: bson::DateTime,
    pub updated_at: bson::DateTime,
    /// 1 when created, one more on every change.
    pub version: i64,
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
            id: self.id.to_hex(),
            title: self.title.as_str().to_owned(),
            starts_at: self.starts_at.to_chrono(),
            ends_at: self.ends_at.map(bson::DateTime::to_chrono),
            timezone: self.timezone.clone(),
            place: match &self.place.address {
                Some(address) => format!("{}, {address}", self.place.name),
                None => self.place.name.clone(),
            },
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
    Store(#[from] anyhow::Error),
}

impl Store {
    /// The live event `id`, if any.
    pub async fn event(&self, id: ObjectId) -> anyhow::Result<Option<EventDoc>> {
        self.events
            .find_one(doc! { "_id": id })
            .await
            .context("reading an event")
    }

    /// Live events among `ids`, in no particular order.
    pub async fn events(&self, ids: &[ObjectId]) -> anyhow::Result<Vec<EventDoc>> {
        use futures::TryStreamExt;
        self.events
            .find(doc! { "_id": { "$in": ids } })
            .await
            .context("reading events")?
            .try_collect()
            .await
            .context("reading events")
    }

    /// How many events start at or after `now`.
    pub async fn count_upcoming(&self, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<u64> {
        self.events
            .count_documents(doc! { "starts_at": { "$gte": bson::DateTime::from_chrono(now) } })
            .await
            .context("counting upcoming events")
    }

    /// Stores a new event (version 1).
    pub async fn create(&self, event: &EventDoc) -> anyhow::Result<()> {
        let version = VersionDoc::new(
            Change::Created,
            event.id,
            event.version,
            Some(event.clone()),
            None,
        );
        self.versions
            .insert_one(&version)
            .await
            .context("recording a new event")?;
        self.events
            .insert_one(event)
            .await
            .context("storing a new event")?;
        Ok(())
    }

    /// Replaces `current` by `next`, whose version must be the one after `current`'s.
    pub async fn replace(&self, current: &EventDoc, next: &EventDoc) -> Result<(), WriteError> {
        let version = VersionDoc::new(
            Change::Updated,
            next.id,
            next.version,
            Some(next.clone()),
            Some(current.starts_at),
        );
        self.claim(&version).await?;
        self.events
            .replace_one(doc! { "_id": next.id }, next)
            .await
            .context("storing a changed event")?;
        Ok(())
    }

    /// Deletes `current` (and, through the relay, everyone's saves of it).
    pub async fn delete(&self, current: &EventDoc) -> Result<(), WriteError> {
        let version = VersionDoc::new(
            Change::Deleted,
            current.id,
            current.version + 1,
            None,
            Some(current.starts_at),
        );
        self.claim(&version).await?;
        self.events
            .delete_one(doc! { "_id": current.id })
            .await
            .context("deleting an event")?;
        Ok(())
    }

    /// Records `version`, unless another writer already recorded that version of the event.
    async fn claim(&self, version: &VersionDoc) -> Result<(), WriteError> {
        match self.versions.insert_one(version).await {
            Ok(_) => Ok(()),
            Err(err) if common::mongo::is_duplicate_key(&err) => Err(WriteError::Stale),
            Err(err) => Err(WriteError::Store(
                anyhow::Error::new(err).context("recording a change"),
            )),
        }
    }
}
