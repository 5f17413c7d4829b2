//! A catalogue search as the catalogue runs it: every filter parsed, the sort, and the opaque
//! cursor that resumes it. Pagination is keyset (the last item's sort key and id), so events added
//! while a client pages never shift what it sees next.

use chrono::{DateTime, Utc};
use common::{
    domain::{EventId, Topic},
    page::{self, DEFAULT_LIMIT},
};

use crate::{
    catalogue::Tier,
    domain::{Coordinates, Radius},
};

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Soonest first (ties by id).
    StartsAt,
    /// Nearest first (ties by id); needs [`Search::near`].
    Distance,
    /// Best match first (see [`Tier`]), then soonest, then by id; needs words. The default
    /// when there are words.
    Relevance,
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
    pub exclude: Vec<EventId>,
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
        id: EventId,
    },
    Distance {
        km: f64,
        id: EventId,
    },
    Relevance {
        tier: Tier,
        starts_at: DateTime<Utc>,
        id: EventId,
    },
}

/// A relevance cursor's sort key: the tier, then the start.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RelevanceKey {
    tier: Tier,
    starts_at: DateTime<Utc>,
}

impl page::CursorKey for RelevanceKey {
    fn encode(&self) -> String {
        format!("{}.{}", self.tier.rank(), self.starts_at.encode())
    }

    fn decode(raw: &str) -> Option<Self> {
        let (tier, starts_at) = raw.split_once('.')?;
        Some(Self {
            tier: Tier::from_rank(tier.parse().ok()?)?,
            starts_at: page::CursorKey::decode(starts_at)?,
        })
    }
}

impl Cursor {
    /// The sort this cursor continues.
    pub fn sort(&self) -> Sort {
        match self {
            Self::StartsAt { .. } => Sort::StartsAt,
            Self::Distance { .. } => Sort::Distance,
            Self::Relevance { .. } => Sort::Relevance,
        }
    }

    /// Opaque to clients: they hand it back as they got it.
    pub fn encode(&self) -> String {
        match *self {
            Self::StartsAt { starts_at, id } => {
                page::Cursor::new(starts_at, id.to_string()).encode(BY_START)
            }
            Self::Distance { km, id } => page::Cursor::new(km, id.to_string()).encode(BY_DISTANCE),
            Self::Relevance {
                tier,
                starts_at,
                id,
            } => page::Cursor::new(RelevanceKey { tier, starts_at }, id.to_string())
                .encode(BY_RELEVANCE),
        }
    }

    /// `None` for anything [`Cursor::encode`] did not produce.
    pub fn decode(raw: &str) -> Option<Self> {
        if let Some(cursor) = page::Cursor::decode(raw, BY_START) {
            let id = EventId::parse(&cursor.id).ok()?;
            return Some(Self::StartsAt {
                starts_at: cursor.key,
                id,
            });
        }
        if let Some(cursor) = page::Cursor::<RelevanceKey>::decode(raw, BY_RELEVANCE) {
            let id = EventId::parse(&cursor.id).ok()?;
            return Some(Self::Relevance {
                tier: cursor.key.tier,
                starts_at: cursor.key.starts_at,
                id,
            });
        }
        let cursor = page::Cursor::decode(raw, BY_DISTANCE)?;
        let id = EventId::parse(&cursor.id).ok()?;
        Some(Self::Distance { km: cursor.key, id })
    }
}

/// The lists a search cursor can belong to.
const BY_START: char = 't';
const BY_DISTANCE: char = 'd';
const BY_RELEVANCE: char = 'v';

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

    use super::*;

    #[test]
    fn cursors_survive_the_round_trip() {
        let id = EventId::new();
        let starts_at = DateTime::from_timestamp_millis(1_790_000_000_123).unwrap();
        for cursor in [
            Cursor::StartsAt { starts_at, id },
            Cursor::Distance {
                km: 359.917_263_1,
                id,
            },
            Cursor::Relevance {
                tier: Tier::TitleNear,
                starts_at,
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
