//! "N days before the event at HH:MM my time": a reminder set at a time on the owner's clock,
//! worked out again whenever its event moves or its owner's zone changes.

use chrono::{DateTime, Days, NaiveDateTime, NaiveTime, TimeDelta, TimeZone as _, Utc};
use chrono_tz::Tz;
use common::domain::{DomainError, TimeZone};

/// Whole days before the day the event starts on, 0 (that day) to 365.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaysBefore(u16);

impl DaysBefore {
    pub const MAX: i64 = 365;

    pub fn parse(days: i64) -> Result<Self, DomainError> {
        u16::try_from(days)
            .ok()
            .filter(|days| i64::from(*days) <= Self::MAX)
            .map(Self)
            .ok_or(DomainError::OutOfRange { range: "0..=365" })
    }

    pub fn days(self) -> i64 {
        i64::from(self.0)
    }
}

/// A time of day to the minute, written `HH:MM` (24-hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime(NaiveTime);

impl LocalTime {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let malformed = DomainError::Malformed {
            expected: "a time of day as HH:MM, 00:00 to 23:59",
        };
        if raw.len() != 5 {
            return Err(malformed);
        }
        NaiveTime::parse_from_str(raw, "%H:%M")
            .map(Self)
            .map_err(|_| malformed)
    }

    /// `HH:MM`.
    pub fn to_hhmm(self) -> String {
        self.0.format("%H:%M").to_string()
    }
}

/// A wall-clock time some days before an event, on the clock of a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    pub days_before: DaysBefore,
    pub at: LocalTime,
    pub zone: TimeZone,
}

impl WallClock {
    /// The instant it names for an event starting at `starts_at`: the day the event starts on
    /// in `zone`, less the days, at the time. A time that day skips (the clock jumps forward)
    /// is the first instant after the jump; one it repeats (the clock goes back) is the first
    /// of the two.
    pub fn send_at(self, starts_at: DateTime<Utc>) -> DateTime<Utc> {
        let tz = self.zone.tz();
        let day = starts_at.with_timezone(&tz).date_naive();
        let day = day
            .checked_sub_days(Days::new(self.days_before.0.into()))
            .unwrap_or(day);
        first_instant_from(tz, day.and_time(self.at.0))
    }

    /// The same time on another clock.
    pub fn in_zone(self, zone: TimeZone) -> Self {
        Self { zone, ..self }
    }
}

/// `at` on the day after `now`'s, on the clock of `zone` ("tomorrow at 09:00 my time"), with
/// the same rule for a time the day skips or repeats as [`WallClock::send_at`].
pub fn tomorrow_at(now: DateTime<Utc>, at: LocalTime, zone: TimeZone) -> DateTime<Utc> {
    let tz = zone.tz();
    let today = now.with_timezone(&tz).date_naive();
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap_or(today);
    first_instant_from(tz, tomorrow.and_time(at.0))
}

/// The first instant whose local time in `tz` is `local` or, if the zone skips it, the first
/// after it.
fn first_instant_from(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    // Zones skip at most a few hours, and at whole minutes since the 1970s.
    let mut candidate = local;
    for _ in 0..=24 * 60 {
        if let Some(first) = tz.from_local_datetime(&candidate).earliest() {
            return first.with_timezone(&Utc);
        }
        candidate += TimeDelta::minutes(1);
    }
    local.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> DateTime<Utc> {
        raw.parse().unwrap()
    }

    fn evening_before(zone: &str) -> WallClock {
        WallClock {
            days_before: DaysBefore::parse(1).unwrap(),
            at: LocalTime::parse("18:00").unwrap(),
            zone: TimeZone::parse(zone).unwrap(),
        }
    }

    #[test]
    fn the_day_is_the_events_day_on_the_owners_clock() {
        // 01:30 in Madrid on the 10th is still the 9th in New York.
        let starts_at = at("2027-06-10T23:30:00Z");
        assert_eq!(
            evening_before("Europe/Madrid").send_at(starts_at),
            at("2027-06-10T16:00:00Z")
        );
        assert_eq!(
            evening_before("America/New_York").send_at(starts_at),
            at("2027-06-09T22:00:00Z")
        );
    }

    #[test]
    fn a_time_the_clock_skips_goes_at_the_first_instant_after_the_jump() {
        // Madrid, 28 March 2027: 02:00 CET becomes 03:00 CEST (01:00 UTC).
        let skipped = WallClock {
            days_before: DaysBefore::parse(0).unwrap(),
            at: LocalTime::parse("02:30").unwrap(),
            zone: TimeZone::parse("Europe/Madrid").unwrap(),
        };
        assert_eq!(
            skipped.send_at(at("2027-03-28T10:00:00Z")),
            at("2027-03-28T01:00:00Z")
        );
    }

    #[test]
    fn a_time_the_clock_repeats_goes_the_first_time() {
        // Madrid, 31 October 2027: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
        let repeated = WallClock {
            days_before: DaysBefore::parse(0).unwrap(),
            at: LocalTime::parse("02:30").unwrap(),
            zone: TimeZone::parse("Europe/Madrid").unwrap(),
        };
        assert_eq!(
            repeated.send_at(at("2027-10-31T12:00:00Z")),
            at("2027-10-31T00:30:00Z")
        );
    }

    #[test]
    fn days_across_a_clock_change_keep_the_wall_clock_time() {
        // A week before an event after the spring change: 18:00 CET, not CEST.
        let week_before = WallClock {
            days_before: DaysBefore::parse(7).unwrap(),
            ..evening_before("Europe/Madrid")
        };
        assert_eq!(
            week_before.send_at(at("2027-04-01T17:00:00Z")),
            at("2027-03-25T17:00:00Z")
        );
        assert_eq!(
            week_before
                .in_zone(TimeZone::UTC)
                .send_at(at("2027-04-01T17:00:00Z")),
            at("2027-03-25T18:00:00Z")
        );
    }

    #[test]
    fn only_hours_and_minutes_of_a_day_and_a_year_of_days_parse() {
        assert_eq!(LocalTime::parse("09:05").unwrap().to_hhmm(), "09:05");
        for bad in ["24:00", "9:05", "09:5", "09:05:00", "18h00", "", "23:60"] {
            assert!(LocalTime::parse(bad).is_err(), "{bad}");
        }
        assert!(DaysBefore::parse(0).is_ok());
        assert!(DaysBefore::parse(365).is_ok());
        assert!(DaysBefore::parse(366).is_err());
        assert!(DaysBefore::parse(-1).is_err());
    }
    #[test]
    fn tomorrow_is_the_day_after_on_the_owners_clock() {
        let nine = LocalTime::parse("09:00").unwrap();
        // 23:30 UTC on the 10th is already the 11th in Tokyo, still the 10th in New York.
        let now = at("2027-06-10T23:30:00Z");
        let tokyo = TimeZone::parse("Asia/Tokyo").unwrap();
        let new_york = TimeZone::parse("America/New_York").unwrap();
        assert_eq!(tomorrow_at(now, nine, tokyo), at("2027-06-12T00:00:00Z"));
        assert_eq!(tomorrow_at(now, nine, new_york), at("2027-06-11T13:00:00Z"));
        // Madrid skips 02:00-03:00 on 2027-03-28: 02:30 that day is 03:00 local (01:00 UTC).
        let half_past_two = LocalTime::parse("02:30").unwrap();
        let madrid = TimeZone::parse("Europe/Madrid").unwrap();
        assert_eq!(
            tomorrow_at(at("2027-03-27T12:00:00Z"), half_past_two, madrid),
            at("2027-03-28T01:00:00Z")
        );
    }
}
