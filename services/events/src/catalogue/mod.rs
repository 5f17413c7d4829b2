//! The catalogue in memory: every live event, held by each instance and answering every
//! catalogue read (a single event, searches, recommendations, the events behind a saved list),
//! so no read depends on the database's query planner.
//!
//! The database stays the only source of truth. An instance loads the whole catalogue before it
//! serves, applies its own writes as soon as they are stored (so its next read shows them), and
//! follows every other instance's through their change messages (`follow.rs`). Invariant: a
//! change is applied only over an older version of its event, and a removal leaves its version
//! behind, so a message that arrives late or twice can neither bring back an older version nor
//! a deleted event.

mod follow;
mod places;
mod search;
mod slots;
mod text;
mod topics;

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, PoisonError, RwLock},
};

use chrono::{DateTime, Utc};
use common::domain::EventId;

use crate::store::EventDoc;

pub use follow::{Follower, load};
pub use search::Found;
pub use text::Tier;

/// A change to apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The event as it is at its version.
    Put(Arc<EventDoc>),
    /// The event is gone as of `version`.
    Remove { id: EventId, version: i64 },
}

impl Change {
    fn id(&self) -> EventId {
        match self {
            Self::Put(event) => event.id,
            Self::Remove { id, .. } => *id,
        }
    }

    fn version(&self) -> i64 {
        match self {
            Self::Put(event) => event.version,
            Self::Remove { version, .. } => *version,
        }
    }
}

/// The live catalogue; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Catalogue {
    state: Arc<RwLock<State>>,
}

#[derive(Default)]
struct State {
    /// Every live event, each at its slot (what the indexes hold).
    events: slots::Slots,
    /// Every live event by start, then id: the order of every search.
    by_start: BTreeSet<topics::Start>,
    /// The version each removed event was removed at (a live event's is in the event).
    removed: HashMap<EventId, i64, foldhash::fast::RandomState>,
    /// Every live event's topics, for `topic` and the facets.
    topics: topics::TopicIndex,
    /// Every live event's words, for `q`.
    text: text::TextIndex,
    /// Every live event's position, for `near`.
    places: places::Places,
}

impl State {
    fn apply(&mut self, change: Change) -> bool {
        self.apply_placing(change, true)
    }

    /// Applies `change`, leaving the place index alone unless `place`: a reload rebuilds it
    /// in one go afterwards, and growing it event by event first would cost its peak twice.
    fn apply_placing(&mut self, change: Change, place: bool) -> bool {
        let id = change.id();
        let known = match self.events.find(id) {
            Some((_, event)) => Some(event.version),
            None => self.removed.get(&id).copied(),
        };
        if known.is_some_and(|known| known >= change.version()) {
            return false;
        }
        match &change {
            Change::Put(_) => self.removed.remove(&id),
            Change::Remove { version, .. } => self.removed.insert(id, *version),
        };
        if let Some((slot, old)) = self.events.remove(id) {
            self.by_start.remove(&topics::start_of(slot, &old));
            self.topics.remove(slot, &old);
            self.text.remove(slot, &old);
            if place {
                self.places.remove(slot, &old);
            }
        }
        if let Change::Put(event) = change {
            let slot = self.events.insert(Arc::clone(&event));
            self.by_start.insert(topics::start_of(slot, &event));
            self.topics.insert(slot, &event);
            self.text.insert(slot, &event);
            if place {
                self.places.insert(slot, &event);
            }
        }
        true
    }
}

impl Catalogue {
    /// Applies `change` unless a newer version of its event is already known; returns whether
    /// it did.
    pub fn apply(&self, change: Change) -> bool {
        self.write().apply(change)
    }

    /// Makes the catalogue what the database held when `read_from` began (`events`), keeping
    /// what changes newer than that brought meanwhile: a loaded event replaces only an older
    /// version, and an event missing from `events` is dropped only if nothing changed it since.
    pub fn reload(&self, events: Vec<EventDoc>, read_from: DateTime<Utc>) {
        let mut state = self.write();
        let loaded: std::collections::HashSet<EventId> = events.iter().map(|e| e.id).collect();
        let gone: Vec<(EventId, i64)> = state
            .events
            .events()
            .filter(|e| !loaded.contains(&e.id) && e.updated_at.to_chrono() < read_from)
            .map(|e| (e.id, e.version + 1))
            .collect();
        for (id, version) in gone {
            state.apply_placing(Change::Remove { id, version }, false);
        }
        for event in events {
            state.apply_placing(Change::Put(Arc::new(event)), false);
        }
        let State { events, places, .. } = &mut *state;
        places.rebuild(events.with_slots());
    }

