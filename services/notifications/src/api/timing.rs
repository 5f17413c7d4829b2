//! When a reminder goes out: parsing the three ways of saying it, and the rule that it must be
//! in the future.

use chrono::{DateTime, Utc};
use common::{domain::TimeZone, problem::FieldErrors, time::Timestamp};

use super::bodies::WallClockIn;
use crate::domain::{DaysBefore, Follows, LocalTime, RemindBefore, WallClock};

/// How a client said when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    At(DateTime<Utc>),
    Before(RemindBefore),
    /// On the owner's clock, in the zone of their profile.
    OnTheClock {
        days_before: DaysBefore,
        at: LocalTime,
    },
}

/// Whether a request must say when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needed {
    /// A new reminder: saying neither is an error.
    Always,
    /// A change: saying neither leaves the time alone.
    IfChanging,
}

/// The fields a request may say when in.
pub struct When<'a> {
    pub send_at: Option<Timestamp>,
    pub remind_before_minutes: Option<i64>,
    pub wall_clock: Option<&'a WallClockIn>,
}

const ONE_OF: &str = "give one of send_at, remind_before_minutes and wall_clock";

impl Timing {
    /// Exactly one of the ways, checked.
    pub fn parse(when: When<'_>, needed: Needed, errors: &mut FieldErrors) -> Option<Self> {
        let given = [
            when.send_at.is_some(),
            when.remind_before_minutes.is_some(),
            when.wall_clock.is_some(),
        ];
        match given.iter().filter(|given| **given).count() {
            0 => {
                if needed == Needed::Always {
                    errors.add("send_at", ONE_OF);
                }
                return None;
            }
            1 => {}
            _ => {
                errors.add("send_at", format!("{ONE_OF}, not more"));
                return None;
            }
        }
        if let Some(at) = when.send_at {
            return Some(Self::At(at.0));
        }
        if let Some(minutes) = when.remind_before_minutes {
            return errors
                .check("remind_before_minutes", RemindBefore::parse(minutes))
                .map(Self::Before);
        }
        let wall_clock = when.wall_clock?;
        let days_before = errors.check(
            "wall_clock.days_before",
            DaysBefore::parse(wall_clock.days_before),
        );
        let at = errors.check("wall_clock.at", LocalTime::parse(&wall_clock.at));
        Some(Self::OnTheClock {
            days_before: days_before?,
            at: at?,
        })
    }

    /// Whether working it out needs the owner's zone.
    pub fn needs_zone(self) -> bool {
        matches!(self, Self::OnTheClock { .. })
    }

    /// The instant to send at and what it follows, for an event starting at `starts_at` and
    /// an owner in `zone`, if it is after `now`.
    pub fn schedule(
        self,
        starts_at: DateTime<Utc>,
        zone: TimeZone,
        now: DateTime<Utc>,
        errors: &mut FieldErrors,
    ) -> Option<(DateTime<Utc>, Follows)> {
        let follows = match self {
            Self::At(_) => Follows::Nothing,
            Self::Before(before) => Follows::Start(before),
            Self::OnTheClock { days_before, at } => Follows::WallClock(WallClock {
                days_before,
                at,
                zone,
            }),
        };
        let at = match self {
            Self::At(at) => at,
            _ => follows.send_at(starts_at)?,
        };
        if at <= now {
            let (field, why) = match self {
                Self::At(_) => ("send_at", "must be in the future".to_owned()),
                Self::Before(_) => ("remind_before_minutes", in_the_past(starts_at)),
                Self::OnTheClock { .. } => ("wall_clock", in_the_past(starts_at)),
            };
            errors.add(field, why);
            return None;
        }
        Some((at, follows))
    }
}

fn in_the_past(starts_at: DateTime<Utc>) -> String {
    format!(
        "would fall in the past: the event starts at {}",
        Timestamp(starts_at).to_rfc3339()
    )
}
