//! What the API reads: request bodies derive `Deserialize` (read by `JsonBody`, which names the
//! failing field) and `Object` (documented); the domain types decide what is allowed.

use common::time::Timestamp;
use poem_openapi::Object;
use serde::Deserialize;

/// A new reminder. Give exactly one of `send_at` and `remind_before_minutes`.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct ReminderIn {
    /// The event to be reminded of (24-hex id).
    pub event_id: String,
    /// When to send it (absolute; must be in the future).
    #[oai(nullable)]
    pub send_at: Option<Timestamp>,
    /// How long before the event's start to send it (follows the event when it moves);
    /// 0 to 525,600.
    #[oai(nullable)]
    pub remind_before_minutes: Option<i64>,
    /// A verified address of the account. Default: the primary address.
    #[oai(nullable)]
    pub to_email: Option<String>,
    /// The mail's subject, 1 to 200 characters. Default: made from the event.
    #[oai(nullable)]
    pub subject: Option<String>,
    /// The mail's text, 1 to 4,000 characters. Default: the event's title, local start time
    /// and place.
    #[oai(nullable)]
    pub content: Option<String>,
}

/// Changes to a scheduled reminder; absent fields stay. `send_at` makes it absolute,
/// `remind_before_minutes` relative (not both).
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct ReminderPatchIn {
    #[oai(nullable)]
    pub send_at: Option<Timestamp>,
    #[oai(nullable)]
    pub remind_before_minutes: Option<i64>,
    #[oai(nullable)]
    pub to_email: Option<String>,
    #[oai(nullable)]
    pub subject: Option<String>,
    #[oai(nullable)]
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
