//! What the API reads and writes. Request bodies derive `Deserialize` (read by `JsonBody`, which
//! names the failing field) and `Object` (documented); the domain types decide what is allowed.

use common::time::Timestamp;
use poem_openapi::{Object, Tags};
use serde::Deserialize;

use crate::{domain::Status, store::ReminderDoc};

#[derive(Tags)]
pub enum Tag {
    /// Email reminders of events.
    Notifications,
}

/// A new reminder. Give exactly one of `send_at` and `remind_before_minutes`.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct ReminderIn {
    /// The event to be reminded of (24-hex id).
    pub event_id: String,
    /// When to send it (absolute; must be in the future).
    pub send_at: Option<Timestamp>,
    /// How long before the event's start to send it (follows the event when it moves);
    /// 0 to 525,600.
    pub remind_before_minutes: Option<i64>,
    /// A verified address of the account. Default: the primary address.
    pub to_email: Option<String>,
    /// The mail's subject, 1 to 200 characters. Default: made from the event.
    pub subject: Option<String>,
    /// The mail's text, 1 to 4,000 characters. Default: the event's title, local start time
    /// and place.
    pub content: Option<String>,
}

/// Changes to a scheduled reminder; absent fields stay. `send_at` makes it absolute,
/// `remind_before_minutes` relative (not both).
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct ReminderPatchIn {
    pub send_at: Option<Timestamp>,
    pub remind_before_minutes: Option<i64>,
    pub to_email: Option<String>,
    pub subject: Option<String>,
    pub content: Option<String>,
}

/// How far to push a reminder.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct SnoozeIn {
    /// Minutes, 1 to 43,200 (30 days).
    pub minutes: i64,
}

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
    pub remind_before_minutes: Option<i64>,
    pub status: Status,
    /// How many times it was handed to the email queue.
    pub attempts: i64,
    pub sent_at: Option<Timestamp>,
    /// Why it failed, when it did.
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<&ReminderDoc> for ReminderOut {
    fn from(reminder: &ReminderDoc) -> Self {
        Self {
            id: reminder.id.to_hex(),
            event_id: reminder.event_id.to_hex(),
            to_email: reminder.to_email.to_string(),
            subject: reminder.effective_subject(),
            content: reminder.effective_content(),
            send_at: Timestamp(reminder.send_at.to_chrono()),
            remind_before_minutes: reminder.remind_before_minutes,
            status: reminder.status,
            attempts: reminder.attempts,
            sent_at: reminder.sent_at.map(|t| Timestamp(t.to_chrono())),
            last_error: reminder.last_error.clone(),
            created_at: Timestamp(reminder.created_at.to_chrono()),
            updated_at: Timestamp(reminder.updated_at.to_chrono()),
        }
    }
}

/// One page of reminders.
#[derive(Debug, Object)]
pub struct ReminderPage {
    pub items: Vec<ReminderOut>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}
