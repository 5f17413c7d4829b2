//! A catalogue search as the store runs it: every filter parsed, the sort, and the opaque cursor
//! that resumes it. Pagination is keyset (the last item's sort key and id), so events added
//! while a client pages never shift what it sees next.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use common::domain::Topic;
use mongodb::bson::oid::ObjectId;

use crate::domain::{Coordinates, Radius};

/// Items per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u32 = 20;
/// Most items per page.
pub const MAX_LIMIT: u32 = 100;

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Soonest first (ties by id).
    StartsAt,
    /// Nearest first (ties by id); needs [`Search::near`].
    Distance,
}

/// A circle to search in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Near {
    pub center: Coordinates,
    pub radius: Radius,
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// Any of these topics; empty means any topic.
    pub topics: Vec<Topic>,
    /// Events starting at or after this.
    pub from: DateTime<Utc>,
    /// Events starting before this.
    pub to: Option<DateTime<Utc>>,
    pub near: Option<Near>,
    /// Every one of these words, in the title or description.
    pub words: Vec<String>,
    /// Events to leave out (those a user already saved).
    pub exclude: Vec<ObjectId>,
    pub sort: Sort,
    pub limit: u32,
    /// Where the previous page ended.
    pub after: Option<Cursor>,
}

impl Search {
    /// Upcoming events from `now`, soonest first, the default page size.
    pub fn upcoming(now: DateTime<Utc>) -> Self {
        Self {
            topics: Vec::new(),
            from: now,
            to: None,
            near: None,
            words: Vec::new(),
            exclude: Vec::new(),
            sort: Sort::StartsAt,
            limit: DEFAULT_LIMIT,
            after: None,
        }
    }
}

/// Where a page ended: the sort key of its last item and that item's id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cursor {
    StartsAt {
        starts_at: DateTime<Utc>,
        id: ObjectId,
    },
    Distance {
        km: f64,
        id: ObjectId,
    },
}

impl Cursor {
    /// The sort this cursor continues.
    pub fn sort(&self) -> Sort {
        match self {
            Self::StartsAt { .. } => Sort::StartsAt,
            Self::Distance { .. } => Sort::Distance,
        }
    }

    /// Opaque to clients: they hand it back as they got it.
    pub fn encode(&self) -> String {
        let raw = match self {
            Self::StartsAt { starts_at, id } => format!("t:{}:{id}", starts_at.timestamp_millis()),
            Self::Distance { km, id } => format!("d:{km}:{id}"),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// `None` for anything [`Cursor::encode`] did not produce.
    pub fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(3, ':');
        let (kind, key, id) = (parts.next()?, parts.next()?, parts.next()?);
        let id = ObjectId::parse_str(id).ok()?;
        match kind {
            "t" => Some(Self::StartsAt {
                starts_at: DateTime::from_timestamp_millis(key.parse().ok()?)?,
                id,
            }),
            "d" => {
                let km: f64 = key.parse().ok()?;
                km.is_finite().then_some(Self::Distance { km, id })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_survive_the_round_trip() {
        let id = ObjectId::new();
        let starts_at = DateTime::from_timestamp_millis(1_790_000_000_123).unwrap();
        for cursor in [
            Cursor::StartsAt { starts_at, id },
            Cursor::Distance {
                km: 359.917_263_1,
                id,
            },
        ] {
            assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }
    }

    #[test]
    fn anything_else_is_not_a_cursor() {
        for raw in [
            "",
            "!!",
            "dDox",
            &URL_SAFE_NO_PAD.encode("x:1:65f1c0ffee0000000000abcd"),
            &URL_SAFE_NO_PAD.encode("d:NaN:65f1c0ffee0000000000abcd"),
            &URL_SAFE_NO_PAD.encode("t:1:nothex"),
        ] {
            assert_eq!(Cursor::decode(raw), None, "{raw}");
        }
    }
}
