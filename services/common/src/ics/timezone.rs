//! The `VTIMEZONE` component a `TZID` needs (RFC 5545 §3.6.5), which the icalendar crate does
//! not write: the zone's offset changes that matter to one event, found in the tz database.

use chrono::{DateTime, Duration, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz, TzOffset};

/// How far before the event the offset in force is looked for. A zone that changed nothing in
/// that long has a fixed offset.
const LOOK_BACK: Duration = Duration::days(400);

/// The search's stride: no zone's current rules change its offset twice in less.
const STEP: Duration = Duration::hours(12);

/// The `VTIMEZONE` for `zone`, valid for every instant from `from` to `to`: the last change of
/// offset before `from` and each one up to `to`. Lines end in CRLF.
pub fn vtimezone(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let changes = changes(zone, from - LOOK_BACK, to);
    let in_force = changes.iter().rposition(|change| *change <= from);
    let mut lines = vec![
        "BEGIN:VTIMEZONE".to_owned(),
        format!("TZID:{}", zone.name()),
    ];
    if in_force.is_none() {
        // Nothing changed lately: the offset at the start has held since the Unix epoch.
        let offset = offset_at(zone, from);
        lines.extend(observance(DateTime::UNIX_EPOCH, &offset, &offset));
    }
    for change in &changes[in_force.unwrap_or(0)..] {
        let before = offset_at(zone, *change - Duration::seconds(1));
        lines.extend(observance(*change, &before, &offset_at(zone, *change)));
    }
    lines.push("END:VTIMEZONE".to_owned());
    lines.iter().map(|line| format!("{line}\r\n")).collect()
}

/// The lines of one `STANDARD` or `DAYLIGHT` sub-component starting at `onset`.
fn observance(onset: DateTime<Utc>, before: &TzOffset, after: &TzOffset) -> Vec<String> {
    let kind = if after.dst_offset().is_zero() {
        "STANDARD"
    } else {
        "DAYLIGHT"
    };
    // The onset is written in local time as it was before the change.
    let local_onset = onset.naive_utc() + Duration::seconds(seconds(before).into());
    let mut lines = vec![
        format!("BEGIN:{kind}"),
        format!("DTSTART:{}", local_onset.format("%Y%m%dT%H%M%S")),
        format!("TZOFFSETFROM:{}", utc_offset(seconds(before))),
        format!("TZOFFSETTO:{}", utc_offset(seconds(after))),
    ];
    lines.extend(after.abbreviation().map(|name| format!("TZNAME:{name}")));
    lines.push(format!("END:{kind}"));
    lines
}

/// The instants in `(from, to]` at which `zone`'s offset changes, to the second.
fn changes(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut found = Vec::new();
    let mut at = from;
    while at < to {
        let next = (at + STEP).min(to);
        if differ(zone, at, next) {
            found.push(first_after(zone, at, next));
        }
        at = next;
    }
    found
}

/// The first second in `(before, after]` with `after`'s offset, given that they differ.
fn first_after(zone: Tz, mut before: DateTime<Utc>, mut after: DateTime<Utc>) -> DateTime<Utc> {
    while after - before > Duration::seconds(1) {
        let middle = before + (after - before) / 2;
        if differ(zone, before, middle) {
            after = middle;
        } else {
            before = middle;
        }
    }
    after
}

fn differ(zone: Tz, a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    let (a, b) = (offset_at(zone, a), offset_at(zone, b));
    seconds(&a) != seconds(&b) || a.dst_offset() != b.dst_offset()
}

fn offset_at(zone: Tz, at: DateTime<Utc>) -> TzOffset {
    zone.offset_from_utc_datetime(&at.naive_utc())
}

fn seconds(offset: &TzOffset) -> i32 {
    offset.fix().local_minus_utc()
}

/// `+HHMM`, or `+HHMMSS` when there are seconds (RFC 5545 §3.3.14).
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let seconds = seconds.unsigned_abs();
    let (hours, minutes, rest) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if rest == 0 {
        format!("{sign}{hours:02}{minutes:02}")
    } else {
        format!("{sign}{hours:02}{minutes:02}{rest:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_winter_event_in_madrid_is_in_central_european_time_since_october() {
        let zone = vtimezone(
            chrono_tz::Europe::Madrid,
            at("2026-12-01T18:00:00Z"),
            at("2026-12-01T21:30:00Z"),
        );
        assert_eq!(
            zone,
            "BEGIN:VTIMEZONE\r\nTZID:Europe/Madrid\r\n\
             BEGIN:STANDARD\r\nDTSTART:20261025T030000\r\nTZOFFSETFROM:+0200\r\n\
             TZOFFSETTO:+0100\r\nTZNAME:CET\r\nEND:STANDARD\r\n\
             END:VTIMEZONE\r\n"
        );
    }

    #[test]
    fn an_event_across_the_spring_change_has_both_observances() {
        let zone = vtimezone(
            chrono_tz::America::New_York,
            at("2027-03-14T05:00:00Z"),
            at("2027-03-14T09:00:00Z"),
        );
        assert!(
            zone.contains(
                "BEGIN:STANDARD\r\nDTSTART:20261101T020000\r\nTZOFFSETFROM:-0400\r\n\
                 TZOFFSETTO:-0500\r\nTZNAME:EST\r\nEND:STANDARD\r\n"
            ),
            "{zone}"
        );
        assert!(
            zone.contains(
                "BEGIN:DAYLIGHT\r\nDTSTART:20270314T020000\r\nTZOFFSETFROM:-0500\r\n\
                 TZOFFSETTO:-0400\r\nTZNAME:EDT\r\nEND:DAYLIGHT\r\n"
            ),
            "{zone}"
        );
    }

    #[test]
    fn a_zone_without_changes_has_one_fixed_observance() {
        let zone = vtimezone(
            chrono_tz::Asia::Tokyo,
            at("2026-12-01T10:00:00Z"),
            at("2026-12-01T12:00:00Z"),
        );
        assert!(
            zone.contains(
                "BEGIN:STANDARD\r\nDTSTART:19700101T090000\r\nTZOFFSETFROM:+0900\r\n\
                 TZOFFSETTO:+0900\r\nTZNAME:JST\r\nEND:STANDARD\r\n"
            ),
            "{zone}"
        );
    }

    #[test]
    fn offsets_with_minutes_and_seconds_are_written_in_full() {
        assert_eq!(utc_offset(19_800), "+0530");
        assert_eq!(utc_offset(-16_200), "-0430");
        assert_eq!(utc_offset(-1_096), "-001816");
    }
}
