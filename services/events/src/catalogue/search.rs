//! Runs a [`Search`] over the catalogue in memory. Without words: events in start order from
//! the cursor (or `from`) up to `to`, read from the wanted topics' own start orders when it has
//! topics, kept when they lie within the circle by exact great-circle distance; ordered by
//! distance when asked. With words: the events the text index finds (`text.rs`), filtered the
//! same way, in the search's sort.
//!
//! Facets count the whole filtered set without reading it when they can: with neither words
//! nor a place, each topic's count is two rank lookups in its start order; otherwise the hits
//! are gathered once into a bitmap and intersected with each topic's.

use std::{
    collections::{BTreeMap, BTreeSet},
    ops::Bound,
    sync::Arc,
};

use common::{
    domain::{EventId, Topic},
    page::Page,
};
use mongodb::bson;
use roaring::RoaringBitmap;

use super::{
    Catalogue, State, Tier,
    places::Located,
    slots::Slot,
    topics::{Start, start_of},
};
use crate::{
    search::{Cursor, Near, Search, Sort},
    store::EventDoc,
};

/// An event a search found, with its distance when the search had a centre and how well it
/// matched when it had words.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub event: Arc<EventDoc>,
    pub distance_km: Option<f64>,
    pub tier: Option<Tier>,
}

impl Found {
    /// The cursor that resumes a search after this item.
    pub fn cursor(&self, sort: Sort) -> Cursor {
        let (id, starts_at) = (self.event.id, self.event.starts_at.to_chrono());
        match (sort, self.distance_km, self.tier) {
            (Sort::Distance, Some(km), _) => Cursor::Distance { km, id },
            (Sort::Relevance, _, Some(tier)) => Cursor::Relevance {
                tier,
                starts_at,
                id,
            },
            _ => Cursor::StartsAt { starts_at, id },
        }
    }
}

/// A hit before it is shown: what its sort and the cursor need, and where its event is held.
/// Small and copied, so that thousands of hits are sorted without touching their events.
#[derive(Debug, Clone, Copy)]
struct Hit {
    slot: Slot,
    starts_at: bson::DateTime,
    id: EventId,
    distance_km: Option<f64>,
    tier: Option<Tier>,
}

impl Hit {
    /// Whether this hit comes after `cursor` in its sort.
    fn is_after(&self, cursor: &Cursor) -> bool {
        let (id, starts_at) = (self.id, self.starts_at.to_chrono());
        match *cursor {
            Cursor::StartsAt {
                starts_at: at,
                id: last,
            } => (starts_at, id) > (at, last),
            Cursor::Distance { km, id: last } => {
                let d = self.distance_km.unwrap_or(f64::MAX);
                d > km || (d == km && id > last)
            }
            Cursor::Relevance {
                tier,
                starts_at: at,
                id: last,
            } => (self.tier, starts_at, id) > (Some(tier), at, last),
        }
    }

    /// How two hits compare in `sort`.
    fn order(sort: Sort) -> impl Fn(&Self, &Self) -> std::cmp::Ordering {
        move |a, b| match sort {
            Sort::StartsAt => (a.starts_at, a.id).cmp(&(b.starts_at, b.id)),
            Sort::Relevance => (a.tier, a.starts_at, a.id).cmp(&(b.tier, b.starts_at, b.id)),
            Sort::Distance => {
                let (da, db) = (
                    a.distance_km.unwrap_or(f64::MAX),
                    b.distance_km.unwrap_or(f64::MAX),
                );
                da.total_cmp(&db).then(a.id.cmp(&b.id))
            }
        }
    }
}

impl Catalogue {
    /// One page of `search`.
    pub fn search(&self, search: &Search) -> Page<Found> {
        let state = self.read();
        let hits = match (search.words.is_empty(), search.near) {
            (false, _) => sorted_page(state.text_hits(search), search),
            (true, Some(near)) if search.sort == Sort::Distance => state.nearest(search, near),
            (true, Some(near)) => sorted_page(state.near(search, near).collect(), search),
            (true, None) => state.in_start_order(search),
        };
        let found = hits.iter().filter_map(|hit| state.shown(hit)).collect();
        Page::from_read(found, search.limit)
    }

