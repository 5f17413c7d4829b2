//! Which events carry each topic, kept two ways: as a bitmap of slots, so a search's hits are
//! counted per topic by intersecting; and in start order with ranks (an order-statistic
//! B-tree), so the events a topic has in a time range are counted with two lookups, and a
//! topic's page is read without passing over every other topic's events.

use std::{collections::HashMap, ops::Bound};

use common::domain::{EventId, Topic};
use mongodb::bson;
use roaring::RoaringBitmap;

use super::slots::Slot;
use crate::store::EventDoc;

/// An event's place in start order: its start, then its id (the slot only rides along).
pub type Start = (bson::DateTime, EventId, Slot);

/// The events of every topic.
#[derive(Default)]
pub struct TopicIndex {
    by_topic: HashMap<Topic, Carrying, foldhash::fast::RandomState>,
}

/// The events carrying one topic.
#[derive(Default)]
struct Carrying {
    slots: RoaringBitmap,
    starts: indexset::BTreeSet<Start>,
}

/// Where `event`, at `slot`, is in start order.
pub fn start_of(slot: Slot, event: &EventDoc) -> Start {
    (event.starts_at, event.id, slot)
}

impl TopicIndex {
    /// Adds `event` (at `slot`) under each of its topics.
    pub fn insert(&mut self, slot: Slot, event: &EventDoc) {
        for topic in event.topics.as_slice() {
            let carrying = self.by_topic.entry(topic.clone()).or_default();
            carrying.slots.insert(slot);
            carrying.starts.insert(start_of(slot, event));
        }
    }

    /// Takes `event` (as it was inserted at `slot`) out.
    pub fn remove(&mut self, slot: Slot, event: &EventDoc) {
        for topic in event.topics.as_slice() {
            let Some(carrying) = self.by_topic.get_mut(topic) else {
                continue;
            };
            carrying.slots.remove(slot);
            carrying.starts.remove(&start_of(slot, event));
            if carrying.slots.is_empty() {
                self.by_topic.remove(topic);
            }
        }
    }

    /// How many events of each topic start from `from` (included) up to `to` (excluded).
    pub fn count_starting(
        &self,
        from: Start,
        to: Option<Start>,
    ) -> impl Iterator<Item = (&Topic, u64)> {
        self.by_topic.iter().map(move |(topic, carrying)| {
            let end = to.map_or(carrying.starts.len(), |to| carrying.starts.rank(&to));
            let count = end.saturating_sub(carrying.starts.rank(&from));
            (topic, count as u64)
        })
    }

    /// How many of `hits` carry each topic.
    pub fn count_among(&self, hits: &RoaringBitmap) -> Vec<(&Topic, u64)> {
        self.by_topic
            .iter()
            .map(|(topic, carrying)| (topic, carrying.slots.intersection_len(hits)))
            .collect()
    }

    /// The events carrying any of `topics`.
    pub fn any_of(&self, topics: &[Topic]) -> RoaringBitmap {
        topics
            .iter()
            .filter_map(|topic| self.by_topic.get(topic))
            .fold(RoaringBitmap::new(), |any, carrying| any | &carrying.slots)
    }

    /// `topic`'s events in start order from `from`.
    pub fn starting(&self, topic: &Topic, from: Bound<Start>) -> impl Iterator<Item = &Start> {
        self.by_topic
            .get(topic)
            .into_iter()
            .flat_map(move |carrying| carrying.starts.range((from, Bound::Unbounded)))
    }
}
