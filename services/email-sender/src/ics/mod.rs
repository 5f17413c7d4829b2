//! The event a reminder is about, as an iCalendar (RFC 5545) file in the event's own time zone,
//! so calendars show it at the local time it happens.

mod timezone;

use chrono::{DateTime, Utc};
use common::messages::EventSummary;
use icalendar::{Calendar, Component, Event, EventLike};

/// The `.ics` text for `event`.
pub fn event_file(event: &EventSummary) -> String {
    let zone = event.timezone.tz();
    let local = |at: DateTime<Utc>| (at.with_timezone(&zone).naive_local(), zone);
    let mut entry = Event::new();
    entry
        .uid(&format!("event-{}@eventpost", event.id))
        .summary(&event.title)
        .location(&event.place)
        .timestamp(Utc::now())
        .starts(local(event.starts_at));
    if let Some(ends_at) = event.ends_at {
        entry.ends(local(ends_at));
    }
    let calendar = Calendar::new().push(entry.done()).done().to_string();
    // The crate cannot hold a VTIMEZONE; it goes in ahead of the event that refers to it.
    let zone = timezone::vtimezone(
        zone,
        event.starts_at,
        event.ends_at.unwrap_or(event.starts_at),
    );
    match calendar.find("BEGIN:VEVENT") {
        Some(at) => format!("{}{zone}{}", &calendar[..at], &calendar[at..]),
        None => calendar,
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
        }))
        .unwrap()
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
    }

    #[test]
    fn a_message_with_an_unknown_zone_is_written_in_utc() {
        let ics = event_file(&event("Mars/Olympus_Mons"));
        assert!(ics.contains("DTSTART;TZID=UTC:20261201T180000"), "{ics}");
        assert!(ics.contains("TZID:UTC\r\n"), "{ics}");
    }
}
