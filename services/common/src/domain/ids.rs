//! Ids: one type per kind of thing, so a user id can never be passed where an event id belongs.
//!
//! Each wraps a MongoDB `ObjectId` and serialises as one (a BSON ObjectId in stored documents).
//! Where an id travels or is stored as 24 hex digits (wire messages, a reminder's owner), the
//! field says so with `#[serde(with = "common::domain::ids::hex")]`. Ids are parsed once, at the
//! edge: a path segment, a message, a token's `sub`.

use std::{fmt, str::FromStr};

use mongodb::bson::{Bson, oid::ObjectId};
use serde::{Deserialize, Serialize};

use super::DomainError;

/// What every id type can do; lets [`hex`] serve them all.
pub trait Id: Copy + From<ObjectId> + Into<ObjectId> {}

macro_rules! object_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(ObjectId);

        impl $name {
            /// A fresh id.
            pub fn new() -> Self {
                Self(ObjectId::new())
            }

            /// 24 hex digits, or [`DomainError::Malformed`].
            pub fn parse(raw: &str) -> Result<Self, DomainError> {
                ObjectId::parse_str(raw).map(Self).map_err(|_| DomainError::Malformed {
                    expected: "a 24-hex id",
                })
            }

            /// The underlying ObjectId, for queries.
            pub fn object_id(self) -> ObjectId {
                self.0
            }

            /// The id that is this ObjectId (usable in constants).
            pub const fn from_object_id(id: ObjectId) -> Self {
                Self(id)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl Id for $name {}

        impl From<ObjectId> for $name {
            fn from(id: ObjectId) -> Self {
                Self(id)
            }
        }

        impl From<$name> for ObjectId {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl From<$name> for Bson {
            fn from(id: $name) -> Self {
                Bson::ObjectId(id.0)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                Self::parse(raw)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

object_id!(
    /// An account.
    UserId
);
object_id!(
    /// An event of the catalogue.
    EventId
);
object_id!(
    /// A reminder.
    ReminderId
);

/// Serialises an id as its 24 hex digits and parses it back, for wire messages and for fields
/// stored as text.
pub mod hex {
    use mongodb::bson::oid::ObjectId;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::Id;

    /// The id as 24 hex digits.
    pub fn serialize<S: Serializer, T: Id>(id: &T, serializer: S) -> Result<S::Ok, S::Error> {
        let id: ObjectId = (*id).into();
        serializer.serialize_str(&id.to_hex())
    }

    /// 24 hex digits, or an error naming what was found.
    pub fn deserialize<'de, D: Deserializer<'de>, T: Id>(deserializer: D) -> Result<T, D::Error> {
        let raw = String::deserialize(deserializer)?;
        ObjectId::parse_str(&raw)
            .map(T::from)
            .map_err(|_| D::Error::custom(format!("{raw:?} is not a 24-hex id")))
    }
}

#[cfg(test)]
mod tests {
    use mongodb::bson::{self, doc};
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Both {
        #[serde(rename = "_id")]
        id: EventId,
        #[serde(with = "hex")]
        user_id: UserId,
    }

    #[test]
    fn ids_are_stored_as_object_ids_or_as_hex_where_asked() {
        let both = Both {
            id: EventId::new(),
            user_id: UserId::new(),
        };
        let stored = bson::to_document(&both).unwrap();
        assert_eq!(stored.get_object_id("_id").unwrap(), both.id.object_id());
        assert_eq!(
            stored.get_str("user_id").unwrap(),
            both.user_id.object_id().to_hex()
        );
        assert_eq!(bson::from_document::<Both>(stored).unwrap(), both);
    }

    #[test]
    fn hex_ids_are_plain_strings_on_the_wire() {
        let user_id = UserId::new();
        let json = serde_json::json!({ "_id": { "$oid": EventId::new().to_string() }, "user_id": user_id.to_string() });
        let both: Both = serde_json::from_value(json).unwrap();
        assert_eq!(both.user_id, user_id);
        let bad =
            serde_json::json!({ "_id": { "$oid": EventId::new().to_string() }, "user_id": "nope" });
        let err = serde_json::from_value::<Both>(bad).unwrap_err();
        assert!(err.to_string().contains("24-hex"), "{err}");
    }

    #[test]
    fn parsing_accepts_24_hex_digits_only() {
        let id = ReminderId::new();
        assert_eq!(ReminderId::parse(&id.to_string()), Ok(id));
        for raw in [
            "",
            "xyz",
            "65f1c0ffee0000000000abc",
            "65f1c0ffee0000000000abcdz",
        ] {
            assert!(ReminderId::parse(raw).is_err(), "{raw:?}");
        }
        assert_eq!(
            doc! { "id": id }.get_object_id("id").unwrap(),
            id.object_id()
        );
    }
}