    /// One page of `search`, and for each topic how many events the search finds with it when
    /// its topic filter is left out (and its cursor: the counts are of the whole search, not of
    /// a page). A search with words or a place gathers its hits once, for both.
    pub fn search_with_facets(&self, search: &Search) -> (Page<Found>, BTreeMap<String, u64>) {
        let state = self.read();
        let everything = Search {
            topics: Vec::new(),
            after: None,
            ..search.clone()
        };
        let (hits, counts) = match (search.words.is_empty(), search.near) {
            (true, None) => (
                state.in_start_order(search),
                state.count_starting(&everything),
            ),
            (no_words, near) => {
                let all = match near {
                    Some(near) if no_words => state.near(&everything, near).collect(),
                    _ => state.text_hits(&everything),
                };
                let slots = bitmap_of(all.iter().map(|hit| hit.slot), state.events.bound());
                let counts = state.topics.count_among(&slots);
                let wanted =
                    (!search.topics.is_empty()).then(|| state.topics.any_of(&search.topics));
                let kept = all
                    .into_iter()
                    .filter(|hit| wanted.as_ref().is_none_or(|any| any.contains(hit.slot)))
                    .collect();
                (sorted_page(kept, search), counts)
            }
        };
        let found = hits.iter().filter_map(|hit| state.shown(hit)).collect();
        let counts = counts
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .map(|(topic, count)| (topic.to_string(), count))
            .collect();
        (Page::from_read(found, search.limit), counts)
    }
}

/// The smallest id, for a bound that includes every event starting at an instant.
const FIRST_ID: EventId = EventId::from_object_id(bson::oid::ObjectId::from_bytes([0; 12]));

/// The place in start order before every event starting at `at`.
fn before_all_at(at: chrono::DateTime<chrono::Utc>) -> Start {
    (bson::DateTime::from_chrono(at), FIRST_ID, 0)
}

impl State {
    /// Where `search` begins in start order: at `from`, or after its start-order cursor.
    fn lower_bound(search: &Search) -> Bound<Start> {
        let from = before_all_at(search.from);
        match search.after {
            Some(Cursor::StartsAt { starts_at, id }) => {
                let after = (bson::DateTime::from_chrono(starts_at), id, Slot::MAX);
                if after < from {
                    Bound::Included(from)
                } else {
                    Bound::Excluded(after)
                }
            }
            _ => Bound::Included(from),
        }
    }

    /// A page of what `search` (without words or place) keeps, soonest first, after its
    /// cursor: from the catalogue's start order, or merged from its topics' own.
    fn in_start_order(&self, search: &Search) -> Vec<Hit> {
        let wanted = Page::<Found>::read_size(search.limit);
        let lower = Self::lower_bound(search);
        let to = search.to.map(before_all_at);
        let before_to = |start: &&Start| to.is_none_or(|to| **start < to);
        let kept = |start: &&Start| !search.exclude.contains(&start.1);
        let starts: Vec<Start> = if search.topics.is_empty() {
            self.by_start
                .range((lower, Bound::Unbounded))
                .take_while(before_to)
                .filter(kept)
                .take(wanted)
                .copied()
                .collect()
        } else {
            // Each topic's first page, merged: an event with two wanted topics is read twice.
            let mut merged: Vec<Start> = search
                .topics
                .iter()
                .flat_map(|topic| {
                    self.topics
                        .starting(topic, lower)
                        .take_while(before_to)
                        .filter(kept)
                        .take(wanted)
                        .copied()
                })
                .collect();
            merged.sort_unstable();
            merged.dedup();
            merged.truncate(wanted);
            merged
        };
        starts
            .into_iter()
            .map(|(starts_at, id, slot)| Hit {
                slot,
                starts_at,
                id,
                distance_km: None,
                tier: None,
            })
            .collect()
    }

    /// Per topic, how many events `search` (without words or place) finds: two rank lookups
    /// each, less the excluded events it would have counted.
    fn count_starting(&self, search: &Search) -> Vec<(&Topic, u64)> {
        let from = before_all_at(search.from);
        let to = search.to.map(before_all_at);
        let mut counts: Vec<(&Topic, u64)> = self.topics.count_starting(from, to).collect();
        let excluded: BTreeSet<EventId> = search.exclude.iter().copied().collect();
        for (slot, event) in excluded.into_iter().filter_map(|id| self.events.find(id)) {
            let start = start_of(slot, event);
            if start < from || to.is_some_and(|to| start >= to) {
                continue;
            }
            for (topic, count) in &mut counts {
                if event.topics.as_slice().contains(topic) {
                    *count = count.saturating_sub(1);
                }
            }
        }
        counts
    }

