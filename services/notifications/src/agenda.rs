//! Delayed work held in memory: entries keyed by what they are about, each due at a moment,
//! handed out when a [`Clock`](common::clock::Clock) reaches it. A timer, not a tick: whoever waits on
//! [`Agenda::due`] sleeps until the earliest entry is due or the agenda changes.
//!
//! The scheduler keeps the reminders of its look-ahead window here; any other work that must
//! wait for a moment (a notice held until edits settle, say) can use one of its own.

use std::{
    collections::{BTreeSet, HashMap},
    hash::Hash,
    sync::{Arc, Mutex, MutexGuard},
};

use chrono::{DateTime, Utc};
use common::clock::SharedClock;
use tokio::sync::Notify;

/// Entries by key, in due order.
#[derive(Debug)]
pub struct Timers<K, V> {
    entries: HashMap<K, (DateTime<Utc>, V)>,
    order: BTreeSet<(DateTime<Utc>, K)>,
}

impl<K: Ord + Hash + Clone, V> Default for Timers<K, V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            order: BTreeSet::new(),
        }
    }
}

impl<K: Ord + Hash + Clone, V> Timers<K, V> {
    /// Sets `key` due at `at` with `value`, replacing what it held.
    pub fn set(&mut self, key: K, at: DateTime<Utc>, value: V) {
        if let Some((was, _)) = self.entries.insert(key.clone(), (at, value)) {
            self.order.remove(&(was, key.clone()));
        }
        self.order.insert((at, key));
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let (at, value) = self.entries.remove(key)?;
        self.order.remove(&(at, key.clone()));
        Some(value)
    }

    pub fn get(&self, key: &K) -> Option<&(DateTime<Utc>, V)> {
        self.entries.get(key)
    }

    /// When the earliest entry is due.
    pub fn next_at(&self) -> Option<DateTime<Utc>> {
        self.order.first().map(|(at, _)| *at)
    }

    /// Removes and returns every entry due at `now`, earliest first.
    pub fn take_due(&mut self, now: DateTime<Utc>) -> Vec<(K, V)> {
        let mut due = Vec::new();
        while let Some((at, _)) = self.order.first()
            && *at <= now
        {
            if let Some((_, key)) = self.order.pop_first()
                && let Some((_, value)) = self.entries.remove(&key)
            {
                due.push((key, value));
            }
        }
        due
    }

    /// Every key with its due time, earliest first.
    pub fn schedule(&self) -> Vec<(K, DateTime<Utc>)> {
        self.order
            .iter()
            .map(|(at, key)| (key.clone(), *at))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// [`Timers`] shared between those who add entries and the one who waits for them.
pub struct Agenda<K, V> {
    timers: Arc<Mutex<Timers<K, V>>>,
    changed: Arc<Notify>,
    clock: SharedClock,
}

impl<K, V> Clone for Agenda<K, V> {
    fn clone(&self) -> Self {
        Self {
            timers: self.timers.clone(),
            changed: self.changed.clone(),
            clock: self.clock.clone(),
        }
    }
}

impl<K: Ord + Hash + Clone, V> Agenda<K, V> {
    pub fn new(clock: SharedClock) -> Self {
        Self {
            timers: Arc::new(Mutex::new(Timers::default())),
            changed: Arc::new(Notify::new()),
            clock,
        }
    }

    /// Changes the entries; the waiter looks again at what is due.
    pub fn change<T>(&self, change: impl FnOnce(&mut Timers<K, V>) -> T) -> T {
        let result = change(&mut self.lock());
        self.changed.notify_one();
        result
    }

    /// Reads the entries.
    pub fn read<T>(&self, read: impl FnOnce(&Timers<K, V>) -> T) -> T {
        read(&self.lock())
    }

    /// Waits until at least one entry is due, then takes every due one, earliest first. One
    /// waiter at a time.
    pub async fn due(&self) -> Vec<(K, V)> {
        loop {
            // Armed before looking, so that a change made after the look still wakes it.
            let changed = self.changed.notified();
            let next = {
                let mut timers = self.lock();
                let due = timers.take_due(self.clock.now());
                if !due.is_empty() {
                    return due;
                }
                timers.next_at()
            };
            match next {
                Some(at) => {
                    tokio::select! {
                        () = self.clock.sleep_until(at) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Timers<K, V>> {
        // A panic while holding the lock leaves the timers as consistent as any single
        // operation left them.
        self.timers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use common::clock::ManualClock;

    use super::*;

    #[test]
    fn timers_hand_out_what_is_due_in_order_and_move_when_set_again() {
        let start = Utc::now();
        let mut timers = Timers::default();
        timers.set("b", start + Duration::seconds(2), 2);
        timers.set("a", start + Duration::seconds(1), 1);
        timers.set("c", start + Duration::seconds(3), 3);
        timers.set("c", start + Duration::seconds(10), 30);
        assert_eq!(timers.remove(&"b"), Some(2));
        assert_eq!(timers.take_due(start), vec![]);
        assert_eq!(
            timers.take_due(start + Duration::seconds(5)),
            vec![("a", 1)]
        );
        assert_eq!(timers.next_at(), Some(start + Duration::seconds(10)));
        assert_eq!(timers.len(), 1);
    }

    #[tokio::test]
    async fn the_agenda_wakes_its_waiter_when_the_clock_reaches_an_entry() {
        let start = Utc::now();
        let clock = ManualClock::at(start);
        let agenda: Agenda<u32, &str> = Agenda::new(clock.shared());
        let waiter = tokio::spawn({
            let agenda = agenda.clone();
            async move { agenda.due().await }
        });
        // Added while the waiter sleeps with nothing to wait for.
        agenda.change(|timers| timers.set(1, start + Duration::days(365), "a year on"));
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        clock.set(start + Duration::days(365));
        assert_eq!(waiter.await.ok(), Some(vec![(1, "a year on")]));
    }

    #[tokio::test]
    async fn an_entry_moved_earlier_wakes_the_waiter_sooner() {
        let start = Utc::now();
        let clock = ManualClock::at(start);
        let agenda: Agenda<u32, ()> = Agenda::new(clock.shared());
        agenda.change(|timers| timers.set(1, start + Duration::hours(1), ()));
        let waiter = tokio::spawn({
            let agenda = agenda.clone();
            async move { agenda.due().await }
        });
        tokio::task::yield_now().await;
        agenda.change(|timers| timers.set(1, start, ()));
        assert_eq!(waiter.await.ok(), Some(vec![(1, ())]));
    }
}
