//! Domain values more than one service holds: ids, an email address, a topic, a time zone,
//! bounded text. Each parses, so an invalid one cannot exist, whether it came from a request, a
//! stored document or a message.

mod email;
pub mod ids;
mod text;
mod timezone;
mod topic;

pub use email::EmailAddress;
pub use ids::{EventId, ReminderId, UserId};
pub use text::{bounded, bounded_line};
pub use timezone::{TimeZone, unparsable_counter};
pub use topic::Topic;

/// What is wrong with a raw value; the API layer adds the field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Nothing (or only whitespace) was given.
    #[error("must not be empty")]
    Empty,
    /// Shorter than allowed.
    #[error("must be at least {min} characters")]
    TooShort {
        /// The minimum length, in characters.
        min: usize,
    },
    /// Longer than allowed.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The maximum length, in characters.
        max: usize,
    },
    /// More items than allowed.
    #[error("must have at most {max} items")]
    TooMany {
        /// The most items allowed.
        max: usize,
    },
    /// A number outside the range it must lie in.
    #[error("must be within {range}")]
    OutOfRange {
        /// The allowed range, as the client should read it (`-90..=90`).
        range: &'static str,
    },
    /// Not of the expected form.
    #[error("must be {expected}")]
    Malformed {
        /// What a valid value looks like.
        expected: &'static str,
    },
}
