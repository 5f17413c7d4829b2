//! Where events are: an R*-tree of their positions as points on the unit sphere, so a distance
//! search walks outwards from its centre and stops at its radius instead of measuring every
//! event. Straight-line (chord) distances between such points order them exactly as their
//! great-circle distances do, with no special case at the antimeridian or the poles; the exact
//! distance is still computed, by haversine, for what is shown and for the radius.

use common::domain::EventId;
use rstar::{RTree, primitives::GeomWithData};

use crate::{search::Near, store::EventDoc};

type Point = GeomWithData<[f64; 3], EventId>;

/// The positions of every live event that has one.
#[derive(Default)]
pub struct Places {
    tree: RTree<Point>,
}

fn point(event: &EventDoc) -> Option<Point> {
    let position = event.place.position()?;
    Some(GeomWithData::new(position.unit_vector(), event.id))
}

impl Places {
    /// Adds `event`'s position, if it has one.
    pub fn insert(&mut self, event: &EventDoc) {
        if let Some(point) = point(event) {
            self.tree.insert(point);
        }
    }

    /// Takes out `event`'s position (as it was inserted).
    pub fn remove(&mut self, event: &EventDoc) {
        if let Some(point) = point(event) {
            self.tree.remove(&point);
        }
    }

    /// The events within `near`, nearest first.
    pub fn nearest(&self, near: Near) -> impl Iterator<Item = EventId> + '_ {
        let limit = near.radius.chord().powi(2);
        self.tree
            .nearest_neighbor_iter_with_distance_2(near.center.unit_vector())
            .take_while(move |(_, distance_2)| *distance_2 <= limit)
            .map(|(point, _)| point.data)
    }

    /// The events within `near`, in no order.
    pub fn within(&self, near: Near) -> impl Iterator<Item = EventId> + '_ {
        self.tree
            .locate_within_distance(near.center.unit_vector(), near.radius.chord().powi(2))
            .map(|point| point.data)
    }
}
