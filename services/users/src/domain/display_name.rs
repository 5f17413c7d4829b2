use std::fmt;

use common::domain::{DomainError, bounded_line};
use serde::{Deserialize, Serialize};

/// How a user is shown to others: 1 to 60 characters after trimming, no control characters.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    /// Most characters accepted.
    pub const MAX_LEN: usize = 60;

    /// Trims and checks.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        bounded_line(raw, 1, Self::MAX_LEN).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DisplayName {
    type Error = DomainError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<DisplayName> for String {
    fn from(name: DisplayName) -> Self {
        name.0
    }
}

impl fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DisplayName({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed() {
        assert_eq!(DisplayName::parse("  Ada  ").unwrap().as_str(), "Ada");
    }

    #[test]
    fn empty_long_and_control_characters_are_refused() {
        assert_eq!(DisplayName::parse(" ").err(), Some(DomainError::Empty));
        assert_eq!(
            DisplayName::parse(&"n".repeat(61)).err(),
            Some(DomainError::TooLong { max: 60 })
        );
        assert!(matches!(
            DisplayName::parse("line\nbreak"),
            Err(DomainError::Malformed { .. })
        ));
    }
}
