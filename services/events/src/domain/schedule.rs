//! When an event happens, and in which time zone its local times are read.

use std::str::FromStr;

use chrono::{DateTime, Utc};

/// A start and an optional end after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
}

/// Why a schedule is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("must be after starts_at")]
    EndsBeforeStart,
}

impl Schedule {
    pub fn parse(
        starts_at: DateTime<Utc>,
        ends_at: Option<DateTime<Utc>>,
    ) -> Result<Self, ScheduleError> {
        if ends_at.is_some_and(|end| end <= starts_at) {
            return Err(ScheduleError::EndsBeforeStart);
        }
        Ok(Self { starts_at, ends_at })
    }

    pub fn starts_at(self) -> DateTime<Utc> {
        self.starts_at
    }

    pub fn ends_at(self) -> Option<DateTime<Utc>> {
        self.ends_at
    }
}

/// An IANA time zone, such as `Europe/Madrid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub fn parse(raw: &str) -> Result<Self, String> {
        chrono_tz::Tz::from_str(raw)
            .map(Self)
            .map_err(|_| format!("`{raw}` is not an IANA time zone such as Europe/Madrid"))
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_must_end_after_it_starts() {
        let start = Utc::now();
        assert!(Schedule::parse(start, None).is_ok());
        assert!(Schedule::parse(start, Some(start + chrono::Duration::hours(2))).is_ok());
        assert_eq!(
            Schedule::parse(start, Some(start)),
            Err(ScheduleError::EndsBeforeStart)
        );
    }

    #[test]
    fn only_iana_zones_are_accepted() {
        assert_eq!(
            TimeZone::parse("Europe/Madrid").unwrap().name(),
            "Europe/Madrid"
        );
        assert!(TimeZone::parse("Mars/Olympus").is_err());
        assert!(TimeZone::parse("").is_err());
    }
}
