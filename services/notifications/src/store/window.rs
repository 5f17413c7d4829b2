//! What the scheduler reads ahead: the reminders due in one minute, found by an equality on
//! their due minute (a scalar the local store filters inside PostgreSQL, and MongoDB with an
//! index), and once at start whatever fell due while no scheduler ran.

use chrono::{DateTime, Utc};
use common::store::StoreResult;
use mongodb::bson::{self, doc};

use super::{ReminderDoc, Store};

/// The longest a start-up catch-up read may take.
pub const CATCH_UP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10 * 60);
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
    /// the catch-up at start, which may wait up to [`CATCH_UP_DEADLINE`] (the local store
    /// reads every reminder for it: seconds at 100,000).
    pub async fn overdue(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<ReminderDoc>> {
        let filter = doc! {
            "status": Status::Scheduled.as_str(),
            "send_at": { "$lte": bson::DateTime::from_chrono(now) },
        };
        self.first(
            self.deadline.at_least(CATCH_UP_DEADLINE),
            "finding overdue reminders",
            &self.reminders,
            filter,
            "send_at",
            limit,
        )
        .await
    }
}
