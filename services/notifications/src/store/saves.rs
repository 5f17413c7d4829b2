//! What users saved, as the events service announces it (`event.save_changed.v1`): the events
//! of their calendar feed besides those they have reminders for.

use common::{
    domain::{EventId, UserId, ids::hex},
    messages::{EventSaveChangedV1, EventSummary},
    store::StoreResult,
};
use futures::TryStreamExt;
use mongodb::bson::{self, doc};
use serde::{Deserialize, Serialize};

use super::Store;

/// A user's save of an event, or its unsave (kept, so an older announcement arriving late
/// changes nothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaveDoc {
    /// `<user id>:<event id>`.
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(with = "hex")]
    pub user_id: UserId,
    #[serde(with = "hex")]
    pub event_id: EventId,
    pub saved: bool,
    /// The event as last heard of; none once unsaved.
    pub event: Option<EventSummary>,
    pub changed_at: bson::DateTime,
}

impl SaveDoc {
    fn of(changed: &EventSaveChangedV1) -> Self {
        let event = changed.event.clone().filter(|_| changed.saved);
        Self {
            id: format!("{}:{}", changed.user_id, changed.event_id),
            user_id: changed.user_id,
            event_id: changed.event_id,
            saved: event.is_some(),
            event,
            changed_at: bson::DateTime::from_chrono(changed.changed_at),
        }
    }
}

impl Store {
    /// Records `changed` unless a newer change of the same save is recorded; returns whether
    /// it was.
    pub async fn record_save(&self, changed: &EventSaveChangedV1) -> StoreResult<bool> {
        let save = SaveDoc::of(changed);
        let (id, changed_at) = (save.id.clone(), save.changed_at);
        self.write_if_newer("recording a save", &self.saves, id, changed_at, save)
            .await
    }

    /// The events `user_id` has saved.
    pub async fn saved_by(&self, user_id: UserId) -> StoreResult<Vec<SaveDoc>> {
        let saves = self.saves.clone();
        let filter = doc! { "user_id": user_id.to_string() };
        let all: Vec<SaveDoc> = self
            .deadline
            .run("reading a user's saves", async move {
                saves.find(filter).await?.try_collect().await
            })
            .await?;
        Ok(all.into_iter().filter(|save| save.saved).collect())
    }

    /// The saves of `event_id` (those unsaved left out).
    pub async fn saves_of_event(&self, event_id: EventId) -> StoreResult<Vec<SaveDoc>> {
        let saves = self.saves.clone();
        let filter = doc! { "event_id": event_id.to_string(), "saved": true };
        self.deadline
            .run("reading an event's saves", async move {
                saves.find(filter).await?.try_collect().await
            })
            .await
    }

    /// Records what the saves of `event`'s event now show of it, at `version`.
    pub async fn follow_event_in_saves(
        &self,
        event: &EventSummary,
        version: i64,
    ) -> StoreResult<u64> {
        let saves = self.saves.clone();
        let summary =
            bson::to_bson(event).map_err(|err| common::store::StoreError::Other(err.into()))?;
        let filter = doc! {
            "event_id": event.id.to_string(),
            "saved": true,
            "event.version": { "$lt": version },
        };
        self.deadline
            .run("updating saved events", async move {
                saves
                    .update_many(filter, doc! { "$set": { "event": summary } })
                    .await
                    .map(|result| result.modified_count)
            })
            .await
    }

    /// Forgets the saves of a deleted event, or of a deleted user.
    pub async fn forget_saves(&self, of: SavesOf) -> StoreResult<u64> {
        let saves = self.saves.clone();
        let filter = match of {
            SavesOf::Event(id) => doc! { "event_id": id.to_string() },
            SavesOf::User(id) => doc! { "user_id": id.to_string() },
        };
        self.deadline
            .run("forgetting saves", async move {
                saves
                    .delete_many(filter)
                    .await
                    .map(|result| result.deleted_count)
            })
            .await
    }
}

/// Whose saves.
#[derive(Debug, Clone, Copy)]
pub enum SavesOf {
    Event(EventId),
    User(UserId),
}
