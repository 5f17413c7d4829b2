//! Events users saved ("liked"): one document per user and event.
//!
//! Each change of a save is announced (`event.save_changed.v1`, see `saves_relay.rs`), so the
//! document says what is owed: `announced` is false until the relay published its state, and
//! an unsaved event keeps its document, `removed`, until that is announced. `changed_at`
//! names the change, so the relay marks done only the change it published.

use common::{
    domain::{EventId, Topic, UserId, ids::hex},
    page::{Cursor, Page},
    relay::Pending,
    store::StoreResult,
};
use futures::TryStreamExt;
use mongodb::bson::{self, doc};
use serde::{Deserialize, Serialize};

use super::Store;

/// A user's save of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedDoc {
    /// `<user id>:<event id>`, so saving twice is one save.
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(with = "hex")]
    pub user_id: UserId,
    pub event_id: EventId,
    /// The event's topics when saved: what the user's interests are made of.
    pub topics: Vec<Topic>,
    pub saved_at: bson::DateTime,
    /// Unsaved, waiting for that to be announced.
    #[serde(default)]
    pub removed: bool,
    /// Saves from before announcements read as announced.
    #[serde(default = "already")]
    pub announced: bool,
    /// Its announcement could not be published as it was; retried later.
    #[serde(default)]
    pub parked: bool,
    #[serde(default)]
    pub changed_at: Option<bson::DateTime>,
}

fn already() -> bool {
    true
}

fn save_id(user_id: UserId, event_id: EventId) -> String {
    format!("{user_id}:{event_id}")
}

impl SavedDoc {
    pub fn new(user_id: UserId, event_id: EventId, topics: Vec<Topic>) -> Self {
        let now = bson::DateTime::now();
        Self {
            id: save_id(user_id, event_id),
            user_id,
            event_id,
            topics,
            saved_at: now,
            removed: false,
            announced: false,
            parked: false,
            changed_at: Some(now),
        }
    }

    /// The cursor that resumes a list after this save.
    pub fn cursor(&self) -> Cursor<chrono::DateTime<chrono::Utc>> {
        Cursor::new(self.saved_at.to_chrono(), self.id.clone())
    }
}

/// Where a page of saves ended: the last save's time and id.
pub type SavedCursor = Cursor<chrono::DateTime<chrono::Utc>>;

impl Store {
    /// Saves, unless already saved (an unsave not yet announced is taken back); returns
    /// whether something changed.
    pub async fn save(&self, saved: &SavedDoc) -> StoreResult<bool> {
        let (collection, doc) = (self.saved.clone(), saved.clone());
        let result = self
            .deadline
            .run("saving an event", async move {
                collection.insert_one(doc).await.map(drop)
            })
            .await;
        match result {
            Ok(()) => Ok(true),
            Err(err) if err.is_duplicate() => {
                let filter = doc! { "_id": &saved.id, "removed": true };
                let topics = bson::to_bson(&saved.topics)
                    .map_err(|err| common::store::StoreError::Other(err.into()))?;
                let revive = doc! {
                    "removed": false,
                    "topics": topics,
                    "saved_at": saved.saved_at,
                };
                self.change_save("saving an event again", filter, revive)
                    .await
            }
            Err(err) => Err(err),
        }
    }

    /// Unsaves, if saved; returns whether something changed.
    pub async fn unsave(&self, user_id: UserId, event_id: EventId) -> StoreResult<bool> {
        let filter = doc! { "_id": save_id(user_id, event_id), "removed": false };
        self.change_save("unsaving an event", filter, doc! { "removed": true })
            .await
    }

    /// Sets `set` on the save matching `filter`, as a change still to announce.
    async fn change_save(
        &self,
        what: &'static str,
        filter: bson::Document,
        mut set: bson::Document,
    ) -> StoreResult<bool> {
        set.insert("announced", false);
        set.insert("parked", false);
        set.insert("changed_at", bson::DateTime::now());
        let saved = self.saved.clone();
        self.deadline
            .run(what, async move {
                saved
                    .update_one(filter, doc! { "$set": set })
                    .await
                    .map(|result| result.matched_count == 1)
            })
            .await
    }

    /// Up to `limit` saves whose change is not announced yet.
    pub async fn unannounced_saves(
        &self,
        which: Pending,
        limit: usize,
    ) -> StoreResult<Vec<SavedDoc>> {
        let filter = doc! { "announced": false, "parked": which == Pending::Parked };
        let saved = self.saved.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.deadline
            .run("reading unannounced saves", async move {
                saved.find(filter).limit(limit).await?.try_collect().await
            })
            .await
    }

    /// Records that the change `save` names was announced: an unsave is then forgotten. A
    /// later change is left to be announced in its turn.
    pub async fn mark_save_announced(&self, save: &SavedDoc) -> StoreResult<()> {
        let saved = self.saved.clone();
        let filter = doc! { "_id": &save.id, "changed_at": save.changed_at };
        let removed = save.removed;
        self.deadline
            .run("marking a save announced", async move {
                if removed {
                    saved.delete_one(filter).await.map(drop)
                } else {
                    let set = doc! { "$set": { "announced": true } };
                    saved.update_one(filter, set).await.map(drop)
                }
            })
            .await
    }

    /// Records that the change `save` names could not be announced as it was.
    pub async fn park_save(&self, save: &SavedDoc, reason: String) -> StoreResult<()> {
        let saved = self.saved.clone();
        let filter = doc! { "_id": &save.id, "changed_at": save.changed_at };
        self.deadline
            .run("parking a save's announcement", async move {
                let set = doc! { "$set": { "parked": true, "park_reason": reason } };
                saved.update_one(filter, set).await.map(drop)
            })
            .await
    }

    /// A page of a user's saves, latest first, from after `after`. Read by an equality on the
    /// user and ordered here: a user's saves are few, all saves are many.
    pub async fn saved_by(
        &self,
        user_id: UserId,
        after: Option<&SavedCursor>,
        limit: u32,
    ) -> StoreResult<Page<SavedDoc>> {
        let saved = self.saved.clone();
        let filter = doc! { "user_id": user_id.to_string() };
        let mut saves: Vec<SavedDoc> = self
            .deadline
            .run("reading saved events", async move {
                saved.find(filter).await?.try_collect().await
            })
            .await?;
        saves.retain(|save| !save.removed);
        saves.sort_by(|a, b| (b.saved_at, &b.id).cmp(&(a.saved_at, &a.id)));
        if let Some(after) = after {
            let after = (bson::DateTime::from_chrono(after.key), after.id.as_str());
            saves.retain(|save| (save.saved_at, save.id.as_str()) < after);
        }
        saves.truncate(Page::<SavedDoc>::read_size(limit));
        Ok(Page::from_read(saves, limit))
    }

    /// Forgets a deleted account's saves.
    pub async fn forget_user(&self, user_id: UserId) -> StoreResult<u64> {
        let saved = self.saved.clone();
        self.deadline
            .run("forgetting a user's saved events", async move {
                saved
                    .delete_many(doc! { "user_id": user_id.to_string() })
                    .await
                    .map(|result| result.deleted_count)
            })
            .await
    }

    /// Forgets every save of a deleted event.
    pub async fn forget_event(&self, event_id: EventId) -> StoreResult<()> {
        let saved = self.saved.clone();
        self.deadline
            .run("forgetting saves of a deleted event", async move {
                saved
                    .delete_many(doc! { "event_id": event_id })
                    .await
                    .map(drop)
            })
            .await
    }
}