    /// Every event with the search's words that passes its other filters, in no order. With a
    /// place and many matches, the circle is gathered first (its points know their slots), so
    /// no match has its event's place read from wherever it is in memory.
    fn text_hits(&self, search: &Search) -> Vec<Hit> {
        let filter = self.filter(search);
        let matches = self.text.matching(&search.words);
        let with_tier = |tier| {
            move |hit: Hit| Hit {
                tier: Some(tier),
                ..hit
            }
        };
        match search.near {
            Some(near) if matches.len() > FEW_TO_MEASURE_ONE_BY_ONE => {
                let mut circle: Vec<(Located, f64)> = self.places.within(near).collect();
                circle.sort_unstable_by_key(|(located, _)| located.slot);
                let slots = bitmap_of(
                    circle.iter().map(|(located, _)| located.slot),
                    self.events.bound(),
                );
                matches
                    .among(&slots)
                    .iter()
                    .filter_map(|(slot, tier)| {
                        let at = circle.binary_search_by_key(&slot, |(l, _)| l.slot).ok()?;
                        let (located, km) = circle[at];
                        filter.hit(located, Some(km)).map(with_tier(tier))
                    })
                    .collect()
            }
            near => matches
                .iter()
                .filter_map(|(slot, tier)| {
                    let distance_km = match near {
                        None => None,
                        Some(near) => Some(self.distance_km(slot, near)?),
                    };
                    self.hit(&filter, slot, distance_km).map(with_tier(tier))
                })
                .collect(),
        }
    }

    /// How far the event at `slot` is from `near`'s centre, if within its circle.
    fn distance_km(&self, slot: Slot, near: Near) -> Option<f64> {
        let km = self
            .events
            .get(slot)?
            .place
            .position()?
            .distance_km(near.center);
        (km <= near.radius.km()).then_some(km)
    }

    /// A page of what lies in the circle, nearest first (ties by id), after the distance
    /// cursor: read outwards from the centre until the page is full and its last distance's
    /// ties are in.
    fn nearest(&self, search: &Search, near: Near) -> Vec<Hit> {
        let wanted = Page::<Found>::read_size(search.limit);
        let mut found: Vec<Hit> = Vec::with_capacity(wanted);
        let filter = self.filter(search);
        for (located, km) in self.places.nearest(near) {
            let Some(hit) = filter.hit(located, Some(km)) else {
                continue;
            };
            if search
                .after
                .as_ref()
                .is_some_and(|cursor| !hit.is_after(cursor))
            {
                continue;
            }
            let full = found.len() >= wanted;
            if full && found.last().and_then(|last| last.distance_km) < hit.distance_km {
                break;
            }
            found.push(hit);
        }
        sorted_page(found, search)
    }

    /// Everything in the circle that passes the other filters, in no order.
    fn near<'a>(&'a self, search: &'a Search, near: Near) -> impl Iterator<Item = Hit> + 'a {
        let filter = self.filter(search);
        self.places
            .within(near)
            .filter_map(move |(located, km)| filter.hit(located, Some(km)))
    }

    /// The event at `slot` as a hit, if it passes `filter`; its distance, when the search has
    /// a centre, is already known to be within the circle.
    fn hit(&self, filter: &Filter, slot: Slot, distance_km: Option<f64>) -> Option<Hit> {
        let (starts_at, id) = self.events.key(slot)?;
        let located = Located {
            slot,
            starts_at,
            id,
        };
        filter.hit(located, distance_km)
    }

    /// What `search` filters on but words, prepared once for its hits.
    fn filter(&self, search: &Search) -> Filter {
        Filter {
            from: bson::DateTime::from_chrono(search.from),
            to: search.to.map(bson::DateTime::from_chrono),
            topics: (!search.topics.is_empty()).then(|| self.topics.any_of(&search.topics)),
            excluded: search
                .exclude
                .iter()
                .filter_map(|id| self.events.find(*id).map(|(slot, _)| slot))
                .collect(),
        }
    }

    /// `hit` as the page shows it.
    fn shown(&self, hit: &Hit) -> Option<Found> {
        Some(Found {
            event: Arc::clone(self.events.get(hit.slot)?),
            distance_km: hit.distance_km,
            tier: hit.tier,
        })
    }
}

