//! Reminders: created, listed and changed by their owners; moved, cancelled and completed by
//! what other services say.

use anyhow::Context;
use chrono::{DateTime, Utc};
use common::{domain::EmailAddress, messages::EventSummary};
use futures::TryStreamExt;
use mongodb::bson::{self, Document, doc, oid::ObjectId};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::domain::{Status, default_content, default_subject};

/// A reminder as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderDoc {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    /// Its owner.
    pub user_id: String,
    pub event_id: ObjectId,
    /// The event as last heard of, and at which version.
    pub event: EventSummary,
    pub event_version: i64,
    pub to_email: EmailAddress,
    /// The owner's subject; none means one made from the event when it is sent.
    pub subject: Option<String>,
    /// The owner's text; none means one made from the event when it is sent.
    pub content: Option<String>,
    pub send_at: bson::DateTime,
    /// Set for reminders that follow their event's start.
    pub remind_before_minutes: Option<i64>,
    pub status: Status,
    /// How many times it was handed to the email queue.
    pub attempts: i64,
    /// While queued: when to stop waiting for the email-sender's result and publish again.
    pub lease_until: Option<bson::DateTime>,
    pub sent_at: Option<bson::DateTime>,
    pub last_error: Option<String>,
    pub created_at: bson::DateTime,
    pub updated_at: bson::DateTime,
}

impl ReminderDoc {
    /// The subject the mail has.
    pub fn effective_subject(&self) -> String {
        self.subject
            .clone()
            .unwrap_or_else(|| default_subject(&self.event))
    }

    /// The text the mail has.
    pub fn effective_content(&self) -> String {
        self.content
            .clone()
            .unwrap_or_else(|| default_content(&self.event))
    }

    /// The id of the mail request for this scheduling of the reminder: the same however often
    /// it is published (so the email-sender mails it once), new when it is snoozed.
    pub fn message_id(&self) -> String {
        format!("reminder-{}-{}", self.id, self.send_at.timestamp_millis())
    }
}

/// Which of a user's reminders to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub event_id: Option<ObjectId>,
    /// The last item of the previous page: its creation time and id.
    pub after: Option<(bson::DateTime, ObjectId)>,
}

/// An owner's change to a scheduled reminder; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct ReminderPatch {
    pub send_at: Option<DateTime<Utc>>,
    /// `Some(None)` makes the reminder absolute.
    pub remind_before_minutes: Option<Option<i64>>,
    pub to_email: Option<EmailAddress>,
    pub subject: Option<String>,
    pub content: Option<String>,
}

impl Store {
    pub async fn insert(&self, reminder: &ReminderDoc) -> anyhow::Result<()> {
        self.reminders
            .insert_one(reminder)
            .await
            .context("storing a reminder")?;
        Ok(())
    }

    /// The reminder `id` if `user_id` owns it.
    pub async fn owned(&self, user_id: &str, id: ObjectId) -> anyhow::Result<Option<ReminderDoc>> {
        self.reminders
            .find_one(doc! { "_id": id, "user_id": user_id })
            .await
            .context("reading a reminder")
    }

    pub async fn reminder(&self, id: ObjectId) -> anyhow::Result<Option<ReminderDoc>> {
        self.reminders
            .find_one(doc! { "_id": id })
            .await
            .context("reading a reminder")
    }

    /// A page of a user's reminders, newest first.
    pub async fn list(
        &self,
        user_id: &str,
        filter: &ListFilter,
        limit: i64,
    ) -> anyhow::Result<Vec<ReminderDoc>> {
        let mut query = doc! { "user_id": user_id };
        if let Some(status) = filter.status {
            query.insert("status", status.as_str());
        }
        if let Some(event_id) = filter.event_id {
            query.insert("event_id", event_id);
        }
        if let Some((created_at, id)) = filter.after {
            query.insert(
                "$or",
                vec![
                    doc! { "created_at": { "$lt": created_at } },
                    doc! { "created_at": created_at, "_id": { "$lt": id } },
                ],
            );
        }
        self.reminders
            .find(query)
            .sort(doc! { "created_at": -1, "_id": -1 })
            .limit(limit)
            .await
            .context("listing reminders")?
            .try_collect()
            .await
            .context("listing reminders")
    }

    /// Applies `changes` to `id` if it is still in `status`; returns whether it was.
    pub async fn update_if(
        &self,
        id: ObjectId,
        status: Status,
        changes: Document,
    ) -> anyhow::Result<bool> {
        let mut set = changes;
        set.insert("updated_at", bson::DateTime::now());
        let result = self
            .reminders
            .update_one(
                doc! { "_id": id, "status": status.as_str() },
                doc! { "$set": set },
            )
            .await
            .context("updating a reminder")?;
        Ok(result.matched_count == 1)
    }

    /// Cancels the scheduled reminders of a deleted event; returns how many.
    pub async fn cancel_for_event(&self, event_id: ObjectId) -> anyhow::Result<u64> {
        let result = self
            .reminders
            .update_many(
                doc! { "event_id": event_id, "status": Status::Scheduled.as_str() },
                doc! { "$set": { "status": Status::Cancelled.as_str(), "updated_at": bson::DateTime::now() } },
            )
            .await
            .context("cancelling a deleted event's reminders")?;
        Ok(result.modified_count)
    }

    /// Reminders of `event_id` not yet finished that know an older version of it.
    pub async fn pending_for_event(
        &self,
        event_id: ObjectId,
        version: i64,
    ) -> anyhow::Result<Vec<ReminderDoc>> {
        self.reminders
            .find(doc! {
                "event_id": event_id,
                "status": { "$in": [Status::Scheduled.as_str(), Status::Queued.as_str()] },
                "event_version": { "$lt": version },
            })
            .await
            .context("reading an event's reminders")?
            .try_collect()
            .await
            .context("reading an event's reminders")
    }

    /// Forgets a deleted account's reminders.
    pub async fn forget_user(&self, user_id: &str) -> anyhow::Result<u64> {
        let result = self
            .reminders
            .delete_many(doc! { "user_id": user_id })
            .await
            .context("deleting a user's reminders")?;
        Ok(result.deleted_count)
    }
}
