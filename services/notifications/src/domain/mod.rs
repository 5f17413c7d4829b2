//! Reminder values: each parses, so a reminder breaking a rule cannot be built.

mod follows;
mod minute;
mod reminder;
mod text;
mod transition;
mod wall_clock;

pub use follows::Follows;
pub use minute::Minute;
pub use reminder::{RemindBefore, SnoozeMinutes, Status};
pub use text::{Content, Subject, default_content, default_subject};
pub use transition::{Edit, Transition};
pub use wall_clock::{DaysBefore, LocalTime, WallClock, tomorrow_at};