/// The first page of `hits` in `search`'s sort after its cursor (as much as a page reads):
/// selected, then only those sorted.
fn sorted_page(mut hits: Vec<Hit>, search: &Search) -> Vec<Hit> {
    if let Some(cursor) = &search.after {
        hits.retain(|hit| hit.is_after(cursor));
    }
    let order = Hit::order(search.sort);
    let wanted = Page::<Found>::read_size(search.limit);
    if hits.len() > wanted {
        hits.select_nth_unstable_by(wanted - 1, &order);
        hits.truncate(wanted);
    }
    hits.sort_unstable_by(order);
    hits
}

/// The bitmap of `slots` (each below `bound`), in any order. Set in a plain bit array first:
/// inserting thousands of slots in no order into a compressed bitmap, or sorting them for it,
/// cost more than the rest of a place search.
fn bitmap_of(slots: impl Iterator<Item = Slot>, bound: usize) -> RoaringBitmap {
    let mut bits = vec![0u8; bound.div_ceil(8)];
    for slot in slots {
        if let Some(byte) = bits.get_mut(slot as usize / 8) {
            *byte |= 1 << (slot % 8);
        }
    }
    RoaringBitmap::from_lsb0_bytes(0, &bits)
}

/// Matches of a search with words and a place, from which on the circle is gathered first
/// rather than each match's distance measured at its event.
const FEW_TO_MEASURE_ONE_BY_ONE: u64 = 2_000;

/// What a search filters on but words, as slots where it can.
struct Filter {
    from: bson::DateTime,
    to: Option<bson::DateTime>,
    /// The events with any wanted topic, when some are wanted.
    topics: Option<RoaringBitmap>,
    excluded: RoaringBitmap,
}

