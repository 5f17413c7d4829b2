//! What `q` finds: every word of the query, in the title or the description, by the word itself
//! or its English stem ("concerts" finds "concert"), the last word also as a prefix (search as
//! you type: "jaz" finds "jazz"), and a word of five letters or more also with one typo
//! ("concrt" and "cnocert" find "concert"; numbers need every digit right).
//!
//! An inverted index over the catalogue's words: a sorted vocabulary (so a prefix is a range),
//! the same words spelled backwards (so a suffix is one too), the words behind each stem, and
//! for each word the bitmap of events (slots) having it in the title and in the description. A
//! word one typo away from a query word shares the query's first half or its last half, so the
//! typo candidates are two range reads, not the vocabulary. How well an event matches is a
//! [`Tier`], the worst over the query's words; the tiers are computed on bitmaps, never per
//! event.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    ops::Bound,
    sync::OnceLock,
};

use roaring::RoaringBitmap;
use rust_stemmers::{Algorithm, Stemmer};

use super::slots::{Slot, SlotSet};
use crate::{domain::words, store::EventDoc};

/// Shortest query word that tolerates one typo: shorter ones would match too much.
const FUZZY_FROM_CHARS: usize = 5;

/// How well an event matches a query, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// Every word is in the title, as itself or by its stem.
    Title = 0,
    /// Every word is in the title, some only by prefix or with a typo.
    TitleNear = 1,
    /// Some word is only in the description.
    Description = 2,
}

impl Tier {
    const ALL: [Self; 3] = [Self::Title, Self::TitleNear, Self::Description];

    /// The tier's rank, as cursors carry it.
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// The tier of `rank`.
    pub fn from_rank(rank: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|tier| tier.rank() == rank)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    Description,
}

/// The events a word is in, by where.
#[derive(Debug, Default)]
struct Postings {
    title: SlotSet,
    description: SlotSet,
}

impl Postings {
    fn is_empty(&self) -> bool {
        self.title.is_empty() && self.description.is_empty()
    }
}

/// The words of every event in the catalogue.
#[derive(Debug, Default)]
pub struct TextIndex {
    words: BTreeMap<Box<str>, Postings>,
    /// The words long enough to be a typo of a fuzzy query word, spelled backwards.
    reversed: BTreeSet<Box<str>>,
    /// The words behind each stem, but for the stem itself (most words are their own stem).
    stems: HashMap<Box<str>, Vec<Box<str>>, foldhash::fast::RandomState>,
}

/// The events a query matches, by tier (each event in one).
#[derive(Debug, Default)]
pub struct Matches {
    by_tier: [RoaringBitmap; 3],
}

impl Matches {
    /// How many events match.
    pub fn len(&self) -> u64 {
        self.by_tier.iter().map(RoaringBitmap::len).sum()
    }

    /// The matches among `slots`.
    pub fn among(&self, slots: &RoaringBitmap) -> Self {
        Self {
            by_tier: self.by_tier.each_ref().map(|tier| tier & slots),
        }
    }

    /// Every matching event with its tier, best tier first, by slot within a tier.
    pub fn iter(&self) -> impl Iterator<Item = (Slot, Tier)> + '_ {
        Tier::ALL
            .into_iter()
            .zip(&self.by_tier)
            .flat_map(|(tier, slots)| slots.iter().map(move |slot| (slot, tier)))
    }
}

/// What one query word matches: in the title by itself or its stem, in the title at all, and
/// anywhere.
struct TermMatch {
    title_exact: RoaringBitmap,
    title_any: RoaringBitmap,
    any: RoaringBitmap,
}

/// The words `event` puts in, and where. Computed again on removal rather than kept, which
/// would double the index's memory.
fn entries(event: &EventDoc) -> Vec<(String, Field)> {
    let title = words([event.title.as_str()]);
    let description = words([event.description.as_str()]);
    let mut entries = Vec::with_capacity(title.len() + description.len());
    entries.extend(title.into_iter().map(|w| (w, Field::Title)));
    entries.extend(description.into_iter().map(|w| (w, Field::Description)));
    entries
}

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

fn stem(word: &str) -> String {
    stemmer().stem(word).into_owned()
}

fn backwards(word: &str) -> Box<str> {
    word.chars().rev().collect::<String>().into_boxed_str()
}

/// Whether `word` could be one typo away from a query word that tolerates one: long enough,
/// and of letters only (a number one digit off is another number, not a typo).
fn may_be_a_typo(word: &str) -> bool {
    word.chars().count() + 1 >= FUZZY_FROM_CHARS && word.chars().all(char::is_alphabetic)
}

