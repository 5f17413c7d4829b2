//! Pages of a list: the limit-plus-one read that tells whether more follow, and the one cursor
//! codec every list uses.
//!
//! A cursor is where a page ended: the last item's sort key and id, tagged with the list it
//! belongs to, so a cursor of one list is refused by another. Clients treat it as opaque text
//! (URL-safe base64 of `<list>:<key>:<id>`).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};

/// Items per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u32 = 20;
/// Most items per page.
pub const MAX_LIMIT: u32 = 100;

/// One page: its items, and whether more follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub more: bool,
}

impl<T> Page<T> {
    /// How many items to read for a page of `limit`: one more, to learn whether more follow.
    pub fn read_size(limit: u32) -> usize {
        usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
    }

    /// The page of `limit` items from what a [`Page::read_size`] read returned.
    pub fn from_read(mut read: Vec<T>, limit: u32) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = read.len() > limit;
        read.truncate(limit);
        Self { items: read, more }
    }

    /// The cursor of the next page, made from the last item, if more follow.
    pub fn next_cursor(&self, cursor_of: impl FnOnce(&T) -> String) -> Option<String> {
        self.more
            .then(|| self.items.last().map(cursor_of))
            .flatten()
    }
}

/// A sort key a cursor can carry.
pub trait CursorKey: Sized {
    /// As text without `:`.
    fn encode(&self) -> String;
    /// What [`CursorKey::encode`] wrote, or `None`.
    fn decode(raw: &str) -> Option<Self>;
}

/// Times travel as Unix milliseconds.
impl CursorKey for DateTime<Utc> {
    fn encode(&self) -> String {
        self.timestamp_millis().to_string()
    }

    fn decode(raw: &str) -> Option<Self> {
        DateTime::from_timestamp_millis(raw.parse().ok()?)
    }
}

/// Distances and other measures: finite numbers only.
impl CursorKey for f64 {
    fn encode(&self) -> String {
        self.to_string()
    }

    fn decode(raw: &str) -> Option<Self> {
        raw.parse::<f64>().ok().filter(|x| x.is_finite())
    }
}

/// Where a page of the list tagged `list` ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor<K> {
    /// The last item's sort key.
    pub key: K,
    /// The last item's id (the tie-breaker).
    pub id: String,
}

impl<K: CursorKey> Cursor<K> {
    /// The cursor after an item with `key` and `id`.
    pub fn new(key: K, id: impl Into<String>) -> Self {
        Self { key, id: id.into() }
    }

    /// The opaque text a client hands back.
    pub fn encode(&self, list: char) -> String {
        URL_SAFE_NO_PAD.encode(format!("{list}:{}:{}", self.key.encode(), self.id))
    }

    /// A cursor that [`Cursor::encode`] made for `list`, or `None`.
    pub fn decode(raw: &str, list: char) -> Option<Self> {
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
        let mut parts = text.splitn(3, ':');
        let (tag, key, id) = (parts.next()?, parts.next()?, parts.next()?);
        if tag.chars().ne([list]) || id.is_empty() {
            return None;
        }
        Some(Self::new(K::decode(key)?, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_reads_one_more_to_know_whether_more_follow() {
        assert_eq!(Page::<u8>::read_size(20), 21);
        let page = Page::from_read(vec![1, 2, 3], 2);
        assert_eq!(
            page,
            Page {
                items: vec![1, 2],
                more: true
            }
        );
        assert_eq!(page.next_cursor(|n| n.to_string()).as_deref(), Some("2"));
        let last = Page::from_read(vec![1, 2], 2);
        assert!(!last.more);
        assert_eq!(last.next_cursor(|n| n.to_string()), None);
    }

    #[test]
    fn cursors_round_trip_within_their_list_only() {
        let at = DateTime::from_timestamp_millis(1_790_000_000_123).unwrap();
        let cursor = Cursor::new(at, "65f1c0ffee0000000000abcd");
        let raw = cursor.encode('r');
        assert_eq!(Cursor::decode(&raw, 'r'), Some(cursor));
        assert_eq!(Cursor::<DateTime<Utc>>::decode(&raw, 's'), None);
        let km = Cursor::new(359.917_263_1, "x");
        assert_eq!(Cursor::decode(&km.encode('d'), 'd'), Some(km));
    }

    #[test]
    fn anything_else_is_not_a_cursor() {
        for raw in [
            String::new(),
            "!!".into(),
            URL_SAFE_NO_PAD.encode("d:NaN:65f1c0ffee0000000000abcd"),
            URL_SAFE_NO_PAD.encode("d:1.5:"),
            URL_SAFE_NO_PAD.encode("dd:1.5:x"),
            URL_SAFE_NO_PAD.encode("d:1.5"),
        ] {
            assert_eq!(Cursor::<f64>::decode(&raw, 'd'), None, "{raw}");
        }
    }
}