    /// The live event `id`.
    pub fn get(&self, id: EventId) -> Option<Arc<EventDoc>> {
        self.read()
            .events
            .find(id)
            .map(|(_, event)| Arc::clone(event))
    }

    /// The live events among `ids`, in their order.
    pub fn many(&self, ids: &[EventId]) -> Vec<Arc<EventDoc>> {
        let state = self.read();
        ids.iter()
            .filter_map(|id| state.events.find(*id).map(|(_, event)| Arc::clone(event)))
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock leaves whole maps behind (every update is a few
        // inserts and removes), so the state is still usable.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::api::EventIn;

    /// A valid stored event `id` at `version`, starting `days` from now.
    pub fn event(id: EventId, version: i64, days: i64) -> EventDoc {
        let body: EventIn = serde_json::from_value(serde_json::json!({
            "title": format!("Event {days}"),
            "starts_at": (Utc::now() + chrono::Duration::days(days)).to_rfc3339(),
            "timezone": "Europe/Madrid",
            "place": { "name": "Plaza", "lat": 37.18, "lon": -3.6 },
            "topics": ["music"],
        }))
        .unwrap();
        body.parse()
            .ok()
            .unwrap()
            .into_doc(id, version, bson::DateTime::now())
    }

    /// A valid stored event with this title and description.
    pub fn titled(title: &str, description: &str) -> EventDoc {
        let mut doc = event(EventId::new(), 1, 3);
        doc.title = crate::domain::Title::parse(title).unwrap();
        doc.description = crate::domain::Description::parse(description).unwrap();
        doc
    }

    fn put(id: EventId, version: i64, days: i64) -> Change {
        Change::Put(Arc::new(event(id, version, days)))
    }

    #[test]
    fn a_change_applies_only_over_an_older_version() {
        let catalogue = Catalogue::default();
        let id = EventId::new();
        assert!(catalogue.apply(put(id, 2, 3)));
        assert!(!catalogue.apply(put(id, 1, 5)), "older");
        assert!(!catalogue.apply(put(id, 2, 5)), "the same");
        assert_eq!(catalogue.get(id).unwrap().version, 2);
        assert!(catalogue.apply(put(id, 3, 5)));
        assert_eq!(catalogue.get(id).unwrap().version, 3);
    }

    #[test]
    fn a_late_update_cannot_bring_back_a_deleted_event() {
        let catalogue = Catalogue::default();
        let id = EventId::new();
        catalogue.apply(put(id, 1, 3));
        assert!(catalogue.apply(Change::Remove { id, version: 3 }));
        assert!(!catalogue.apply(put(id, 2, 3)));
        assert!(catalogue.get(id).is_none());
        assert!(catalogue.read().events.is_empty());
        assert!(catalogue.read().by_start.is_empty());
    }

    #[test]
    fn a_reload_keeps_what_changed_meanwhile_and_drops_what_was_deleted() {
        let catalogue = Catalogue::default();
        let (kept, deleted, newer) = (EventId::new(), EventId::new(), EventId::new());
        catalogue.apply(put(deleted, 1, 2));
        catalogue.apply(put(newer, 2, 2));
        let read_from = Utc::now() + chrono::Duration::seconds(1);
        catalogue.reload(vec![event(kept, 1, 4), event(newer, 1, 9)], read_from);
        assert!(catalogue.get(kept).is_some());
        assert!(catalogue.get(deleted).is_none());
        assert_eq!(catalogue.get(newer).unwrap().version, 2);
        // Created after the read began: not in what was read, and not gone.
        let created = EventId::new();
        catalogue.apply(put(created, 1, 2));
        catalogue.reload(vec![], Utc::now() - chrono::Duration::seconds(5));
        assert!(catalogue.get(created).is_some());
    }
}
