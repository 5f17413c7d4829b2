//! [`Minute`]: the bucket a reminder's due time falls in, what the scheduler reads ahead by.

use chrono::{DateTime, Duration, Utc};

/// A whole UTC minute, counted from the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Minute(i64);

impl Minute {
    const MILLIS: i64 = 60_000;

    /// The minute `at` falls in.
    pub fn of(at: DateTime<Utc>) -> Self {
        Self(at.timestamp_millis().div_euclid(Self::MILLIS))
    }

    /// The minute a reminder due at `send_at`, written at `now`, is looked for in: its time's,
    /// or for a time already past (an event moved closer than its reminder's lead), the
    /// current one, which the next read-ahead still reads.
    pub fn to_look_in(send_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Self::of(send_at.max(now))
    }

    /// The number stored with a reminder.
    pub fn number(self) -> i64 {
        self.0
    }

    pub fn start(self) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::milliseconds(self.0 * Self::MILLIS)
    }

    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }

    pub fn previous(self) -> Self {
        Self(self.0 - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moment_falls_in_the_minute_that_starts_at_or_before_it() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T06:59:59.999Z")
            .unwrap()
            .to_utc();
        let minute = Minute::of(at);
        assert_eq!(minute.start().to_rfc3339(), "2026-12-02T06:59:00+00:00");
        assert_eq!(minute.next(), Minute::of(at + Duration::milliseconds(1)));
        let before_1970 = DateTime::UNIX_EPOCH - Duration::milliseconds(1);
        assert_eq!(Minute::of(before_1970).number(), -1);
        let past = at - Duration::hours(1);
        assert_eq!(
            Minute::to_look_in(past, at),
            minute,
            "a past time is looked for now"
        );
        assert_eq!(
            Minute::to_look_in(at + Duration::days(1), at),
            Minute::of(at + Duration::days(1))
        );
    }
}
