//! Reminder values: each parses, so a reminder breaking a rule cannot be built.

mod minute;
mod reminder;
mod text;
mod transition;

pub use minute::Minute;
pub use reminder::{RemindBefore, SnoozeMinutes, Status};
pub use text::{Content, Subject, default_content, default_subject};
pub use transition::{Edit, Transition};
