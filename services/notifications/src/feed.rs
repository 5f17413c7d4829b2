//! A user's calendar feed: each event they saved or have a reminder for, once, at its latest
//! known version, with an alarm for each reminder still to go out.

use std::collections::{BTreeMap, btree_map::Entry};

use chrono::{DateTime, Utc};
use common::{
    domain::EventId,
    ics::{self, FeedAlarm, FeedEntry},
    messages::EventSummary,
};
use sha2::{Digest, Sha256};

use crate::{
    domain::Status,
    store::{ReminderDoc, SaveDoc},
};

/// The feed of one user's `reminders` (none cancelled) and `saves`, and its strong ETag: the
/// same reminders and saves make the same file and the same tag.
pub fn render(reminders: &[ReminderDoc], saves: &[SaveDoc]) -> (String, String) {
    let body = ics::feed("eventpost", &entries(reminders, saves));
    let digest = Sha256::digest(body.as_bytes());
    let tag: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    (body, format!("\"{tag}\""))
}

fn entries(reminders: &[ReminderDoc], saves: &[SaveDoc]) -> Vec<FeedEntry> {
    let mut by_event: BTreeMap<EventId, FeedEntry> = BTreeMap::new();
    let mut sorted: Vec<&ReminderDoc> = reminders.iter().collect();
    sorted.sort_by_key(|r| (r.send_at, r.id));
    for reminder in sorted {
        let entry = gather(
            &mut by_event,
            &reminder.event,
            reminder.updated_at.to_chrono(),
        );
        if matches!(reminder.status, Status::Scheduled | Status::Queued) {
            entry.alarms.push(FeedAlarm {
                uid: format!("reminder-{}@eventpost", reminder.id),
                at: reminder.send_at.to_chrono(),
                description: reminder.effective_subject(),
            });
        }
    }
    for save in saves {
        if let Some(event) = &save.event {
            gather(&mut by_event, event, save.changed_at.to_chrono());
        }
    }
    let mut entries: Vec<FeedEntry> = by_event.into_values().collect();
    entries.sort_by_key(|entry| (entry.event.starts_at, entry.event.id));
    entries
}

/// The entry of `event`'s event, made or brought to the newer of the two versions, changed at
/// the later of the two times.
fn gather<'a>(
    by_event: &'a mut BTreeMap<EventId, FeedEntry>,
    event: &EventSummary,
    changed_at: DateTime<Utc>,
) -> &'a mut FeedEntry {
    match by_event.entry(event.id) {
        Entry::Vacant(vacant) => vacant.insert(FeedEntry {
            event: event.clone(),
            alarms: Vec::new(),
            changed_at,
        }),
        Entry::Occupied(occupied) => {
            let entry = occupied.into_mut();
            if event.version > entry.event.version {
                entry.event = event.clone();
            }
            entry.changed_at = entry.changed_at.max(changed_at);
            entry
        }
    }
}
