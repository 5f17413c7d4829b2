//! Where an event happens.

use common::domain::DomainError;

use super::Coordinates;

/// A place: a name, maybe an address, maybe a position (events without one are never found by a
/// location search).
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    name: String,
    address: Option<String>,
    position: Option<Coordinates>,
}

impl Place {
    /// Longest name, in characters.
    pub const MAX_NAME_LEN: usize = 120;
    /// Longest address, in characters.
    pub const MAX_ADDRESS_LEN: usize = 200;

    /// Trims and bounds the texts; the position is parsed by the caller.
    pub fn parse(
        name: &str,
        address: Option<&str>,
        position: Option<Coordinates>,
    ) -> Result<Self, PlaceError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(PlaceError::Name(DomainError::Empty));
        }
        if name.chars().count() > Self::MAX_NAME_LEN {
            return Err(PlaceError::Name(DomainError::TooLong {
                max: Self::MAX_NAME_LEN,
            }));
        }
        let address = address.map(str::trim).filter(|a| !a.is_empty());
        if address.is_some_and(|a| a.chars().count() > Self::MAX_ADDRESS_LEN) {
            return Err(PlaceError::Address(DomainError::TooLong {
                max: Self::MAX_ADDRESS_LEN,
            }));
        }
        Ok(Self {
            name: name.to_owned(),
            address: address.map(str::to_owned),
            position,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn address(&self) -> Option<&str> {
        self.address.as_deref()
    }

    pub fn position(&self) -> Option<Coordinates> {
        self.position
    }
}

/// Which part of a place is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    #[error("{0}")]
    Name(DomainError),
    #[error("{0}")]
    Address(DomainError),
}
