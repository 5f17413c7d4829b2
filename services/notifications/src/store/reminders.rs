//! Reminders: created, listed and changed by their owners; moved, cancelled and completed by
//! what other services say.

use common::{
    domain::{EmailAddress, EventId, ReminderId, UserId, ids::hex},
    messages::EventSummary,
    page::{Cursor, Page},
    store::StoreResult,
};
use futures::TryStreamExt;
use mongodb::bson::{self, Document, doc};
use serde::{Deserialize, Serialize};

use super::{Store, WallClockDoc};
use crate::domain::{Minute, Status, default_content, default_subject};

/// A reminder as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderDoc {
    #[serde(rename = "_id")]
    pub id: ReminderId,
    /// Its owner.
    #[serde(with = "hex")]
    pub user_id: UserId,
    pub event_id: EventId,
    /// The event as last heard of, and at which version.
    pub event: EventSummary,
    pub event_version: i64,
    pub to_email: EmailAddress,
    /// The owner's subject; none means one made from the event when it is sent.
    pub subject: Option<String>,
    /// The owner's text; none means one made from the event when it is sent.
    pub content: Option<String>,
    pub send_at: bson::DateTime,
    /// The minute the scheduler reads it ahead in ([`Minute::to_look_in`]); written with
    /// `send_at` by [`due_fields`].
    #[serde(default)]
    pub due_minute: i64,
    /// The part of its due minute it is queued with, when the minute is crowded: see
    /// [`due_shard`]. None for reminders stored before there were parts.
    #[serde(default)]
    pub due_shard: Option<i64>,
    /// Set for reminders that follow their event's start.
    pub remind_before_minutes: Option<i64>,
    /// Set for reminders at a time on their owner's clock, days before their event.
    #[serde(default)]
    pub wall_clock: Option<WallClockDoc>,
    pub status: Status,
    /// How many times it was handed to the email queue.
    pub attempts: i64,
    /// While queued: when to stop waiting for the email-sender's result and publish again.
    pub lease_until: Option<bson::DateTime>,
    /// The request id of the scheduling pass that last queued it, which the email-sender's
    /// result for that mail request carries back.
    #[serde(default)]
    pub queued_in: Option<String>,
    pub sent_at: Option<bson::DateTime>,
    pub last_error: Option<String>,
    pub created_at: bson::DateTime,
    pub updated_at: bson::DateTime,
}

/// How many parts a crowded due minute is queued in.
pub const DUE_SHARDS: u8 = 16;

/// The part of its due minute reminder `id` is queued with: its id's last byte (the low byte
/// of the ObjectId's counter, so consecutive ids take turns), modulo [`DUE_SHARDS`].
pub fn due_shard(id: ReminderId) -> i64 {
    i64::from(id.object_id().bytes()[11] % DUE_SHARDS)
}

/// The stored fields that say when a reminder goes out: its time and the minute the scheduler
/// looks for it in.
pub fn due_fields(send_at: chrono::DateTime<chrono::Utc>) -> Document {
    doc! {
        "send_at": bson::DateTime::from_chrono(send_at),
        "due_minute": Minute::to_look_in(send_at, chrono::Utc::now()).number(),
    }
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

    /// The scheduling a [`ReminderDoc::message_id`] names: its reminder's `send_at`.
    pub fn scheduled_at(message_id: &str) -> Option<bson::DateTime> {
        let (_, millis) = message_id.strip_prefix("reminder-")?.rsplit_once('-')?;
        millis.parse().ok().map(bson::DateTime::from_millis)
    }

    /// The cursor that resumes a list after this reminder.
    pub fn cursor(&self) -> ListCursor {
        Cursor::new(self.created_at.to_chrono(), self.id.to_string())
    }
}

/// Where a page of a user's reminders ended: the last one's creation time and id.
pub type ListCursor = Cursor<chrono::DateTime<chrono::Utc>>;

/// Which of a user's reminders to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub event_id: Option<EventId>,
    /// The last item of the previous page.
    pub after: Option<(bson::DateTime, ReminderId)>,
}

impl Store {
    pub async fn insert(&self, reminder: &ReminderDoc) -> StoreResult<()> {
        let (reminders, reminder) = (self.reminders.clone(), reminder.clone());
        self.deadline
            .run("storing a reminder", async move {
                reminders.insert_one(reminder).await.map(drop)
            })
            .await
    }

