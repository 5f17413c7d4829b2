//! Events as iCalendar (RFC 5545) files, in each event's own time zone so calendars show it at
//! the local time it happens. An event keeps its `UID` in every file and carries its version as
//! `SEQUENCE`, so a calendar that imported it once updates it in place.

mod payload;
mod timezone;

pub use payload::CalendarFile;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use icalendar::{Alarm, Calendar, Component, Event, EventLike, EventStatus};

use crate::messages::EventSummary;

/// The `.ics` text for `event`, as a reminder mail attaches it.
pub fn event_file(event: &EventSummary) -> String {
    let calendar = Calendar::new().push(vevent(event, Utc::now())).done();
    with_zones(&calendar.to_string(), &[event])
}

/// The `.ics` text that removes a deleted `event` from the calendars it was imported into:
/// `METHOD:CANCEL`, the same `UID`, and a `SEQUENCE` above the last version sent, so that
/// calendars take it as newer than every file they hold.
pub fn cancellation_file(event: &EventSummary) -> String {
    let mut cancelled = vevent(event, Utc::now());
    cancelled
        .sequence(u32::try_from(event.version + 1).unwrap_or(0))
        .status(EventStatus::Cancelled);
    let mut calendar = Calendar::new();
    calendar.append_property(("METHOD", "CANCEL"));
    let calendar = calendar.push(cancelled.done()).done();
    with_zones(&calendar.to_string(), &[event])
}

/// An event in a calendar feed, with the alarms its subscriber set.
#[derive(Debug, Clone)]
pub struct FeedEntry {
    pub event: EventSummary,
    pub alarms: Vec<FeedAlarm>,
    /// When the entry last changed: its `DTSTAMP`, so the same entries make the same file.
    pub changed_at: DateTime<Utc>,
}

/// An alert on an event in a feed.
#[derive(Debug, Clone)]
pub struct FeedAlarm {
    /// Stable across renderings (a reminder's id, say).
    pub uid: String,
    pub at: DateTime<Utc>,
    /// What the alert says.
    pub description: String,
}

/// A subscribable calendar named `name` holding `entries`. The same entries always make the
/// same text, so a digest of it can be the feed's ETag.
pub fn feed(name: &str, entries: &[FeedEntry]) -> String {
    let mut calendar = Calendar::new();
    calendar.name(name);
    for entry in entries {
        let mut event = vevent(&entry.event, entry.changed_at);
        for alarm in &entry.alarms {
            let mut valarm = Alarm::display(&alarm.description, alarm.at);
            valarm.uid(&alarm.uid).timestamp(entry.changed_at);
            event.alarm(valarm.done());
        }
        calendar.push(event.done());
    }
    let events: Vec<&EventSummary> = entries.iter().map(|entry| &entry.event).collect();
    with_zones(&calendar.done().to_string(), &events)
}

/// `event` as a `VEVENT` stamped `stamp`, its times in its own zone.
fn vevent(event: &EventSummary, stamp: DateTime<Utc>) -> Event {
    let zone = event.timezone.tz();
    let local = |at: DateTime<Utc>| (at.with_timezone(&zone).naive_local(), zone);
    let mut entry = Event::new();
    entry
        .uid(&format!("event-{}@eventpost", event.id))
        .sequence(u32::try_from(event.version).unwrap_or(0))
        .summary(&event.title)
        .location(&event.place)
        .timestamp(stamp)
        .starts(local(event.starts_at));
    if let Some(ends_at) = event.ends_at {
        entry.ends(local(ends_at));
    }
    entry.done()
}

