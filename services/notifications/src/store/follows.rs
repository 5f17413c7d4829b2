//! How a reminder's rule for its time is stored: `remind_before_minutes` for minutes before its
//! event's start, `wall_clock` for a time on its owner's clock, neither for a fixed time.

use common::domain::TimeZone;
use mongodb::bson::{self, Bson, Document, doc};
use serde::{Deserialize, Serialize};

use super::ReminderDoc;
use crate::domain::{DaysBefore, Follows, LocalTime, RemindBefore, WallClock};

/// A wall-clock rule as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WallClockDoc {
    pub days_before: i64,
    /// `HH:MM`.
    pub at: String,
    /// The owner's zone when the time was last worked out.
    pub timezone: String,
    /// When the owner chose that zone, as far as this service knows: an announcement of an
    /// older change is stale.
    pub zone_as_of: bson::DateTime,
}

impl ReminderDoc {
    /// What its time follows. A stored rule that no longer parses (written by hand) is
    /// reported and read as a fixed time: the reminder still goes at the time it has.
    pub fn follows(&self) -> Follows {
        if let Some(stored) = &self.wall_clock {
            let days_before = DaysBefore::parse(stored.days_before);
            let at = LocalTime::parse(&stored.at);
            let zone = TimeZone::or_utc(&stored.timezone, "reminder", &self.id);
            return match (days_before, at) {
                (Ok(days_before), Ok(at)) => Follows::WallClock(WallClock {
                    days_before,
                    at,
                    zone,
                }),
                _ => {
                    tracing::warn!(reminder_id = %self.id, "unreadable wall-clock rule; kept at its time");
                    Follows::Nothing
                }
            };
        }
        match self.remind_before_minutes.map(RemindBefore::parse) {
            Some(Ok(before)) => Follows::Start(before),
            _ => Follows::Nothing,
        }
    }
}

impl WallClockDoc {
    fn of(wall_clock: WallClock, zone_as_of: bson::DateTime) -> Self {
        Self {
            days_before: wall_clock.days_before.days(),
            at: wall_clock.at.to_hhmm(),
            timezone: wall_clock.zone.name().to_owned(),
            zone_as_of,
        }
    }

    fn to_document(&self) -> Document {
        doc! {
            "days_before": self.days_before,
            "at": &self.at,
            "timezone": &self.timezone,
            "zone_as_of": self.zone_as_of,
        }
    }
}

/// What a reminder's time follows, as its two stored fields, the owner's zone known as of
/// `zone_as_of`.
pub fn stored(follows: Follows, zone_as_of: bson::DateTime) -> (Option<i64>, Option<WallClockDoc>) {
    match follows {
        Follows::Nothing => (None, None),
        Follows::Start(before) => (Some(before.minutes()), None),
        Follows::WallClock(wall_clock) => (None, Some(WallClockDoc::of(wall_clock, zone_as_of))),
    }
}

/// The stored fields that say what a reminder's time follows, for an update.
pub fn follows_fields(follows: Follows, zone_as_of: bson::DateTime) -> Document {
    let (minutes, wall_clock) = stored(follows, zone_as_of);
    let wall_clock = wall_clock.map_or(Bson::Null, |w| Bson::Document(w.to_document()));
    doc! { "remind_before_minutes": minutes, "wall_clock": wall_clock }
}
