//! An IANA time zone, parsed once where it arrives and kept parsed.
//!
//! A request with a zone that does not parse is refused ([`TimeZone::parse`]). A stored document
//! or a queued message that already holds one (written by an older release, or by hand) must not
//! be lost over it: [`TimeZone::or_utc`] reports it (a warning naming whose zone it is, and the
//! `eventpost_unparsable_time_zones_total` counter) and reads it as UTC.

use std::{fmt, str::FromStr, sync::OnceLock};

use chrono_tz::Tz;
use prometheus::IntCounter;
use serde::{Deserialize, Serialize};

use super::DomainError;

/// A zone such as `Europe/Madrid`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZone(Tz);

impl TimeZone {
    /// Coordinated Universal Time.
    pub const UTC: Self = Self(Tz::UTC);

    /// An IANA zone name, exactly as the database spells it.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        Tz::from_str(raw)
            .map(Self)
            .map_err(|_| DomainError::Malformed {
                expected: "an IANA time zone such as Europe/Madrid",
            })
    }

    /// `raw` as a zone, or UTC after reporting that the `owner` (`"event"`, say) with `id`
    /// holds one that does not parse.
    pub fn or_utc(raw: &str, owner: &'static str, id: &dyn fmt::Display) -> Self {
        Self::parse(raw).unwrap_or_else(|_| {
            tracing::warn!(zone = raw, owner, id = %id, "unparsable time zone read as UTC");
            unparsable_counter().inc();
            Self::UTC
        })
    }

    /// The zone's name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The chrono-tz zone, for conversions.
    pub fn tz(self) -> Tz {
        self.0
    }
}

/// Counts zones read as UTC because they did not parse, across the process. Each service's
/// registry shows it (see `Metrics::new`).
pub fn unparsable_counter() -> &'static IntCounter {
    static COUNTER: OnceLock<IntCounter> = OnceLock::new();
    COUNTER.get_or_init(|| {
        IntCounter::new(
            "unparsable_time_zones_total",
            "Stored or received time zones that did not parse and were read as UTC",
        )
        .unwrap_or_else(|_| unreachable!("the counter's name and help are valid"))
    })
}

impl FromStr for TimeZone {
    type Err = DomainError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl TryFrom<String> for TimeZone {
    type Error = DomainError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<TimeZone> for String {
    fn from(zone: TimeZone) -> Self {
        zone.name().to_owned()
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeZone({})", self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_iana_zones_parse() {
        assert_eq!(
            TimeZone::parse("Europe/Madrid").unwrap().name(),
            "Europe/Madrid"
        );
        for raw in ["", "Mars/Olympus", "europe/madrid "] {
            assert!(TimeZone::parse(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn an_unparsable_stored_zone_is_counted_and_read_as_utc() {
        let before = unparsable_counter().get();
        assert_eq!(
            TimeZone::or_utc("Mars/Olympus", "event", &"x"),
            TimeZone::UTC
        );
        assert_eq!(
            TimeZone::or_utc("Asia/Tokyo", "event", &"y").name(),
            "Asia/Tokyo"
        );
        assert!(unparsable_counter().get() > before);
    }

    #[test]
    fn zones_travel_as_their_names() {
        let zone = TimeZone::parse("America/New_York").unwrap();
        let json = serde_json::to_string(&zone).unwrap();
        assert_eq!(json, "\"America/New_York\"");
        assert_eq!(serde_json::from_str::<TimeZone>(&json).unwrap(), zone);
        assert!(serde_json::from_str::<TimeZone>("\"Nowhere\"").is_err());
    }
}
