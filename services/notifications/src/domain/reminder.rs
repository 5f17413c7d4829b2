//! A reminder's life cycle and the numbers a client may choose.

use chrono::Duration;
use common::domain::DomainError;
use poem_openapi::Enum;
use serde::{Deserialize, Serialize};

/// Where a reminder is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for its time; may be changed.
    Scheduled,
    /// Handed to the email queue; waiting for the result.
    Queued,
    /// The SMTP server accepted it.
    Sent,
    /// Refused for good or out of retries (`last_error` says why); parked for an operator.
    Failed,
    /// Cancelled by its owner or because its event was deleted.
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Minutes before the event's start a relative reminder goes out: 0 to a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemindBefore(i64);

impl RemindBefore {
    /// A year, in minutes.
    pub const MAX: i64 = 365 * 24 * 60;

    pub fn parse(minutes: i64) -> Result<Self, DomainError> {
        if (0..=Self::MAX).contains(&minutes) {
            Ok(Self(minutes))
        } else {
            Err(DomainError::OutOfRange {
                range: "0..=525600 minutes",
            })
        }
    }

    pub fn minutes(self) -> i64 {
        self.0
    }

    pub fn duration(self) -> Duration {
        Duration::minutes(self.0)
    }
}

/// How far to push a reminder: more than 0 minutes and at most 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnoozeMinutes(i64);

impl SnoozeMinutes {
    /// 30 days, in minutes.
    pub const MAX: i64 = 30 * 24 * 60;

    pub fn parse(minutes: i64) -> Result<Self, DomainError> {
        if (1..=Self::MAX).contains(&minutes) {
            Ok(Self(minutes))
        } else {
            Err(DomainError::OutOfRange {
                range: "1..=43200 minutes (30 days)",
            })
        }
    }

    pub fn duration(self) -> Duration {
        Duration::minutes(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_counts_are_bounded() {
        assert!(RemindBefore::parse(0).is_ok());
        assert!(RemindBefore::parse(-1).is_err());
        assert!(RemindBefore::parse(RemindBefore::MAX + 1).is_err());
        assert!(SnoozeMinutes::parse(0).is_err());
        assert!(SnoozeMinutes::parse(-5).is_err());
        assert!(SnoozeMinutes::parse(43_200).is_ok());
        assert!(SnoozeMinutes::parse(43_201).is_err());
    }
}
