//! What the scheduler reads ahead: the reminders due in one minute, found by an equality on
//! their due minute (a scalar the local store filters inside PostgreSQL, and MongoDB with an
//! index), and once at start whatever fell due while no scheduler ran.

use chrono::{DateTime, Utc};
use common::store::StoreResult;
use mongodb::bson::{self, doc};

use super::{ReminderDoc, Store};
use crate::domain::{Minute, Status};

impl Store {
    /// The scheduled reminders due within `minute`.
    pub async fn due_within(&self, minute: Minute) -> StoreResult<Vec<ReminderDoc>> {
        let filter = doc! {
            "due_minute": minute.number(),
            "status": Status::Scheduled.as_str(),
        };
        self.all("reading a minute of reminders", &self.reminders, filter)
            .await
    }

    /// Up to `limit` scheduled reminders due at `now` or earlier, oldest first: a range, for
    /// the catch-up at start.
    pub async fn overdue(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<ReminderDoc>> {
        let filter = doc! {
            "status": Status::Scheduled.as_str(),
            "send_at": { "$lte": bson::DateTime::from_chrono(now) },
        };
        self.first(
            "finding overdue reminders",
            &self.reminders,
            filter,
            "send_at",
            limit,
        )
        .await
    }
}
