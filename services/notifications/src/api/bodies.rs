//! What the API reads: request bodies derive `Deserialize` (read by `JsonBody`, which names the
//! failing field) and `Object` (documented); the domain types decide what is allowed.

use common::time::Timestamp;
use poem_openapi::Object;
use serde::Deserialize;

/// A new reminder. Give exactly one of `send_at`, `remind_before_minutes` and `wall_clock`.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct ReminderIn {
    /// The event to be reminded of (24-hex id).
    #[oai(validator(pattern = r"^[0-9a-fA-F]{24}$"))]
    pub event_id: String,
    /// When to send it (absolute; must be in the future).
    #[oai(nullable)]
    pub send_at: Option<Timestamp>,
    /// How long before the event's start to send it (follows the event when it moves);
    /// 0 to 525,600.
    #[oai(nullable, validator(minimum(value = "0"), maximum(value = "525600")))]
    pub remind_before_minutes: Option<i64>,
    /// A time on my clock (the zone of my profile), days before the event; follows the event
    /// when it moves and my zone when it changes.
    #[oai(nullable)]
    pub wall_clock: Option<WallClockIn>,
    /// A verified address of the account. Default: the primary address.
    #[oai(nullable, validator(max_length = 254))]
    pub to_email: Option<String>,
    /// The mail's subject, 1 to 200 characters. Default: made from the event.
    #[oai(
        nullable,
        validator(
            min_length = 1,
            max_length = 200,
            pattern = "^[^\u{0}-\u{1f}\u{7f}-\u{9f}]*[^\\s\u{0}-\u{1f}\u{7f}-\u{9f}][^\u{0}-\u{1f}\u{7f}-\u{9f}]*$"
        )
    )]
    pub subject: Option<String>,
    /// The mail's text, 1 to 4,000 characters. Default: the event's title, local start time
    /// and place.
    #[oai(
        nullable,
        validator(min_length = 1, max_length = 4000, pattern = r"\S")
    )]
    pub content: Option<String>,
}

/// Changes to a scheduled reminder; absent fields stay. `send_at` makes it absolute,
/// `remind_before_minutes` relative to the event's start, `wall_clock` a time on my clock (one
/// of them).
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct ReminderPatchIn {
    #[oai(nullable)]
    pub send_at: Option<Timestamp>,
    #[oai(nullable, validator(minimum(value = "0"), maximum(value = "525600")))]
    pub remind_before_minutes: Option<i64>,
    #[oai(nullable)]
    pub wall_clock: Option<WallClockIn>,
    #[oai(nullable, validator(max_length = 254))]
    pub to_email: Option<String>,
    #[oai(
        nullable,
        validator(
            min_length = 1,
            max_length = 200,
            pattern = "^[^\u{0}-\u{1f}\u{7f}-\u{9f}]*[^\\s\u{0}-\u{1f}\u{7f}-\u{9f}][^\u{0}-\u{1f}\u{7f}-\u{9f}]*$"
        )
    )]
    pub subject: Option<String>,
    #[oai(
        nullable,
        validator(min_length = 1, max_length = 4000, pattern = r"\S")
    )]
    pub content: Option<String>,
}

/// "`days_before` days before the event at `at`", on the owner's clock. A time the clock skips
/// that day (it jumps forward) is the first instant after the jump; one it repeats, the first
/// of the two.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct WallClockIn {
    /// 0 (the day the event starts, on my clock) to 365.
    #[oai(validator(minimum(value = "0"), maximum(value = "365")))]
    pub days_before: i64,
    /// `HH:MM`, 24-hour.
    #[oai(validator(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub at: String,
}

/// How far to push a reminder.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct SnoozeIn {
    /// Minutes, 1 to 43,200 (30 days).
    #[oai(validator(minimum(value = "1"), maximum(value = "43200")))]
    pub minutes: i64,
}
