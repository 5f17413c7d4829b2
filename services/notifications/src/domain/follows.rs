//! What a reminder's time follows: nothing (a fixed time), its event's start by some minutes,
//! or a wall-clock time before it.

use chrono::{DateTime, Utc};

use super::{RemindBefore, WallClock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follows {
    /// A fixed time.
    Nothing,
    /// Minutes before the event starts.
    Start(RemindBefore),
    /// A time on the owner's clock, days before the event.
    WallClock(WallClock),
}

impl Follows {
    /// When it goes out for an event starting at `starts_at`; `None` for a fixed time.
    pub fn send_at(self, starts_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Nothing => None,
            Self::Start(before) => Some(starts_at - before.duration()),
            Self::WallClock(wall_clock) => Some(wall_clock.send_at(starts_at)),
        }
    }
}