impl TextIndex {
    /// Indexes `event` (at `slot`) by its title and description.
    pub fn insert(&mut self, slot: Slot, event: &EventDoc) {
        for (word, field) in entries(event) {
            let postings = match self.words.get_mut(word.as_str()) {
                Some(postings) => postings,
                None => {
                    self.add_word(&word);
                    self.words.entry(word.as_str().into()).or_default()
                }
            };
            match field {
                Field::Title => postings.title.insert(slot),
                Field::Description => postings.description.insert(slot),
            };
        }
    }

    /// Takes `event` (as it was inserted at `slot`) out.
    pub fn remove(&mut self, slot: Slot, event: &EventDoc) {
        for (word, field) in entries(event) {
            let Some(postings) = self.words.get_mut(word.as_str()) else {
                continue;
            };
            match field {
                Field::Title => postings.title.remove(slot),
                Field::Description => postings.description.remove(slot),
            };
            if postings.is_empty() {
                self.words.remove(word.as_str());
                self.drop_word(&word);
            }
        }
    }

    /// Records a word new to the vocabulary under its stem and backwards.
    fn add_word(&mut self, word: &str) {
        let key = stem(word);
        if key != word {
            self.stems.entry(key.into()).or_default().push(word.into());
        }
        if may_be_a_typo(word) {
            self.reversed.insert(backwards(word));
        }
    }

    /// Forgets a word gone from the vocabulary.
    fn drop_word(&mut self, word: &str) {
        let key = stem(word);
        if let Some(words) = self.stems.get_mut(key.as_str()) {
            words.retain(|w| &**w != word);
            if words.is_empty() {
                self.stems.remove(key.as_str());
            }
        }
        if may_be_a_typo(word) {
            self.reversed.remove(&backwards(word));
        }
    }

    /// The events matching every word of `query` (lower-cased, as `domain::words` gives
    /// them), each in how well it matches.
    pub fn matching(&self, query: &[String]) -> Matches {
        let mut terms = query
            .iter()
            .enumerate()
            .map(|(i, term)| self.term(term, i + 1 == query.len()));
        let Some(first) = terms.next() else {
            return Matches::default();
        };
        let (mut title, mut title_any, mut any) = (first.title_exact, first.title_any, first.any);
        for term in terms {
            title &= term.title_exact;
            title_any &= term.title_any;
            any &= term.any;
            if any.is_empty() {
                break;
            }
        }
        let title_near = &title_any - &title;
        let description = &any - &title_any;
        Matches {
            by_tier: [title, title_near, description],
        }
    }

    /// What one query word matches.
    fn term(&self, term: &str, is_last: bool) -> TermMatch {
        let key = stem(term);
        let mut exact: Vec<&str> = vec![term];
        if key != term && self.words.contains_key(key.as_str()) && stem(&key) == key {
            exact.push(&key);
        }
        exact.extend(
            self.stems
                .get(key.as_str())
                .into_iter()
                .flatten()
                .map(|w| &**w),
        );
        let mut near: Vec<&str> = Vec::new();
        if is_last {
            near.extend(self.starting_with(term).filter(|word| *word != term));
        }
        near.extend(self.one_typo_from(term));
        let mut matched = TermMatch {
            title_exact: RoaringBitmap::new(),
            title_any: RoaringBitmap::new(),
            any: RoaringBitmap::new(),
        };
        for (word, is_exact) in exact
            .iter()
            .map(|w| (*w, true))
            .chain(near.iter().map(|w| (*w, false)))
        {
            let Some(postings) = self.words.get(word) else {
                continue;
            };
            if is_exact {
                postings.title.add_to(&mut matched.title_exact);
            }
            postings.title.add_to(&mut matched.title_any);
            postings.title.add_to(&mut matched.any);
            postings.description.add_to(&mut matched.any);
        }
        matched
    }

