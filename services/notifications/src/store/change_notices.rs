//! Change notices waiting for their event to settle: one per follower and event, pushed back by
//! each change, mailed once the event has been left alone for the settle time (the scheduler
//! holds them on its timers, read ahead by due minute like reminders). Mailed, a notice is
//! deleted, so the collection holds only what is still to go.

use chrono::{DateTime, Utc};
use common::{
    domain::{EmailAddress, EventId, UserId, ids::hex},
    messages::EventSummary,
    store::StoreResult,
};
use futures::TryStreamExt;
use mongodb::bson::{self, doc};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::domain::Minute;

/// What one follower is to be told of one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeNoticeDoc {
    /// `<user id>:<event id>`.
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(with = "hex")]
    pub user_id: UserId,
    /// The event as the latest change left it.
    pub event: EventSummary,
    pub deleted: bool,
    /// When the latest change was made.
    pub changed_at: bson::DateTime,
    /// The settle time after it.
    pub due_at: bson::DateTime,
    /// The minute `due_at` falls in, what the scheduler reads ahead by.
    pub due_minute: i64,
    /// Where it goes if no primary address of the user was announced.
    #[serde(default)]
    pub fallback_to: Option<EmailAddress>,
}

impl ChangeNoticeDoc {
    /// A notice to `user_id` of `event` as changed (or deleted) at `changed_at`, due once
    /// `settle` has passed without another change.
    pub fn new(
        user_id: UserId,
        event: &EventSummary,
        deleted: bool,
        changed_at: DateTime<Utc>,
        settle: chrono::Duration,
    ) -> Self {
        let due_at = changed_at + settle;
        Self {
            id: Self::id_of(user_id, event.id),
            user_id,
            event: event.clone(),
            deleted,
            changed_at: bson::DateTime::from_chrono(changed_at),
            due_at: bson::DateTime::from_chrono(due_at),
            due_minute: Minute::to_look_in(due_at, Utc::now()).number(),
            fallback_to: None,
        }
    }

    /// The same, to `address` if no primary address of the user was announced.
    pub fn or_to(self, address: Option<EmailAddress>) -> Self {
        Self {
            fallback_to: address,
            ..self
        }
    }

    fn id_of(user_id: UserId, event_id: EventId) -> String {
        format!("{user_id}:{event_id}")
    }

    /// The mail's idempotency key: one per settled state, so a notice published by two
    /// schedulers is mailed once, and a later change gets a mail of its own.
    pub fn message_id(&self) -> String {
        format!("change-{}-{}", self.id, self.changed_at.timestamp_millis())
    }
}

impl Store {
    /// Records `notice` unless a later change of the same event is recorded for its follower;
    /// returns whether it was.
    pub async fn settle_change(&self, notice: &ChangeNoticeDoc) -> StoreResult<bool> {
        let (id, changed_at) = (notice.id.clone(), notice.changed_at);
        let (what, notices) = ("recording a change notice", &self.change_notices);
        self.write_if_newer(what, notices, id, changed_at, notice.clone())
            .await
    }

    /// The notices due within `minute` (an equality, as the read-ahead's every query).
    pub async fn change_notices_due_within(
        &self,
        minute: Minute,
    ) -> StoreResult<Vec<ChangeNoticeDoc>> {
        self.find_notices(doc! { "due_minute": minute.number() })
            .await
    }

    /// Every notice due by `now`: for a scheduler starting, once.
    pub async fn change_notices_overdue(
        &self,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ChangeNoticeDoc>> {
        self.find_notices(doc! { "due_at": { "$lte": bson::DateTime::from_chrono(now) } })
            .await
    }

    /// Notice `id` as it is now, if still to go.
    pub async fn change_notice(&self, id: &str) -> StoreResult<Option<ChangeNoticeDoc>> {
        let (notices, id) = (self.change_notices.clone(), id.to_owned());
        self.deadline
            .run("reading a change notice", async move {
                notices.find_one(doc! { "_id": id }).await
            })
            .await
    }

    /// Removes `notice` once mailed (or not to be), unless a later change replaced it.
    pub async fn change_notice_done(&self, notice: &ChangeNoticeDoc) -> StoreResult<bool> {
        let notices = self.change_notices.clone();
        let filter = doc! { "_id": &notice.id, "changed_at": notice.changed_at };
        self.deadline
            .run("removing a change notice", async move {
                notices
                    .delete_one(filter)
                    .await
                    .map(|result| result.deleted_count == 1)
            })
            .await
    }

    /// Forgets a deleted user's notices.
    pub async fn forget_change_notices(&self, user_id: UserId) -> StoreResult<u64> {
        let notices = self.change_notices.clone();
        self.deadline
            .run("forgetting change notices", async move {
                notices
                    .delete_many(doc! { "user_id": user_id.to_string() })
                    .await
                    .map(|result| result.deleted_count)
            })
            .await
    }

    async fn find_notices(&self, filter: bson::Document) -> StoreResult<Vec<ChangeNoticeDoc>> {
        let notices = self.change_notices.clone();
        self.deadline
            .run("reading change notices", async move {
                notices.find(filter).await?.try_collect().await
            })
            .await
    }
}
