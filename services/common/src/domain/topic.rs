use std::fmt;

use serde::{Deserialize, Serialize};

use super::DomainError;

/// A topic slug: lower-case ASCII letters and digits in words joined by single hyphens, like
/// `live-music` or `rust`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Topic(String);

impl Topic {
    /// Longest topic, in characters.
    pub const MAX_LEN: usize = 40;

    /// The pattern the OpenAPI document shows; `parse` decides.
    pub const PATTERN: &'static str = "^[a-z0-9]+(-[a-z0-9]+)*$";

    /// Accepts a slug as it is; nothing is lower-cased or trimmed for the caller.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.is_empty() {
            return Err(DomainError::Empty);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(DomainError::TooLong { max: Self::MAX_LEN });
        }
        let words_ok = raw.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if !words_ok {
            return Err(DomainError::Malformed {
                expected: "a lowercase slug like live-music",
            });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Topic {
    type Error = DomainError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Topic> for String {
    fn from(topic: Topic) -> Self {
        topic.0
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_accepted_as_they_are() {
        for raw in ["rust", "live-music", "a1-b2-c3", &"x".repeat(40)] {
            assert_eq!(Topic::parse(raw).unwrap().as_str(), raw);
        }
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        assert_eq!(Topic::parse(""), Err(DomainError::Empty));
        assert_eq!(
            Topic::parse(&"x".repeat(41)),
            Err(DomainError::TooLong { max: 40 })
        );
        for raw in [
            "Rust",
            "live music",
            "-lead",
            "trail-",
            "dou--ble",
            "ünï",
            "a_b",
        ] {
            assert!(
                matches!(Topic::parse(raw), Err(DomainError::Malformed { .. })),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn the_documented_pattern_agrees_with_parse() {
        let pattern = regex::Regex::new(Topic::PATTERN).unwrap();
        for raw in ["rust", "live-music", "Rust", "dou--ble", "-x", "x-"] {
            assert_eq!(pattern.is_match(raw), Topic::parse(raw).is_ok(), "{raw:?}");
        }
    }
}
