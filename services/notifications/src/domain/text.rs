//! What a reminder says: the owner's words, or words made from its event.

use chrono_tz::Tz;
use common::{domain::DomainError, messages::EventSummary};

fn bounded(raw: &str, max: usize) -> Result<String, DomainError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(DomainError::Empty);
    }
    if trimmed.chars().count() > max {
        return Err(DomainError::TooLong { max });
    }
    Ok(trimmed.to_owned())
}

/// A mail subject chosen by the owner: 1 to 200 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(String);

impl Subject {
    pub const MAX_LEN: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let text = bounded(raw, Self::MAX_LEN)?;
        if text.contains(['\r', '\n']) {
            return Err(DomainError::Malformed {
                expected: "a single line",
            });
        }
        Ok(Self(text))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A mail text chosen by the owner: 1 to 4,000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content(String);

impl Content {
    pub const MAX_LEN: usize = 4000;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        bounded(raw, Self::MAX_LEN).map(Self)
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// `Reminder: <title>`.
pub fn default_subject(event: &EventSummary) -> String {
    format!("Reminder: {}", event.title)
}

/// The title, the local start time in the event's zone, and the place.
pub fn default_content(event: &EventSummary) -> String {
    let local = match event.timezone.parse::<Tz>() {
        Ok(zone) => event
            .starts_at
            .with_timezone(&zone)
            .format("%A %-d %B %Y at %H:%M (%Z)")
            .to_string(),
        Err(_) => event
            .starts_at
            .format("%A %-d %B %Y at %H:%M UTC")
            .to_string(),
    };
    format!("{} starts on {local} at {}.", event.title, event.place)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_default_text_shows_the_local_start_time() {
        let event = EventSummary {
            id: "65f1c0ffee0000000000abcd".into(),
            title: "Jazz night".into(),
            starts_at: Utc.with_ymd_and_hms(2026, 12, 5, 19, 30, 0).unwrap(),
            ends_at: None,
            timezone: "Europe/Madrid".into(),
            place: "Plaza Bib-Rambla, Granada".into(),
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
