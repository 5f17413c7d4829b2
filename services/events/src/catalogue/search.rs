//! Runs a [`Search`] over the catalogue in memory: events in start order from the cursor (or
//! `from`) up to `to`, kept when they carry a wanted topic and every word, and lie within the
//! circle by exact great-circle distance; ordered by distance when asked.

use std::{ops::Bound, sync::Arc};

use common::{domain::EventId, page::Page};
use mongodb::bson;

use super::{Catalogue, State};
use crate::{
    search::{Cursor, Near, Search, Sort},
    store::EventDoc,
};

/// An event a search found, with its distance when the search had a centre.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub event: Arc<EventDoc>,
    pub distance_km: Option<f64>,
}

impl Found {
    /// The cursor that resumes a search after this item.
    pub fn cursor(&self, sort: Sort) -> Cursor {
        match (sort, self.distance_km) {
            (Sort::Distance, Some(km)) => Cursor::Distance {
                km,
                id: self.event.id,
            },
            _ => Cursor::StartsAt {
                starts_at: self.event.starts_at.to_chrono(),
                id: self.event.id,
            },
        }
    }
}

impl Catalogue {
    /// One page of `search`.
    pub fn search(&self, search: &Search) -> Page<Found> {
        let state = self.read();
        let found = match search.sort {
            Sort::StartsAt => state
                .matching(search)
                .take(Page::<Found>::read_size(search.limit))
                .collect(),
            Sort::Distance => nearest(&state, search),
        };
        Page::from_read(found, search.limit)
    }
}

/// The smallest id, for a bound that includes every event starting at an instant.
const FIRST_ID: EventId = EventId::from_object_id(bson::oid::ObjectId::from_bytes([0; 12]));

impl State {
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
}

/// Everything in the circle, nearest first (ties by id), after the distance cursor.
fn nearest(state: &State, search: &Search) -> Vec<Found> {
    let mut found: Vec<Found> = state
        .matching(&Search {
            after: None,
            ..search.clone()
        })
        .filter(|hit| match search.after {
            Some(Cursor::Distance { km, id }) => {
                let d = hit.distance_km.unwrap_or(f64::MAX);
                d > km || (d == km && hit.event.id > id)
            }
            _ => true,
        })
        .collect();
    found.sort_by(|a, b| {
        let (da, db) = (
            a.distance_km.unwrap_or(f64::MAX),
            b.distance_km.unwrap_or(f64::MAX),
        );
        da.total_cmp(&db).then(a.event.id.cmp(&b.event.id))
    });
    found.truncate(Page::<Found>::read_size(search.limit));
    found
}

/// Whether `event` passes the topic, word and exclusion filters.
fn keeps(search: &Search, event: &EventDoc) -> bool {
    let topics = event.topics.as_slice();
    (search.topics.is_empty() || search.topics.iter().any(|t| topics.contains(t)))
        && search.words.iter().all(|word| event.words.contains(word))
        && !search.exclude.contains(&event.id)
}

/// `event` with its distance if it lies in the circle (or if there is no circle).
fn within(near: Option<Near>, event: &Arc<EventDoc>) -> Option<Found> {
    let Some(near) = near else {
        return Some(Found {
            event: Arc::clone(event),
            distance_km: None,
        });
    };
    let km = event.place.position()?.distance_km(near.center);
    (km <= near.radius.km()).then(|| Found {
        event: Arc::clone(event),
        distance_km: Some(km),
    })
}
