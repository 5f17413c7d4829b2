//! When a reminder goes out: parsing the two ways of saying it, and the rule that it must be in
//! the future.

use chrono::{DateTime, Utc};
use common::{problem::FieldErrors, time::Timestamp};

use crate::domain::RemindBefore;

/// How a client said when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    At(DateTime<Utc>),
    Before(RemindBefore),
}

/// Whether a request must say when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needed {
    /// A new reminder: saying neither is an error.
    Always,
    /// A change: saying neither leaves the time alone.
    IfChanging,
}

impl Timing {
    /// Exactly one of the two, checked.
    pub fn parse(
        send_at: Option<Timestamp>,
        remind_before_minutes: Option<i64>,
        needed: Needed,
        errors: &mut FieldErrors,
    ) -> Option<Self> {
        match (send_at, remind_before_minutes) {
            (Some(_), Some(_)) => {
                errors.add(
                    "send_at",
                    "give either send_at or remind_before_minutes, not both",
                );
                None
            }
            (None, None) => {
                if needed == Needed::Always {
                    errors.add("send_at", "give send_at or remind_before_minutes");
                }
                None
            }
            (Some(at), None) => Some(Self::At(at.0)),
            (None, Some(minutes)) => errors
                .check("remind_before_minutes", RemindBefore::parse(minutes))
                .map(Self::Before),
        }
    }

    /// The instant to send at, for an event starting at `starts_at`, if it is after `now`.
    pub fn send_at(
        self,
        starts_at: DateTime<Utc>,
        now: DateTime<Utc>,
        errors: &mut FieldErrors,
    ) -> Option<DateTime<Utc>> {
        let (at, field, why) = match self {
            Self::At(at) => (at, "send_at", "must be in the future".to_owned()),
            Self::Before(before) => (
                starts_at - before.duration(),
                "remind_before_minutes",
                format!(
                    "would fall in the past: the event starts at {}",
                    Timestamp(starts_at).to_rfc3339()
                ),
            ),
        };
        if at <= now {
            errors.add(field, why);
            return None;
        }
        Some(at)
    }

    /// The minutes to store for a relative reminder.
    pub fn minutes(self) -> Option<i64> {
        match self {
            Self::At(_) => None,
            Self::Before(before) => Some(before.minutes()),
        }
    }
}