    /// The words starting with `prefix`, in order.
    fn starting_with<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.words
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .map(|(word, _)| &**word)
            .take_while(move |word| word.starts_with(prefix))
    }

    /// The words one typo away from `term` (a letter added, missing or wrong, or two
    /// neighbours swapped), when it is long enough to tolerate one. Such a word starts with the
    /// term's first `p` letters (the typo is after them) or ends with what follows letter
    /// `p + 1` (the typo is before), for `p` about half the term.
    fn one_typo_from<'a>(&'a self, term: &'a str) -> Vec<&'a str> {
        let chars = term.chars().count();
        if chars < FUZZY_FROM_CHARS || !may_be_a_typo(term) {
            return Vec::new();
        }
        let byte_at = |char_index: usize| {
            term.char_indices()
                .nth(char_index)
                .map_or(term.len(), |(at, _)| at)
        };
        let kept = (chars - 1) / 2;
        let (head, tail) = (&term[..byte_at(kept)], &term[byte_at(kept + 1)..]);
        let tail_backwards = backwards(tail);
        let is_one_typo_away = |word: &str| {
            may_be_a_typo(word)
                && word.chars().count().abs_diff(chars) <= 1
                && strsim::osa_distance(word, term) == 1
        };
        let mut found: Vec<&str> = self
            .starting_with(head)
            .filter(|word| is_one_typo_away(word))
            .collect();
        let ending: Vec<String> = self
            .reversed
            .range::<str, _>((Bound::Included(&*tail_backwards), Bound::Unbounded))
            .take_while(|word| word.starts_with(&*tail_backwards))
            .map(|word| word.chars().rev().collect())
            .filter(|word: &String| is_one_typo_away(word))
            .collect();
        for word in ending {
            if let Some((held, _)) = self.words.get_key_value(word.as_str())
                && !found.contains(&&**held)
            {
                found.push(held);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::tests::titled;

    /// The index of `events`, each at the slot of its position.
    fn index(events: &[&EventDoc]) -> TextIndex {
        let mut index = TextIndex::default();
        for (slot, event) in (0..).zip(events) {
            index.insert(slot, event);
        }
        index
    }

    fn found(text: &TextIndex, q: &str) -> Vec<(Slot, Tier)> {
        text.matching(&words([q])).iter().collect()
    }

    fn slots(text: &TextIndex, q: &str) -> Vec<Slot> {
        found(text, q).into_iter().map(|(slot, _)| slot).collect()
    }

    #[test]
    fn word_forms_prefixes_and_one_typo_find_the_event() {
        let concert = titled("Open air concert", "Bring a blanket");
        let jazz = titled("Jazz night", "Live music in the square");
        let text = index(&[&concert, &jazz]);
        for (q, slot) in [
            ("concerts", 0),
            ("concert", 0),
            ("jaz", 1),
            ("concrt", 0),
            ("cnocert", 0),
            ("xoncert", 0),
            ("concertx", 0),
            ("blankets", 0),
            ("live jazz", 1),
        ] {
            assert_eq!(slots(&text, q), [slot], "{q}");
        }
        assert!(
            slots(&text, "jaz night").is_empty(),
            "only the last word is a prefix"
        );
        assert!(
            slots(&text, "nigt").is_empty(),
            "short words need the right letters"
        );
        assert!(slots(&text, "cocrt").is_empty(), "one typo, not two");
        let numbered = index(&[&titled("Sunrise 10K", "Run 12345")]);
        assert_eq!(slots(&numbered, "12345"), [0]);
        assert!(
            slots(&numbered, "12346").is_empty(),
            "a number one digit off is another"
        );
    }

    #[test]
    fn a_word_and_its_stem_match_each_other_both_ways() {
        let plural = titled("Concerts in the park", "");
        let singular = titled("A concert", "");
        let text = index(&[&plural, &singular]);
        assert_eq!(slots(&text, "concert"), [0, 1]);
        assert_eq!(slots(&text, "concerts"), [0, 1]);
    }

    #[test]
    fn the_tier_is_the_worst_over_the_query_words() {
        let title = titled("Jazz concert", "");
        let near = titled("Jazzy concerto", "");
        let description = titled("Evening out", "a jazz concert");
        let text = index(&[&title, &near, &description]);
        assert_eq!(
            found(&text, "jazz concert"),
            [(0, Tier::Title), (2, Tier::Description)]
        );
        assert_eq!(
            found(&text, "concert jazz"),
            [
                (0, Tier::Title),
                (1, Tier::TitleNear),
                (2, Tier::Description)
            ],
            "jazzy by prefix"
        );
    }

    #[test]
    fn a_removed_or_replaced_event_is_found_by_its_new_words_only() {
        let before = titled("Flamenco concerts", "");
        let mut text = index(&[&before]);
        let mut event = before.clone();
        event.title = crate::domain::Title::parse("Tango").unwrap();
        text.remove(0, &before);
        text.insert(0, &event);
        assert!(slots(&text, "flamenco").is_empty());
        assert!(slots(&text, "flamenc").is_empty(), "nor by prefix or typo");
        assert_eq!(slots(&text, "tango"), [0]);
        text.remove(0, &event);
        assert!(slots(&text, "tango").is_empty());
        assert!(text.words.is_empty() && text.stems.is_empty() && text.reversed.is_empty());
    }
}