/// `calendar` with the `VTIMEZONE` of every zone `events` use, each covering its events. The
/// crate cannot hold one; they go in ahead of the first event, which may refer to them.
fn with_zones(calendar: &str, events: &[&EventSummary]) -> String {
    let mut spans: BTreeMap<&'static str, (Tz, DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for event in events {
        let (from, to) = (event.starts_at, event.ends_at.unwrap_or(event.starts_at));
        let zone = event.timezone.tz();
        let span = spans.entry(zone.name()).or_insert((zone, from, to));
        span.1 = span.1.min(from);
        span.2 = span.2.max(to);
    }
    let zones: String = spans
        .values()
        .map(|(zone, from, to)| timezone::vtimezone(*zone, *from, *to))
        .collect();
    match calendar.find("BEGIN:VEVENT") {
        Some(at) => format!("{}{zones}{}", &calendar[..at], &calendar[at..]),
        None => calendar.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The event as a message brings it, zone and all.
    fn event(timezone: &str) -> EventSummary {
        serde_json::from_value(serde_json::json!({
            "id": "65f1c0ffee0000000000abcd",
            "title": "Jazz night",
            "starts_at": "2026-12-01T18:00:00Z",
            "ends_at": "2026-12-01T21:30:00Z",
            "timezone": timezone,
            "place": "Café Central, Madrid",
            "version": 3,
        }))
        .unwrap()
    }

    #[test]
    fn a_deleted_event_is_cancelled_under_its_uid_at_a_higher_sequence() {
        let ics = cancellation_file(&event("Europe/Madrid"));
        assert!(ics.contains("METHOD:CANCEL"), "{ics}");
        assert!(ics.contains("STATUS:CANCELLED"), "{ics}");
        assert!(
            ics.contains("UID:event-65f1c0ffee0000000000abcd@eventpost"),
            "{ics}"
        );
        assert!(ics.contains("SEQUENCE:4"), "{ics}");
        assert!(!event_file(&event("Europe/Madrid")).contains("METHOD:CANCEL"));
    }

    #[test]
    fn times_are_written_in_the_events_own_zone() {
        let ics = event_file(&event("Europe/Madrid"));
        assert!(
            ics.contains("BEGIN:VCALENDAR") && ics.contains("BEGIN:VEVENT"),
            "{ics}"
        );
        assert!(
            ics.contains("DTSTART;TZID=Europe/Madrid:20261201T190000"),
            "{ics}"
        );
        assert!(
            ics.contains("DTEND;TZID=Europe/Madrid:20261201T223000"),
            "{ics}"
        );
        assert!(ics.contains("SUMMARY:Jazz night"), "{ics}");
        let zone = ics.find("BEGIN:VTIMEZONE\r\nTZID:Europe/Madrid\r\n");
        assert!(
            zone.is_some_and(|zone| ics.find("BEGIN:VEVENT").is_some_and(|event| zone < event)),
            "the zone is defined before the event uses it: {ics}"
        );
        assert!(
            ics.contains("UID:event-65f1c0ffee0000000000abcd@eventpost"),
            "{ics}"
        );
        assert!(ics.contains("SEQUENCE:3\r\n"), "the version: {ics}");
    }

    #[test]
    fn a_feed_holds_each_event_once_with_its_alarms_and_each_zone_once() {
        let alarm_at: DateTime<Utc> = "2026-11-30T18:00:00Z".parse().unwrap();
        let entry = |zone: &str, id: &str| {
            let mut event = event(zone);
            event.id = id.parse().unwrap();
            FeedEntry {
                event,
                alarms: vec![FeedAlarm {
                    uid: format!("reminder-{id}@eventpost"),
                    at: alarm_at,
                    description: "Jazz night tomorrow".into(),
                }],
                changed_at: alarm_at,
            }
        };
        let entries = [
            entry("Europe/Madrid", "65f1c0ffee0000000000aaaa"),
            entry("Europe/Madrid", "65f1c0ffee0000000000bbbb"),
            entry("America/New_York", "65f1c0ffee0000000000cccc"),
        ];
        let ics = feed("eventpost", &entries);
        assert_eq!(ics.matches("BEGIN:VEVENT").count(), 3, "{ics}");
        assert_eq!(ics.matches("TZID:Europe/Madrid\r\n").count(), 1, "{ics}");
        assert_eq!(ics.matches("TZID:America/New_York\r\n").count(), 1, "{ics}");
        assert_eq!(ics.matches("BEGIN:VALARM").count(), 3, "{ics}");
        assert!(
            ics.contains("TRIGGER;VALUE=DATE-TIME:20261130T180000Z"),
            "{ics}"
        );
        assert!(ics.contains("ACTION:DISPLAY"), "{ics}");
        assert_eq!(
            ics,
            feed("eventpost", &entries),
            "the same entries, the same file"
        );
    }

    #[test]
    fn a_message_with_an_unknown_zone_is_written_in_utc() {
        let ics = event_file(&event("Mars/Olympus_Mons"));
        assert!(ics.contains("DTSTART;TZID=UTC:20261201T180000"), "{ics}");
        assert!(ics.contains("TZID:UTC\r\n"), "{ics}");
    }
}
