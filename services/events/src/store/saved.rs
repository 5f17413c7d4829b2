//! Events users saved ("liked"): one document per user and event.

use anyhow::Context;
use futures::TryStreamExt;
use mongodb::bson::{self, doc, oid::ObjectId};
use serde::{Deserialize, Serialize};

use super::Store;
use common::domain::Topic;

/// A user's save of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedDoc {
    /// `<user id>:<event id>`, so saving twice is one save.
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub event_id: ObjectId,
    /// The event's topics when saved: what the user's interests are made of.
    pub topics: Vec<Topic>,
    pub saved_at: bson::DateTime,
}

impl SavedDoc {
    pub fn new(user_id: &str, event_id: ObjectId, topics: Vec<Topic>) -> Self {
        Self {
            id: format!("{user_id}:{event_id}"),
            user_id: user_id.to_owned(),
            event_id,
            topics,
            saved_at: bson::DateTime::now(),
        }
    }
}

/// Where a page of saves ended: the last save's time and id.
pub type SavedCursor = (bson::DateTime, String);

impl Store {
    /// Saves, unless already saved.
    pub async fn save(&self, saved: &SavedDoc) -> anyhow::Result<()> {
        match self.saved.insert_one(saved).await {
            Ok(_) => Ok(()),
            Err(err) if common::mongo::is_duplicate_key(&err) => Ok(()),
            Err(err) => Err(anyhow::Error::new(err).context("saving an event")),
        }
    }

    /// Removes a save, if there is one.
    pub async fn unsave(&self, user_id: &str, event_id: ObjectId) -> anyhow::Result<()> {
        self.saved
            .delete_one(doc! { "_id": format!("{user_id}:{event_id}") })
            .await
            .context("unsaving an event")?;
        Ok(())
    }

    /// A user's saves, latest first, from after `after`, at most `limit`.
    pub async fn saved_by(
        &self,
        user_id: &str,
        after: Option<&SavedCursor>,
        limit: i64,
    ) -> anyhow::Result<Vec<SavedDoc>> {
        let mut filter = doc! { "user_id": user_id };
        if let Some((saved_at, id)) = after {
            filter.insert(
                "$or",
                vec![
                    doc! { "saved_at": { "$lt": saved_at } },
                    doc! { "saved_at": saved_at, "_id": { "$lt": id } },
                ],
            );
        }
        self.saved
            .find(filter)
            .sort(doc! { "saved_at": -1, "_id": -1 })
            .limit(limit)
            .await
            .context("reading saved events")?
            .try_collect()
            .await
            .context("reading saved events")
    }

    /// Forgets a deleted account's saves.
    pub async fn forget_user(&self, user_id: &str) -> anyhow::Result<u64> {
        let deleted = self
            .saved
            .delete_many(doc! { "user_id": user_id })
            .await
            .context("forgetting a user's saved events")?;
        Ok(deleted.deleted_count)
    }

    /// Forgets every save of a deleted event.
    pub async fn forget_event(&self, event_id: ObjectId) -> anyhow::Result<()> {
        self.saved
            .delete_many(doc! { "event_id": event_id })
            .await
            .context("forgetting saves of a deleted event")?;
        Ok(())
    }
}
