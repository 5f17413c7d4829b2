use std::fmt;

use common::domain::DomainError;

/// A password as the user typed it: 8 to 128 characters. Never printed, never stored; only its
/// Argon2id hash is.
pub struct Password(String);

impl Password {
    /// Fewest characters accepted.
    pub const MIN_LEN: usize = 8;
    /// Most characters accepted (bounds the hashing cost an attacker can ask for).
    pub const MAX_LEN: usize = 128;

    /// Checks the length in characters; nothing is trimmed, every character counts.
    pub fn parse(raw: String) -> Result<Self, DomainError> {
        match raw.chars().count() {
            0 => Err(DomainError::Empty),
            n if n < Self::MIN_LEN => Err(DomainError::TooShort { min: Self::MIN_LEN }),
            n if n > Self::MAX_LEN => Err(DomainError::TooLong { max: Self::MAX_LEN }),
            _ => Ok(Self(raw)),
        }
    }

    /// The bytes to hash or verify.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_counted_in_characters() {
        assert!(Password::parse("ñññññññ".into()).is_err());
        assert!(Password::parse("ññññññññ".into()).is_ok());
        assert!(Password::parse("x".repeat(128)).is_ok());
    }

    #[test]
    fn out_of_range_lengths_say_which_limit() {
        assert_eq!(
            Password::parse(String::new()).err(),
            Some(DomainError::Empty)
        );
        assert_eq!(
            Password::parse("short".into()).err(),
            Some(DomainError::TooShort { min: 8 })
        );
        assert_eq!(
            Password::parse("x".repeat(129)).err(),
            Some(DomainError::TooLong { max: 128 })
        );
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let password = Password::parse("correct horse battery staple".into()).unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }
}
