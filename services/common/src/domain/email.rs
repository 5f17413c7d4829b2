use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use super::DomainError;

/// An email address, normalised to lower case so that uniqueness is case-insensitive.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Longest address SMTP can carry (RFC 5321 path limit less the brackets).
    pub const MAX_LEN: usize = 254;

    /// Trims, lower-cases and checks the RFC 5322 `addr-spec` form.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(DomainError::Empty);
        }
        if trimmed.chars().count() > Self::MAX_LEN {
            return Err(DomainError::TooLong { max: Self::MAX_LEN });
        }
        let normalised = trimmed.to_lowercase();
        let has_dotted_domain = normalised
            .rsplit_once('@')
            .is_some_and(|(_, domain)| domain.contains('.') && !domain.ends_with('.'));
        if !email_address::EmailAddress::is_valid(&normalised) || !has_dotted_domain {
            return Err(DomainError::Malformed {
                expected: "an email address like name@example.com",
            });
        }
        Ok(Self(normalised))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EmailAddress {
    type Err = DomainError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = DomainError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<EmailAddress> for String {
    fn from(email: EmailAddress) -> Self {
        email.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let email = EmailAddress::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
        assert_eq!(
            email,
            EmailAddress::parse("ada.lovelace@example.com").unwrap()
        );
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_reason() {
        let cases = [
            ("", DomainError::Empty),
            ("   ", DomainError::Empty),
            (
                &format!("{}@example.com", "a".repeat(250)),
                DomainError::TooLong { max: 254 },
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(EmailAddress::parse(raw), Err(expected), "{raw:?}");
        }
        for raw in [
            "plainaddress",
            "@example.com",
            "a@",
            "a@b",
            "a b@example.com",
            "a@example.com.",
        ] {
            assert!(
                matches!(EmailAddress::parse(raw), Err(DomainError::Malformed { .. })),
                "{raw:?} accepted"
            );
        }
    }

    #[test]
    fn stored_values_parse_on_the_way_in() {
        let ok: EmailAddress = serde_json::from_str("\"Grace@Example.org\"").unwrap();
        assert_eq!(ok.as_str(), "grace@example.org");
        assert!(serde_json::from_str::<EmailAddress>("\"not-an-email\"").is_err());
    }
}
