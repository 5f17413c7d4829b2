//! What `q` finds: every word of the query, in the title or the description, by the word itself
//! or its English stem ("concerts" finds "concert"), the last word also as a prefix (search as
//! you type: "jaz" finds "jazz"), and a word of five letters or more also with one typo
//! ("concrt" finds "concert").
//!
//! An inverted index over the catalogue's words: a sorted vocabulary (so a prefix is a range),
//! the words behind each stem, and for each word the events having it in the title or only in
//! the description. How well an event matches is a [`Tier`], the worst over the query's words.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::OnceLock,
};

use common::domain::EventId;
use rust_stemmers::{Algorithm, Stemmer};

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
    /// The tier's rank, as cursors carry it.
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// The tier of `rank`.
    pub fn from_rank(rank: u8) -> Option<Self> {
        [Self::Title, Self::TitleNear, Self::Description]
            .into_iter()
            .find(|tier| tier.rank() == rank)
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
    title: HashSet<EventId>,
    description: HashSet<EventId>,
}

impl Postings {
    fn is_empty(&self) -> bool {
        self.title.is_empty() && self.description.is_empty()
    }
}

/// The words of every event in the catalogue.
#[derive(Debug, Default)]
pub struct TextIndex {
    words: BTreeMap<String, Postings>,
    stems: HashMap<String, HashSet<String>>,
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

impl TextIndex {
    /// Indexes `event`'s title and description (take out its previous version first).
    pub fn insert(&mut self, event: &EventDoc) {
        for (word, field) in entries(event) {
            let postings = self.words.entry(word.clone()).or_insert_with(|| {
                self.stems
                    .entry(stem(&word))
                    .or_default()
                    .insert(word.clone());
                Postings::default()
            });
            match field {
                Field::Title => postings.title.insert(event.id),
                Field::Description => postings.description.insert(event.id),
            };
        }
    }

    /// Takes `event` (as it was inserted) out.
    pub fn remove(&mut self, event: &EventDoc) {
        let id = event.id;
        for (word, field) in entries(event) {
            let Some(postings) = self.words.get_mut(&word) else {
                continue;
            };
            match field {
                Field::Title => postings.title.remove(&id),
                Field::Description => postings.description.remove(&id),
            };
            if postings.is_empty() {
                self.words.remove(&word);
                let key = stem(&word);
                if let Some(words) = self.stems.get_mut(&key) {
                    words.remove(&word);
                    if words.is_empty() {
                        self.stems.remove(&key);
                    }
                }
            }
        }
    }

    /// The events matching every word of `query` (lower-cased, as `domain::words` gives
    /// them), each with how well it matches.
    pub fn matching(&self, query: &[String]) -> HashMap<EventId, Tier> {
        let mut matched: Option<HashMap<EventId, Tier>> = None;
        for (i, term) in query.iter().enumerate() {
            let this = self.term(term, i + 1 == query.len());
            matched = Some(match matched {
                None => this,
                Some(before) => before
                    .into_iter()
                    .filter_map(|(id, tier)| this.get(&id).map(|t| (id, tier.max(*t))))
                    .collect(),
            });
            if matched.as_ref().is_some_and(HashMap::is_empty) {
                break;
            }
        }
        matched.unwrap_or_default()
    }

    /// The events one query word matches, each with its best tier.
    fn term(&self, term: &str, is_last: bool) -> HashMap<EventId, Tier> {
        let mut best: HashMap<EventId, Tier> = HashMap::new();
        let mut add = |word: &str, exact: bool| {
            let Some(postings) = self.words.get(word) else {
                return;
            };
            let in_title = if exact { Tier::Title } else { Tier::TitleNear };
            for (ids, tier) in [
                (&postings.title, in_title),
                (&postings.description, Tier::Description),
            ] {
                for id in ids {
                    best.entry(*id)
                        .and_modify(|t| *t = (*t).min(tier))
                        .or_insert(tier);
                }
            }
        };
        add(term, true);
        for word in self.stems.get(&stem(term)).into_iter().flatten() {
            add(word, true);
        }
        if is_last {
            let prefixed = self
                .words
                .range::<str, _>((std::ops::Bound::Excluded(term), std::ops::Bound::Unbounded))
                .take_while(|(word, _)| word.starts_with(term));
            for (word, _) in prefixed {
                add(word, false);
            }
        }
        let chars = term.chars().count();
        if chars >= FUZZY_FROM_CHARS {
            let near = self.words.keys().filter(|word| {
                word.chars().count().abs_diff(chars) <= 1 && strsim::levenshtein(word, term) == 1
            });
            for word in near {
                add(word, false);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::tests::titled;

    fn index(events: &[&EventDoc]) -> TextIndex {
        let mut index = TextIndex::default();
        for event in events {
            index.insert(event);
        }
        index
    }

    fn query(q: &str) -> Vec<String> {
        words([q])
    }

    #[test]
    fn word_forms_prefixes_and_one_typo_find_the_event() {
        let concert = titled("Open air concert", "Bring a blanket");
        let jazz = titled("Jazz night", "Live music in the square");
        let text = index(&[&concert, &jazz]);
        for (q, id) in [
            ("concerts", concert.id),
            ("jaz", jazz.id),
            ("concrt", concert.id),
            ("blankets", concert.id),
            ("live jazz", jazz.id),
        ] {
            let found = text.matching(&query(q));
            assert_eq!(found.keys().collect::<Vec<_>>(), [&id], "{q}");
        }
        assert!(
            text.matching(&query("jaz night")).is_empty(),
            "only the last word is a prefix"
        );
        assert!(
            text.matching(&query("nigt")).is_empty(),
            "short words need the right letters"
        );
    }

    #[test]
    fn the_tier_is_the_worst_over_the_query_words() {
        let title = titled("Jazz concert", "");
        let near = titled("Jazzy concerto", "");
        let description = titled("Evening out", "a jazz concert");
        let text = index(&[&title, &near, &description]);
        let found = text.matching(&query("jazz concert"));
        assert_eq!(found[&title.id], Tier::Title);
        assert_eq!(found[&description.id], Tier::Description);
        let found = text.matching(&query("concert jazz"));
        assert_eq!(found[&near.id], Tier::TitleNear, "jazzy by prefix");
    }

    #[test]
    fn a_removed_or_replaced_event_is_found_by_its_new_words_only() {
        let before = titled("Flamenco", "");
        let mut text = index(&[&before]);
        let mut event = before.clone();
        event.title = crate::domain::Title::parse("Tango").unwrap();
        text.remove(&before);
        text.insert(&event);
        assert!(text.matching(&query("flamenco")).is_empty());
        assert_eq!(text.matching(&query("tango")).len(), 1);
        text.remove(&event);
        assert!(text.matching(&query("tango")).is_empty());
        assert!(text.words.is_empty() && text.stems.is_empty());
    }
}