    /// The reminder `id` if `user_id` owns it.
    pub async fn owned(&self, user_id: UserId, id: ReminderId) -> StoreResult<Option<ReminderDoc>> {
        self.find_one(doc! { "_id": id, "user_id": user_id.to_string() })
            .await
    }

    pub async fn reminder(&self, id: ReminderId) -> StoreResult<Option<ReminderDoc>> {
        self.find_one(doc! { "_id": id }).await
    }

    pub(super) async fn find_one(&self, filter: Document) -> StoreResult<Option<ReminderDoc>> {
        let reminders = self.reminders.clone();
        self.deadline
            .run("reading a reminder", async move {
                reminders.find_one(filter).await
            })
            .await
    }

    /// A page of a user's reminders, newest first. Read by an equality on the owner and ordered
    /// here: one user's reminders are few, everyone's are many.
    pub async fn list(
        &self,
        user_id: UserId,
        filter: &ListFilter,
        limit: u32,
    ) -> StoreResult<Page<ReminderDoc>> {
        let mut query = doc! { "user_id": user_id.to_string() };
        if let Some(status) = filter.status {
            query.insert("status", status.as_str());
        }
        if let Some(event_id) = filter.event_id {
            query.insert("event_id", event_id);
        }
        let reminders = self.reminders.clone();
        let mut mine: Vec<ReminderDoc> = self
            .deadline
            .run("listing reminders", async move {
                reminders.find(query).await?.try_collect().await
            })
            .await?;
        mine.sort_by_key(|reminder| std::cmp::Reverse((reminder.created_at, reminder.id)));
        if let Some(after) = filter.after {
            mine.retain(|reminder| (reminder.created_at, reminder.id) < after);
        }
        mine.truncate(Page::<ReminderDoc>::read_size(limit));
        Ok(Page::from_read(mine, limit))
    }

    /// Applies `changes` to `reminder` if it is still as it was read (in its state, and not
    /// written since: every write sets `updated_at`); returns whether it was.
    pub(super) async fn update_if_unchanged(
        &self,
        reminder: &ReminderDoc,
        changes: Document,
    ) -> StoreResult<bool> {
        let filter = doc! {
            "_id": reminder.id,
            "status": reminder.status.as_str(),
            "updated_at": reminder.updated_at,
        };
        self.update_where("updating a reminder", filter, changes)
            .await
    }

    /// Sets `changes` (and `updated_at`) on the one reminder matching `filter`; returns whether
    /// one did.
    pub(super) async fn update_where(
        &self,
        what: &'static str,
        filter: Document,
        mut changes: Document,
    ) -> StoreResult<bool> {
        changes.insert("updated_at", bson::DateTime::now());
        let reminders = self.reminders.clone();
        self.deadline
            .run(what, async move {
                reminders
                    .update_one(filter, doc! { "$set": changes })
                    .await
                    .map(|result| result.matched_count == 1)
            })
            .await
    }

    /// Cancels the scheduled and queued reminders of a deleted event; returns how many.
    pub async fn cancel_for_event(&self, event_id: EventId) -> StoreResult<u64> {
        let filter = doc! {
            "event_id": event_id,
            "status": { "$in": [Status::Scheduled.as_str(), Status::Queued.as_str()] },
        };
        let cancel = doc! { "status": Status::Cancelled.as_str() };
        self.update_all("cancelling a deleted event's reminders", filter, cancel)
            .await
    }

    /// The reminders of `event_id` waiting for the email-sender.
    pub async fn queued_for_event(&self, event_id: EventId) -> StoreResult<Vec<ReminderDoc>> {
        self.of_event(event_id, Status::Queued).await
    }

    /// The cancelled reminders of `event_id` that were handed to the email queue at least once.
    pub async fn cancelled_after_queueing(
        &self,
        event_id: EventId,
    ) -> StoreResult<Vec<ReminderDoc>> {
        let cancelled = self.of_event(event_id, Status::Cancelled).await?;
        Ok(cancelled.into_iter().filter(|r| r.attempts > 0).collect())
    }

    async fn of_event(&self, event_id: EventId, status: Status) -> StoreResult<Vec<ReminderDoc>> {
        let filter = doc! { "event_id": event_id, "status": status.as_str() };
        self.find_all("reading an event's reminders", filter).await
    }

