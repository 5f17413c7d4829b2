//! Times as people read them: in a zone, and the date presets of the discover page.

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// `at` on the clock of `zone` (an IANA name; UTC if it is not one), e.g.
/// "Sat 12 Dec 2026, 19:30 CET".
pub fn on_clock_of(at: DateTime<Utc>, zone: &str) -> String {
    let zone: Tz = zone.parse().unwrap_or(Tz::UTC);
    at.with_timezone(&zone)
        .format("%a %-d %b %Y, %H:%M %Z")
        .to_string()
}

/// A range of start times the discover page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Today,
    Tomorrow,
    ThisWeekend,
    NextWeek,
}

/// A preset as the page lists it.
#[derive(Serialize)]
pub struct PresetChoice {
    pub value: &'static str,
    pub label: &'static str,
}

impl Preset {
    pub const ALL: [Preset; 4] = [
        Preset::Today,
        Preset::Tomorrow,
        Preset::ThisWeekend,
        Preset::NextWeek,
    ];

    pub fn value(self) -> &'static str {
        match self {
            Preset::Today => "today",
            Preset::Tomorrow => "tomorrow",
            Preset::ThisWeekend => "weekend",
            Preset::NextWeek => "next-week",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Preset::Today => "Today",
            Preset::Tomorrow => "Tomorrow",
            Preset::ThisWeekend => "This weekend",
            Preset::NextWeek => "Next week",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|preset| preset.value() == value)
    }

    pub fn choices() -> Vec<PresetChoice> {
        Self::ALL
            .into_iter()
            .map(|preset| PresetChoice {
                value: preset.value(),
                label: preset.label(),
            })
            .collect()
    }

    /// The start times it covers at `now` on the clock of `zone`: from (never before now)
    /// until.
    pub fn range(self, now: DateTime<Utc>, zone: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let today = now.with_timezone(&zone).date_naive();
        let days_to_monday = u64::from(7 - today.weekday().num_days_from_monday());
        let (first, last) = match self {
            Preset::Today => (today, today),
            Preset::Tomorrow => (today + Days::new(1), today + Days::new(1)),
            Preset::ThisWeekend => {
                let monday = today + Days::new(days_to_monday);
                (monday - Days::new(2), monday - Days::new(1))
            }
            Preset::NextWeek => {
                let monday = today + Days::new(days_to_monday);
                (monday, monday + Days::new(6))
            }
        };
        let from = midnight(first, zone).max(now);
        (from, midnight(last + Days::new(1), zone))
    }
}

/// The first instant of `day` on the clock of `zone` (a midnight skipped by a clock change
/// starts the day at the first instant that exists).
fn midnight(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let start = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    (0..=3)
        .find_map(|hours| {
            zone.from_local_datetime(&(start + chrono::Duration::hours(hours)))
                .earliest()
        })
        .map_or_else(|| start.and_utc(), |at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use chrono::Weekday;

    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn presets_cover_whole_days_on_the_visitors_clock() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap_or(Tz::UTC);
        // A Wednesday, 22:30 in Berlin.
        let now = at("2026-12-09T21:30:00Z");
        assert_eq!(
            Preset::Today.range(now, berlin),
            (now, at("2026-12-09T23:00:00Z"))
        );
        assert_eq!(
            Preset::Tomorrow.range(now, berlin),
            (at("2026-12-09T23:00:00Z"), at("2026-12-10T23:00:00Z"))
        );
        let (from, until) = Preset::ThisWeekend.range(now, berlin);
        assert_eq!(
            (from, until),
            (at("2026-12-11T23:00:00Z"), at("2026-12-13T23:00:00Z"))
        );
        assert_eq!(from.with_timezone(&berlin).weekday(), Weekday::Sat);
        assert_eq!(
            Preset::NextWeek.range(now, berlin),
            (at("2026-12-13T23:00:00Z"), at("2026-12-20T23:00:00Z"))
        );
    }

    #[test]
    fn on_a_sunday_this_weekend_is_what_is_left_of_it() {
        let now = at("2026-12-13T10:00:00Z");
        assert_eq!(
            Preset::ThisWeekend.range(now, Tz::UTC),
            (now, at("2026-12-14T00:00:00Z"))
        );
    }

    #[test]
    fn a_time_reads_on_the_events_clock() {
        let start = at("2026-12-12T18:30:00Z");
        assert_eq!(
            on_clock_of(start, "Europe/Berlin"),
            "Sat 12 Dec 2026, 19:30 CET"
        );
        assert_eq!(
            on_clock_of(start, "not a zone"),
            "Sat 12 Dec 2026, 18:30 UTC"
        );
    }
}
