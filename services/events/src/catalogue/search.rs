//! Runs a [`Search`] over the catalogue in memory. Without words: events in start order from
//! the cursor (or `from`) up to `to`, kept when they carry a wanted topic and lie within the
//! circle by exact great-circle distance; ordered by distance when asked. With words: the events
//! the text index finds (`text.rs`), filtered the same way, in the search's sort.

use std::{
    collections::{BTreeMap, HashMap},
    ops::Bound,
    sync::Arc,
};

use common::{
    domain::{EventId, Topic},
    page::Page,
};
use mongodb::bson;

use super::{Catalogue, State, Tier};
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

    /// Whether this item comes after `cursor` in its sort.
    fn is_after(&self, cursor: &Cursor) -> bool {
        let (id, starts_at) = (self.event.id, self.event.starts_at.to_chrono());
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
}

impl Catalogue {
    /// One page of `search`.
    pub fn search(&self, search: &Search) -> Page<Found> {
        let state = self.read();
        let found = match (search.words.is_empty(), search.near) {
            (false, _) => state.by_words(search),
            (true, Some(near)) if search.sort == Sort::Distance => state.nearest(search, near),
            (true, Some(near)) => sorted_page(state.near(search, near).collect(), search),
            (true, None) => state
                .matching(search)
                .take(Page::<Found>::read_size(search.limit))
                .collect(),
        };
        Page::from_read(found, search.limit)
    }

    /// For each topic, how many events `search` finds with it when its topic filter is left
    /// out (and its cursor: the counts are of the whole search, not of a page).
    pub fn topic_counts(&self, search: &Search) -> BTreeMap<String, u64> {
        let state = self.read();
        let everything = Search {
            topics: Vec::new(),
            after: None,
            ..search.clone()
        };
        // Counted by reference: a search over 100,000 events must not allocate per event.
        let mut counts: HashMap<&Topic, u64> = HashMap::new();
        let mut count = |event: &Arc<EventDoc>| {
            for topic in state.topics_of(event) {
                *counts.entry(topic).or_insert(0) += 1;
            }
        };
        match (everything.words.is_empty(), everything.near) {
            (false, _) => state
                .text_hits(&everything)
                .for_each(|hit| count(&hit.event)),
            (true, Some(near)) => state
                .near(&everything, near)
                .for_each(|hit| count(&hit.event)),
            (true, None) => state
                .matching(&everything)
                .for_each(|hit| count(&hit.event)),
        }
        counts
            .into_iter()
            .map(|(topic, count)| (topic.to_string(), count))
            .collect()
    }
}

/// The smallest id, for a bound that includes every event starting at an instant.
const FIRST_ID: EventId = EventId::from_object_id(bson::oid::ObjectId::from_bytes([0; 12]));

impl State {
    /// `event`'s topics, borrowed from the catalogue's own copy of it.
    fn topics_of<'a>(&'a self, event: &Arc<EventDoc>) -> &'a [Topic] {
        self.events
            .get(&event.id)
            .map_or(&[], |held| held.topics.as_slice())
    }

    /// Every event `search` keeps, soonest first, after its start-order cursor.
    fn matching<'a>(&'a self, search: &'a Search) -> impl Iterator<Item = Found> + 'a {
        let from = (bson::DateTime::from_chrono(search.from), FIRST_ID);
        let lower = match search.after {
            Some(Cursor::StartsAt { starts_at, id }) => {
                let after = (bson::DateTime::from_chrono(starts_at), id);
                if after < from {
                    Bound::Included(from)
                } else {
                    Bound::Excluded(after)
                }
            }
            _ => Bound::Included(from),
        };
        let to = search.to.map(bson::DateTime::from_chrono);
        self.by_start
            .range((lower, Bound::Unbounded))
            .take_while(move |(starts_at, _)| to.is_none_or(|to| *starts_at < to))
            .filter_map(|(_, id)| self.events.get(id))
            .filter(|event| keeps(search, event))
            .filter_map(|event| within(search.near, event))
    }

    /// Every event with the search's words that passes its other filters, in its sort, after
    /// its cursor.
    fn by_words(&self, search: &Search) -> Vec<Found> {
        sorted_page(self.text_hits(search).collect(), search)
    }

    /// Every event with the search's words that passes its other filters, in no order.
    fn text_hits<'a>(&'a self, search: &'a Search) -> impl Iterator<Item = Found> + 'a {
        self.text
            .matching(&search.words)
            .into_iter()
            .filter_map(move |(id, tier)| {
                let mut hit = self.hit(search, id)?;
                hit.tier = Some(tier);
                Some(hit)
            })
    }

    /// A page of what lies in the circle, nearest first (ties by id), after the distance
    /// cursor: read outwards from the centre until the page is full and its last distance's
    /// ties are in.
    fn nearest(&self, search: &Search, near: Near) -> Vec<Found> {
        let wanted = Page::<Found>::read_size(search.limit);
        let mut found: Vec<Found> = Vec::with_capacity(wanted);
        for id in self.places.nearest(near) {
            let Some(hit) = self.hit(search, id) else {
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
    fn near<'a>(&'a self, search: &'a Search, near: Near) -> impl Iterator<Item = Found> + 'a {
        self.places
            .within(near)
            .filter_map(move |id| self.hit(search, id))
    }

    /// Event `id` as a hit of `search` (without its words), if it passes.
    fn hit(&self, search: &Search, id: EventId) -> Option<Found> {
        let event = self.events.get(&id)?;
        let from = bson::DateTime::from_chrono(search.from);
        let to = search.to.map(bson::DateTime::from_chrono);
        let when = event.starts_at >= from && to.is_none_or(|to| event.starts_at < to);
        (when && keeps(search, event))
            .then(|| within(search.near, event))
            .flatten()
    }
}

/// `found` in `search`'s sort, after its cursor, as much as a page reads.
fn sorted_page(mut found: Vec<Found>, search: &Search) -> Vec<Found> {
    if let Some(cursor) = &search.after {
        found.retain(|hit| hit.is_after(cursor));
    }
    let start = |hit: &Found| (hit.event.starts_at, hit.event.id);
    match search.sort {
        Sort::StartsAt => found.sort_by_key(start),
        Sort::Relevance => found.sort_by_key(|hit| (hit.tier, start(hit))),
        Sort::Distance => found.sort_by(|a, b| {
            let (da, db) = (
                a.distance_km.unwrap_or(f64::MAX),
                b.distance_km.unwrap_or(f64::MAX),
            );
            da.total_cmp(&db).then(a.event.id.cmp(&b.event.id))
        }),
    }
    found.truncate(Page::<Found>::read_size(search.limit));
    found
}

/// Whether `event` passes the topic and exclusion filters (words are the text index's).
fn keeps(search: &Search, event: &EventDoc) -> bool {
    let topics = event.topics.as_slice();
    (search.topics.is_empty() || search.topics.iter().any(|t| topics.contains(t)))
        && !search.exclude.contains(&event.id)
}

/// `event` with its distance if it lies in the circle (or if there is no circle).
fn within(near: Option<Near>, event: &Arc<EventDoc>) -> Option<Found> {
    let Some(near) = near else {
        return Some(Found {
            event: Arc::clone(event),
            distance_km: None,
            tier: None,
        });
    };
    let km = event.place.position()?.distance_km(near.center);
    (km <= near.radius.km()).then(|| Found {
        event: Arc::clone(event),
        distance_km: Some(km),
        tier: None,
    })
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
