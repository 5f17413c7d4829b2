//! When an event happens.

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
}
