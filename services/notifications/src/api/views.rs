//! What the API answers with.

use common::{page::Page, time::Timestamp};
use poem_openapi::Object;

use crate::{domain::Status, store::ReminderDoc};

/// A reminder.
#[derive(Debug, Object)]
pub struct ReminderOut {
    pub id: String,
    pub event_id: String,
    pub to_email: String,
    pub subject: String,
    pub content: String,
    pub send_at: Timestamp,
    /// Set when the reminder follows its event's start.
    #[oai(nullable)]
    pub remind_before_minutes: Option<i64>,
    /// Set when the reminder is at a time on its owner's clock.
    #[oai(nullable)]
    pub wall_clock: Option<WallClockOut>,
    pub status: Status,
    /// How many times it was handed to the email queue.
    pub attempts: i64,
    #[oai(nullable)]
    pub sent_at: Option<Timestamp>,
    /// Why it failed, when it did.
    #[oai(nullable)]
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<&ReminderDoc> for ReminderOut {
    fn from(reminder: &ReminderDoc) -> Self {
        Self {
            id: reminder.id.to_string(),
            event_id: reminder.event_id.to_string(),
            to_email: reminder.to_email.to_string(),
            subject: reminder.effective_subject(),
            content: reminder.effective_content(),
            send_at: Timestamp(reminder.send_at.to_chrono()),
            remind_before_minutes: reminder.remind_before_minutes,
            wall_clock: reminder.wall_clock.as_ref().map(|stored| WallClockOut {
                days_before: stored.days_before,
                at: stored.at.clone(),
                timezone: stored.timezone.clone(),
            }),
            status: reminder.status,
            attempts: reminder.attempts,
            sent_at: reminder.sent_at.map(|t| Timestamp(t.to_chrono())),
            last_error: reminder.last_error.clone(),
            created_at: Timestamp(reminder.created_at.to_chrono()),
            updated_at: Timestamp(reminder.updated_at.to_chrono()),
        }
    }
}

/// "`days_before` days before the event at `at`" on the clock of `timezone`.
#[derive(Debug, Object)]
pub struct WallClockOut {
    pub days_before: i64,
    /// `HH:MM`.
    pub at: String,
    /// The owner's zone it was worked out in.
    pub timezone: String,
}

/// One page of reminders.
#[derive(Debug, Object)]
pub struct ReminderPage {
    pub items: Vec<ReminderOut>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

impl ReminderPage {
    /// The page, continued after its last reminder by `cursor_of`.
    pub fn from_page(
        page: &Page<ReminderDoc>,
        cursor_of: impl FnOnce(&ReminderDoc) -> String,
    ) -> Self {
        Self {
            items: page.items.iter().map(ReminderOut::from).collect(),
            next_cursor: page.next_cursor(cursor_of),
        }
    }
}