impl Filter {
    /// `event` as a hit, if it passes the time range, the topics and the exclusions.
    fn hit(&self, event: Located, distance_km: Option<f64>) -> Option<Hit> {
        let Located {
            slot,
            starts_at,
            id,
        } = event;
        let passes = starts_at >= self.from
            && self.to.is_none_or(|to| starts_at < to)
            && self.topics.as_ref().is_none_or(|any| any.contains(slot))
            && !self.excluded.contains(slot);
        passes.then_some(Hit {
            slot,
            starts_at,
            id,
            distance_km,
            tier: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Utc;

    use super::*;
    use crate::{
        catalogue::{Change, tests::event},
        domain::{Coordinates, Radius},
    };

    fn at(catalogue: &Catalogue, lat: f64, lon: f64) -> EventId {
        let mut doc = event(EventId::new(), 1, 2);
        (doc.place.lat, doc.place.lon) = (Some(lat), Some(lon));
        let id = doc.id;
        catalogue.apply(Change::Put(Arc::new(doc)));
        id
    }

    fn with_topics(catalogue: &Catalogue, days: i64, topics: &[&str]) -> EventId {
        let mut doc = event(EventId::new(), 1, days);
        doc.topics =
            crate::domain::Topics::parse(topics.iter().map(|slug| topic(slug)).collect()).unwrap();
        let id = doc.id;
        catalogue.apply(Change::Put(Arc::new(doc)));
        id
    }

    fn topic(slug: &str) -> Topic {
        Topic::parse(slug).unwrap()
    }

    #[test]
    fn a_search_by_topics_merges_their_start_orders_and_pages_through_them() {
        let catalogue = Catalogue::default();
        let both = with_topics(&catalogue, 1, &["jazz", "wine"]);
        let wine = with_topics(&catalogue, 2, &["wine"]);
        with_topics(&catalogue, 3, &["rust"]);
        let jazz = with_topics(&catalogue, 4, &["jazz"]);
        let mut search = Search {
            topics: vec![topic("jazz"), topic("wine")],
            limit: 2,
            ..Search::upcoming(Utc::now())
        };
        let first = catalogue.search(&search);
        let ids: Vec<EventId> = first.items.iter().map(|hit| hit.event.id).collect();
        assert_eq!(
            ids,
            [both, wine],
            "soonest first, the event with both topics once"
        );
        search.after = Some(first.items[1].cursor(Sort::StartsAt));
        let second = catalogue.search(&search);
        let ids: Vec<EventId> = second.items.iter().map(|hit| hit.event.id).collect();
        assert_eq!(ids, [jazz]);
    }

    #[test]
    fn facets_count_the_time_range_without_the_excluded_events() {
        let catalogue = Catalogue::default();
        let saved = with_topics(&catalogue, 1, &["jazz", "wine"]);
        with_topics(&catalogue, 2, &["jazz"]);
        with_topics(&catalogue, 3, &["jazz"]);
        with_topics(&catalogue, 30, &["jazz", "rust"]);
        let search = Search {
            topics: vec![topic("wine")],
            to: Some(Utc::now() + chrono::Duration::days(10)),
            exclude: vec![saved, saved],
            ..Search::upcoming(Utc::now())
        };
        let (_, counts) = catalogue.search_with_facets(&search);
        assert_eq!(
            counts.into_iter().collect::<Vec<_>>(),
            [("jazz".to_owned(), 2)],
            "the topic filter left out, the saved event and the one after `to` not counted"
        );
    }

    /// Events titled `title` at `count` places along a line east of Granada, one every 100 m.
    fn along_a_line(catalogue: &Catalogue, title: &str, count: usize) {
        for i in 0..count {
            let mut doc = crate::catalogue::tests::titled(title, "");
            (doc.place.lat, doc.place.lon) = (Some(37.18), Some(-3.6 + i as f64 * 0.001_13));
            catalogue.apply(Change::Put(Arc::new(doc)));
        }
    }

    #[test]
    fn words_and_a_place_find_the_same_whether_matches_are_few_or_many() {
        let granada = Near {
            center: Coordinates::parse(37.18, -3.6).unwrap(),
            radius: Radius::parse(10.0).unwrap(),
        };
        let search = Search {
            words: vec!["night".into()],
            near: Some(granada),
            ..Search::upcoming(Utc::now())
        };
        for matches in [100, 2 * FEW_TO_MEASURE_ONE_BY_ONE as usize] {
            let catalogue = Catalogue::default();
            along_a_line(&catalogue, "Jazz night", matches);
            along_a_line(&catalogue, "Jazz morning", 50);
            let in_circle = catalogue.read().text_hits(&search);
            let expected = (0..matches).filter(|i| *i as f64 * 0.1 <= 10.0).count();
            assert!(
                in_circle.len().abs_diff(expected) <= 1,
                "{matches} matches: {} in the circle, about {expected} expected",
                in_circle.len()
            );
            assert!(in_circle.iter().all(|hit| {
                hit.tier == Some(Tier::Title) && hit.distance_km.is_some_and(|km| km <= 10.0)
            }));
        }
    }

    #[test]
    fn a_reload_rebuilds_the_place_index_without_what_it_dropped() {
        let catalogue = Catalogue::default();
        at(&catalogue, 37.18, -3.6);
        let mut kept = event(EventId::new(), 1, 3);
        (kept.place.lat, kept.place.lon) = (Some(37.181), Some(-3.601));
        let kept_id = kept.id;
        catalogue.reload(vec![kept], Utc::now() + chrono::Duration::seconds(1));
        let search = Search {
            near: Some(Near {
                center: Coordinates::parse(37.18, -3.6).unwrap(),
                radius: Radius::parse(5.0).unwrap(),
            }),
            sort: Sort::Distance,
            ..Search::upcoming(Utc::now())
        };
        let (found, _) = catalogue.search_with_facets(&search);
        let ids: Vec<EventId> = found.items.iter().map(|hit| hit.event.id).collect();
        assert_eq!(
            ids,
            [kept_id],
            "the dropped event is gone from the places too"
        );
        assert_eq!(catalogue.search(&search).items.len(), 1);
    }

    #[test]
    fn distance_search_walks_out_from_the_centre_across_the_antimeridian() {
        let catalogue = Catalogue::default();
        let west = at(&catalogue, 0.0, -179.9);
        let east = at(&catalogue, 0.0, 179.7);
        at(&catalogue, 0.0, 170.0);
        let search = Search {
            near: Some(Near {
                center: Coordinates::parse(0.0, 179.95).unwrap(),
                radius: Radius::parse(50.0).unwrap(),
            }),
            sort: Sort::Distance,
            ..Search::upcoming(Utc::now())
        };
        let found = catalogue.search(&search);
        let ids: Vec<EventId> = found.items.iter().map(|hit| hit.event.id).collect();
        assert_eq!(ids, [west, east], "nearest first, the far one left out");
        let km = found.items[0].distance_km.unwrap();
        assert!((16.0..17.0).contains(&km), "{km}");
    }
}
