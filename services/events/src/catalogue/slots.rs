//! Every live event under a small number of its own, its slot, so that the indexes hold sets
//! of 4-byte slots (compressed bitmaps) instead of sets of 12-byte ids, and find an event from
//! one by indexing rather than hashing. A removed event's slot is reused by the next one.

use std::{collections::HashMap, sync::Arc};

use common::domain::EventId;
use mongodb::bson;
use roaring::RoaringBitmap;

use crate::store::EventDoc;

/// Where an event is held.
pub type Slot = u32;

/// The live events, each at its slot.
#[derive(Default)]
pub struct Slots {
    held: Vec<Option<Arc<EventDoc>>>,
    /// Each slot's start and id, side by side: filtering and sorting thousands of hits reads
    /// these, not the events scattered over the heap.
    keys: Vec<(bson::DateTime, EventId)>,
    free: Vec<Slot>,
    of: HashMap<EventId, Slot, foldhash::fast::RandomState>,
}

impl Slots {
    /// Holds `event` (whose id is not held yet) and returns its slot.
    #[expect(
        clippy::expect_used,
        reason = "a catalogue of 4 billion events would not fit in memory anyway"
    )]
    pub fn insert(&mut self, event: Arc<EventDoc>) -> Slot {
        let (id, key) = (event.id, (event.starts_at, event.id));
        let slot = match self.free.pop() {
            Some(slot) => {
                self.held[slot as usize] = Some(event);
                self.keys[slot as usize] = key;
                slot
            }
            None => {
                self.held.push(Some(event));
                self.keys.push(key);
                Slot::try_from(self.held.len() - 1).expect("fewer than 4 billion live events")
            }
        };
        self.of.insert(id, slot);
        slot
    }

    /// Lets go of event `id`, returning where it was and what it was.
    pub fn remove(&mut self, id: EventId) -> Option<(Slot, Arc<EventDoc>)> {
        let slot = self.of.remove(&id)?;
        let event = self.held.get_mut(slot as usize)?.take()?;
        self.free.push(slot);
        Some((slot, event))
    }

    /// The event at `slot`.
    pub fn get(&self, slot: Slot) -> Option<&Arc<EventDoc>> {
        self.held.get(slot as usize)?.as_ref()
    }

    /// The start and id of the event at `slot`, if it is live.
    pub fn key(&self, slot: Slot) -> Option<(bson::DateTime, EventId)> {
        self.held.get(slot as usize)?.as_ref()?;
        self.keys.get(slot as usize).copied()
    }

    /// Event `id` and its slot.
    pub fn find(&self, id: EventId) -> Option<(Slot, &Arc<EventDoc>)> {
        let slot = *self.of.get(&id)?;
        Some((slot, self.get(slot)?))
    }

    /// Every live event, in no order.
    pub fn events(&self) -> impl Iterator<Item = &Arc<EventDoc>> {
        self.held.iter().flatten()
    }

    /// One more than the highest slot ever held: every slot is below it.
    pub fn bound(&self) -> usize {
        self.held.len()
    }

    /// Every live event with its slot, in slot order.
    pub fn with_slots(&self) -> impl Iterator<Item = (Slot, &EventDoc)> {
        (0..)
            .zip(&self.held)
            .filter_map(|(slot, held)| Some((slot, held.as_deref()?)))
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.of.is_empty()
    }
}

/// A set of slots that costs nothing on the heap while it holds at most one: most words of a
/// large catalogue are in one event (names, numbers), and a bitmap for each would cost more
/// than the event.
#[derive(Debug, Default)]
pub enum SlotSet {
    #[default]
    Empty,
    One(Slot),
    Many(RoaringBitmap),
}

impl SlotSet {
    pub fn insert(&mut self, slot: Slot) {
        match self {
            Self::Empty => *self = Self::One(slot),
            Self::One(one) if *one == slot => {}
            Self::One(one) => *self = Self::Many(RoaringBitmap::from_iter([*one, slot])),
            Self::Many(many) => {
                many.insert(slot);
            }
        }
    }

    pub fn remove(&mut self, slot: Slot) {
        match self {
            Self::One(one) if *one == slot => *self = Self::Empty,
            Self::Many(many) => {
                many.remove(slot);
                if many.len() <= 1 {
                    *self = many.min().map_or(Self::Empty, Self::One);
                }
            }
            Self::Empty | Self::One(_) => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// Adds these slots to `into`.
    pub fn add_to(&self, into: &mut RoaringBitmap) {
        match self {
            Self::Empty => {}
            Self::One(slot) => {
                into.insert(*slot);
            }
            Self::Many(many) => *into |= many,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(set: &SlotSet) -> Vec<Slot> {
        let mut all = RoaringBitmap::new();
        set.add_to(&mut all);
        all.iter().collect()
    }

    #[test]
    fn a_slot_set_grows_into_a_bitmap_and_shrinks_back() {
        let mut set = SlotSet::default();
        set.insert(7);
        set.insert(7);
        assert!(matches!(set, SlotSet::One(7)));
        set.insert(3);
        assert_eq!(members(&set), [3, 7]);
        set.remove(7);
        assert!(matches!(set, SlotSet::One(3)));
        set.remove(9);
        set.remove(3);
        assert!(set.is_empty());
        assert!(members(&set).is_empty());
    }
}
