//! What a reminder says: the owner's words, or words made from its event.

use common::{
    domain::{DomainError, bounded_line},
    messages::EventSummary,
};

/// A mail subject chosen by the owner: 1 to 200 characters on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(String);

impl Subject {
    pub const MAX_LEN: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        bounded_line(raw, 1, Self::MAX_LEN).map(Self)
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

common::bounded_text!(
    /// A mail text chosen by the owner: 1 to 4,000 characters.
    Content, min = 1, max = 4000
);

/// `Reminder: <title>`.
pub fn default_subject(event: &EventSummary) -> String {
    format!("Reminder: {}", event.title)
}

/// The title, the local start time in the event's zone, and the place.
pub fn default_content(event: &EventSummary) -> String {
    let local = event
        .starts_at
        .with_timezone(&event.timezone.tz())
        .format("%A %-d %B %Y at %H:%M (%Z)");
    format!("{} starts on {local} at {}.", event.title, event.place)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_default_text_shows_the_local_start_time() {
        let event = EventSummary {
            id: common::domain::EventId::new(),
            title: "Jazz night".into(),
            starts_at: Utc.with_ymd_and_hms(2026, 12, 5, 19, 30, 0).unwrap(),
            ends_at: None,
            timezone: common::domain::TimeZone::parse("Europe/Madrid").unwrap(),
            place: "Plaza Bib-Rambla, Granada".into(),
            version: 1,
        };
        assert_eq!(default_subject(&event), "Reminder: Jazz night");
        assert_eq!(
            default_content(&event),
            "Jazz night starts on Saturday 5 December 2026 at 20:30 (CET) at Plaza Bib-Rambla, Granada."
        );
    }

    #[test]
    fn subjects_are_one_bounded_line() {
        assert!(Subject::parse("Hi\nthere").is_err());
        assert!(Subject::parse("  ").is_err());
        assert!(Subject::parse(&"x".repeat(201)).is_err());
        assert!(Content::parse(&"x".repeat(4000)).is_ok());
    }
}