    /// Reminders of `event_id` still to go or already sent: their owners follow the event.
    pub async fn following_event(&self, event_id: EventId) -> StoreResult<Vec<ReminderDoc>> {
        let filter = doc! {
            "event_id": event_id,
            "status": {
                "$in": [Status::Scheduled.as_str(), Status::Queued.as_str(), Status::Sent.as_str()],
            },
        };
        self.find_all("reading an event's reminders", filter).await
    }

    /// Reminders of `event_id` not yet finished that know an older version of it.
    pub async fn pending_for_event(
        &self,
        event_id: EventId,
        version: i64,
    ) -> StoreResult<Vec<ReminderDoc>> {
        let filter = doc! {
            "event_id": event_id,
            "status": { "$in": [Status::Scheduled.as_str(), Status::Queued.as_str()] },
            "event_version": { "$lt": version },
        };
        self.find_all("reading an event's reminders", filter).await
    }

    /// `user_id`'s scheduled reminders set at a time on their clock.
    pub async fn scheduled_on_the_clock_of(
        &self,
        user_id: UserId,
    ) -> StoreResult<Vec<ReminderDoc>> {
        let filter = doc! { "user_id": user_id.to_string(), "status": Status::Scheduled.as_str() };
        let scheduled = self
            .find_all("reading a user's scheduled reminders", filter)
            .await?;
        Ok(scheduled
            .into_iter()
            .filter(|reminder| reminder.wall_clock.is_some())
            .collect())
    }

    /// `user_id`'s reminders that are not cancelled, read by an equality on the owner.
    pub async fn live_reminders_of(&self, user_id: UserId) -> StoreResult<Vec<ReminderDoc>> {
        let filter = doc! { "user_id": user_id.to_string() };
        let all = self.find_all("reading a user's reminders", filter).await?;
        Ok(all
            .into_iter()
            .filter(|reminder| reminder.status != Status::Cancelled)
            .collect())
    }

    /// Every reminder matching `filter`.
    async fn find_all(
        &self,
        what: &'static str,
        filter: Document,
    ) -> StoreResult<Vec<ReminderDoc>> {
        let reminders = self.reminders.clone();
        self.deadline
            .run(what, async move {
                reminders.find(filter).await?.try_collect().await
            })
            .await
    }

    /// Moves `user_id`'s reminders addressed to `removed` to `primary`, except one in the
    /// email queue (its mail was requested already); returns how many.
    pub async fn readdress(
        &self,
        user_id: UserId,
        removed: &EmailAddress,
        primary: &EmailAddress,
    ) -> StoreResult<u64> {
        let filter = doc! {
            "user_id": user_id.to_string(),
            "to_email": removed.as_str(),
            "status": { "$ne": Status::Queued.as_str() },
        };
        let readdress = doc! { "to_email": primary.as_str() };
        self.update_all("moving reminders to the primary address", filter, readdress)
            .await
    }

    /// Sets `changes` (and `updated_at`) on every reminder matching `filter`; returns how many
    /// changed.
    async fn update_all(
        &self,
        what: &'static str,
        filter: Document,
        mut changes: Document,
    ) -> StoreResult<u64> {
        changes.insert("updated_at", bson::DateTime::now());
        let reminders = self.reminders.clone();
        self.deadline
            .run(what, async move {
                reminders
                    .update_many(filter, doc! { "$set": changes })
                    .await
                    .map(|result| result.modified_count)
            })
            .await
    }

    /// Forgets a deleted account's reminders.
    pub async fn forget_user(&self, user_id: UserId) -> StoreResult<u64> {
        let reminders = self.reminders.clone();
        self.deadline
            .run("deleting a user's reminders", async move {
                reminders
                    .delete_many(doc! { "user_id": user_id.to_string() })
                    .await
                    .map(|result| result.deleted_count)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_request_names_the_scheduling_it_was_made_for() {
        let send_at = bson::DateTime::from_millis(1_796_194_860_300);
        let id = ReminderId::new();
        let message_id = format!("reminder-{id}-{}", send_at.timestamp_millis());
        assert_eq!(ReminderDoc::scheduled_at(&message_id), Some(send_at));
        assert_eq!(ReminderDoc::scheduled_at("welcome-1"), None);
        assert_eq!(ReminderDoc::scheduled_at("reminder-x-soon"), None);
    }
}
