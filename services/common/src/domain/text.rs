//! Free text with limits: trimmed, at most so many characters, at least one unless it may be
//! empty. [`bounded_text!`](crate::bounded_text) declares one such type.

use super::DomainError;

/// Trims `raw` and checks its length in characters: at least `min`, at most `max`.
pub fn bounded(raw: &str, min: usize, max: usize) -> Result<String, DomainError> {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    if chars == 0 && min > 0 {
        return Err(DomainError::Empty);
    }
    if chars < min {
        return Err(DomainError::TooShort { min });
    }
    if chars > max {
        return Err(DomainError::TooLong { max });
    }
    Ok(trimmed.to_owned())
}

/// [`bounded`] text on one line: no line break or other control character, so it can go into
/// a mail header (a subject made from it) as it is.
pub fn bounded_line(raw: &str, min: usize, max: usize) -> Result<String, DomainError> {
    let text = bounded(raw, min, max)?;
    if text.chars().any(char::is_control) {
        return Err(DomainError::Malformed {
            expected: "one line without control characters",
        });
    }
    Ok(text)
}

/// Declares a text newtype that only [`bounded`] text can become, stored and sent as a string:
/// `bounded_text!(/// doc, Title, min = 1, max = 120);`, or [`bounded_line`] text with
/// `…, max = 120, one_line);`.
#[macro_export]
macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, min = $min:expr, max = $max:expr, one_line) => {
        $crate::bounded_text!(@ $(#[$doc])* $name, $min, $max, $crate::domain::bounded_line);
    };
    ($(#[$doc:meta])* $name:ident, min = $min:expr, max = $max:expr) => {
        $crate::bounded_text!(@ $(#[$doc])* $name, $min, $max, $crate::domain::bounded);
    };
    (@ $(#[$doc:meta])* $name:ident, $min:expr, $max:expr, $parse:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Fewest characters allowed.
            pub const MIN_LEN: usize = $min;
            /// Most characters allowed.
            pub const MAX_LEN: usize = $max;

            /// Trims surrounding whitespace, then checks the length.
            pub fn parse(raw: &str) -> Result<Self, $crate::domain::DomainError> {
                $parse(raw, Self::MIN_LEN, Self::MAX_LEN).map(Self)
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::domain::DomainError;

            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::bounded_text!(
        /// For the test.
        Note, min = 2, max = 5
    );

    #[test]
    fn text_is_trimmed_then_bounded_in_characters() {
        assert_eq!(Note::parse("  éé ").unwrap().as_str(), "éé");
        assert_eq!(Note::parse("   "), Err(DomainError::Empty));
        assert_eq!(Note::parse("a"), Err(DomainError::TooShort { min: 2 }));
        assert_eq!(Note::parse("abcdef"), Err(DomainError::TooLong { max: 5 }));
        assert_eq!(bounded("", 0, 3).unwrap(), "");
    }

    #[test]
    fn a_line_holds_no_line_break_or_other_control_character() {
        assert_eq!(bounded_line(" Jazz night ", 1, 20).unwrap(), "Jazz night");
        for broken in ["Jazz\r\nBcc: x@example.com", "Jazz\nnight", "Jazz\tnight"] {
            assert!(bounded_line(broken, 1, 40).is_err(), "{broken:?}");
        }
    }
}
