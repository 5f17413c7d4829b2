//! Where events are: an R*-tree of their positions as points on the unit sphere, so a distance
//! search walks outwards from its centre and stops at its radius instead of measuring every
//! event. Straight-line (chord) distances between such points order them exactly as their
//! great-circle distances do, with no special case at the antimeridian or the poles; the exact
//! distance is still computed, by haversine, for what is shown and for the radius.
//!
//! Each point carries its event's start and id beside its slot: a search filters and orders
//! the thousands of events in a circle from the tree's leaves alone, instead of reaching for
//! each one's key at a slot scattered over memory (that was most of a place search's time).

use common::domain::EventId;
use mongodb::bson;
use rstar::{RTree, primitives::GeomWithData};

use super::slots::Slot;
use crate::{domain::great_circle_km, search::Near, store::EventDoc};

/// An event where it is: what a place search reads of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Located {
    pub slot: Slot,
    pub starts_at: bson::DateTime,
    pub id: EventId,
}

type Point = GeomWithData<[f64; 3], Located>;

/// The positions of every live event that has one.
#[derive(Default)]
pub struct Places {
    tree: RTree<Point>,
}

fn point(slot: Slot, event: &EventDoc) -> Option<Point> {
    let position = event.place.position()?;
    let located = Located {
        slot,
        starts_at: event.starts_at,
        id: event.id,
    };
    Some(GeomWithData::new(position.unit_vector(), located))
}

impl Places {
    /// Adds `event`'s position (at `slot`), if it has one.
    pub fn insert(&mut self, slot: Slot, event: &EventDoc) {
        if let Some(point) = point(slot, event) {
            self.tree.insert(point);
        }
    }

    /// Replaces every position with those of `events` (with their slots), packed in one go: a
    /// tree bulk-loaded from a whole catalogue overlaps less than one grown an event at a time,
    /// so a search visits fewer of its nodes.
    pub fn rebuild<'a>(&mut self, events: impl Iterator<Item = (Slot, &'a EventDoc)>) {
        let points = events
            .filter_map(|(slot, event)| point(slot, event))
            .collect();
        self.tree = RTree::bulk_load(points);
    }

    /// Takes out `event`'s position (as it was inserted at `slot`).
    pub fn remove(&mut self, slot: Slot, event: &EventDoc) {
        if let Some(point) = point(slot, event) {
            self.tree.remove(&point);
        }
    }

    /// The events within `near` with their distances in kilometres, nearest first.
    pub fn nearest(&self, near: Near) -> impl Iterator<Item = (Located, f64)> + '_ {
        let limit = near.radius.chord().powi(2);
        self.tree
            .nearest_neighbor_iter_with_distance_2(near.center.unit_vector())
            .take_while(move |(_, distance_2)| *distance_2 <= limit)
            .filter_map(move |(point, distance_2)| in_circle(near, point, distance_2))
    }

    /// The events within `near` with their distances in kilometres, in no order.
    pub fn within(&self, near: Near) -> impl Iterator<Item = (Located, f64)> + '_ {
        let center = near.center.unit_vector();
        self.tree
            .locate_within_distance(center, near.radius.chord().powi(2))
            .filter_map(move |point| {
                let distance_2 = (0..3).map(|i| (point.geom()[i] - center[i]).powi(2)).sum();
                in_circle(near, point, distance_2)
            })
    }
}

/// `point`'s event and distance, if it lies in the circle by great-circle distance (the tree
/// reads a hair beyond it).
fn in_circle(near: Near, point: &Point, distance_2: f64) -> Option<(Located, f64)> {
    let km = great_circle_km(distance_2.sqrt());
    (km <= near.radius.km()).then_some((point.data, km))
}
