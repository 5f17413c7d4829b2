//! Events users saved ("liked"): one document per user and event.

use common::{
    domain::{EventId, Topic, UserId, ids::hex},
    page::{Cursor, Page},
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
}

fn save_id(user_id: UserId, event_id: EventId) -> String {
    format!("{user_id}:{event_id}")
}

impl SavedDoc {
    pub fn new(user_id: UserId, event_id: EventId, topics: Vec<Topic>) -> Self {
        Self {
            id: save_id(user_id, event_id),
            user_id,
            event_id,
            topics,
            saved_at: bson::DateTime::now(),
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
    /// Saves, unless already saved.
    pub async fn save(&self, saved: &SavedDoc) -> StoreResult<()> {
        let (collection, saved) = (self.saved.clone(), saved.clone());
        let result = self
            .deadline
            .run("saving an event", async move {
                collection.insert_one(saved).await.map(drop)
            })
            .await;
        match result {
            Err(err) if err.is_duplicate() => Ok(()),
            other => other,
        }
    }

    /// Removes a save, if there is one.
    pub async fn unsave(&self, user_id: UserId, event_id: EventId) -> StoreResult<()> {
        let saved = self.saved.clone();
        self.deadline
            .run("unsaving an event", async move {
                saved
                    .delete_one(doc! { "_id": save_id(user_id, event_id) })
                    .await
                    .map(drop)
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
