//! Recording a reminder's transitions: the only place that knows which stored fields each one
//! writes.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use common::{
    domain::ReminderId, messages::EventSummary, request_id::RequestId, store::StoreResult,
};
use mongodb::bson::{self, Document, doc};

use super::{ReminderDoc, Store, follows_fields, reminders::due_fields};
use crate::domain::{Edit, Follows, Transition, WallClock};

/// From how many reminders [`Store::queue_all`] queues them with one update per minute.
const QUEUED_TOGETHER_FROM: usize = 16;

impl Store {
    /// Records `transition` of `reminder` (as read) if its state allows it and it is still in
    /// that state; returns whether it did.
    pub async fn record(
        &self,
        reminder: &ReminderDoc,
        transition: &Transition,
    ) -> StoreResult<bool> {
        if !transition.allowed_from(reminder.status) {
            return Ok(false);
        }
        if matches!(transition, Transition::Edit(edit) if edit.is_empty()) {
            return Ok(true);
        }
        self.update_if_unchanged(reminder, changes_of(transition))
            .await
    }

    /// Records the queueing of each `(reminder, attempt)` (as read), whose result is awaited
    /// until `result_due`, each only over the reminder as it was read; returns whether each was.
    ///
    /// A few are one update each, an equality on `_id`. Many are, per due minute, one read and
    /// one update of those still as read: the local store filters the minute inside
    /// PostgreSQL and the ids once over that minute's reminders, where one update each would
    /// scan the whole collection each time. (A filter of one condition per reminder, `$or`,
    /// costs the local store minutes for a thousand.) When all of a minute's are in one part
    /// of it ([`due_shard`](super::due_shard)), as the scheduler batches a crowded minute,
    /// the part is filtered inside PostgreSQL too, so that a burst is not read whole per batch.
    pub async fn queue_all(
        &self,
        won: &[(ReminderDoc, i64)],
        result_due: DateTime<Utc>,
        pass: &RequestId,
    ) -> StoreResult<Vec<bool>> {
        let queue = |attempt: i64| Transition::Queue {
            attempt,
            result_due,
            pass: pass.clone(),
        };
        if won.len() < QUEUED_TOGETHER_FROM {
            let each = won.iter().map(|(reminder, attempt)| {
                let queue = queue(*attempt);
                async move { self.record(reminder, &queue).await }
            });
            return futures::future::try_join_all(each).await;
        }
        let mut queued = vec![false; won.len()];
        let mut minutes: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (index, (reminder, _)) in won.iter().enumerate() {
            minutes.entry(reminder.due_minute).or_default().push(index);
        }
        for (minute, members) in minutes {
            let mut within = doc! { "due_minute": minute };
            let mut shards = members.iter().map(|&index| won[index].0.due_shard);
            if let Some(Some(shard)) = shards.next()
                && shards.all(|other| other == Some(shard))
            {
                within.insert("due_shard", shard);
            }
            let ids: Vec<ReminderId> = members.iter().map(|&index| won[index].0.id).collect();
            let mut in_minute = within.clone();
            in_minute.insert("_id", doc! { "$in": ids });
            let current: HashMap<ReminderId, ReminderDoc> = self
                .all("reading reminders to queue", &self.reminders, in_minute)
                .await?
                .into_iter()
                .map(|now| (now.id, now))
                .collect();
            // Still as read, in a state queueing starts from, by the attempt and state to write.
            let mut groups: BTreeMap<(i64, &'static str), Vec<usize>> = BTreeMap::new();
            for index in members {
                let (copy, attempt) = &won[index];
                let unchanged = current.get(&copy.id).is_some_and(|now| {
                    now.status == copy.status && now.updated_at == copy.updated_at
                });
                if unchanged && queue(*attempt).allowed_from(copy.status) {
                    groups
                        .entry((*attempt, copy.status.as_str()))
                        .or_default()
                        .push(index);
                }
            }
            for ((attempt, status), group) in groups {
                let mut filter = within.clone();
                filter.insert("status", status);
                let ids = group.iter().map(|&index| won[index].0.id).collect();
                let ours = self
                    .record_over("queueing reminders", filter, ids, &queue(attempt))
                    .await?;
                for index in group {
                    queued[index] = ours.contains(&won[index].0.id);
                }
            }
        }
        Ok(queued)
    }

    /// Records `transition` over those of `ids` that `filter` matches, with one update;
    /// returns those it wrote.
    pub(super) async fn record_over(
        &self,
        what: &'static str,
        mut filter: Document,
        ids: Vec<ReminderId>,
        transition: &Transition,
    ) -> StoreResult<HashSet<ReminderId>> {
        let stamp = bson::DateTime::now();
        let mut set = changes_of(transition);
        set.insert("updated_at", stamp);
        filter.insert("_id", doc! { "$in": ids.clone() });
        let reminders = self.reminders.clone();
        let modified = self
            .deadline
            .run(what, async move {
                reminders
                    .update_many(filter, doc! { "$set": set })
                    .await
                    .map(|result| result.modified_count)
            })
            .await?;
        if usize::try_from(modified).is_ok_and(|modified| modified == ids.len()) {
            return Ok(ids.into_iter().collect());
        }
        // Some changed before the update: those it wrote carry its time stamp, an equality the
        // local store applies inside PostgreSQL.
        let to = transition.to();
        let written = doc! { "updated_at": stamp, "_id": { "$in": ids } };
        Ok(self
            .all("reading written reminders back", &self.reminders, written)
            .await?
            .into_iter()
            .filter(|now| now.status == to && now.updated_at == stamp)
            .map(|now| now.id)
            .collect())
    }

    /// Records what `reminder` (scheduled or queued, as read) now knows of its event at
    /// `version`, and for one that follows the event's start, its new time.
    pub async fn follow_event(
        &self,
        reminder: &ReminderDoc,
        event: &EventSummary,
        version: i64,
        send_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> StoreResult<bool> {
        let mut changes = doc! {
            "event": bson::to_bson(event).map_err(|err| common::store::StoreError::Other(err.into()))?,
            "event_version": version,
        };
        if let Some(send_at) = send_at {
            changes.extend(due_fields(send_at));
        }
        self.update_if_unchanged(reminder, changes).await
    }

    /// Records that `reminder` (scheduled, as read) is now at `wall_clock`, its owner's zone as
    /// of `zone_as_of`, and goes out at `send_at`.
    pub async fn follow_zone(
        &self,
        reminder: &ReminderDoc,
        wall_clock: WallClock,
        zone_as_of: DateTime<Utc>,
        send_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut changes = due_fields(send_at);
        let as_of = bson::DateTime::from_chrono(zone_as_of);
        changes.extend(follows_fields(Follows::WallClock(wall_clock), as_of));
        self.update_if_unchanged(reminder, changes).await
    }
}

/// The stored fields `transition` sets, its resulting state among them.
pub(super) fn changes_of(transition: &Transition) -> Document {
    let at = bson::DateTime::from_chrono;
    let mut changes = match transition {
        Transition::Queue {
            attempt,
            result_due,
            pass,
        } => doc! {
            "attempts": attempt,
            "lease_until": at(*result_due),
            "queued_in": pass.as_str(),
        },
        Transition::Sent { at: sent_at } | Transition::SentAfterCancelling { at: sent_at } => {
            doc! { "sent_at": at(*sent_at), "lease_until": null }
        }
        Transition::Failed { error } => doc! { "last_error": error, "lease_until": null },
        Transition::Snooze { send_at } => {
            let mut changes = due_fields(*send_at);
            changes.extend(follows_fields(Follows::Nothing, bson::DateTime::now()));
            changes
        }
        Transition::Edit(edit) => edited(edit),
        Transition::Cancel => Document::new(),
    };
    changes.insert("status", transition.to().as_str());
    changes
}

fn edited(edit: &Edit) -> Document {
    let mut changes = Document::new();
    if let Some((send_at, follows)) = edit.timing {
        changes.extend(due_fields(send_at));
        changes.extend(follows_fields(follows, bson::DateTime::now()));
    }
    if let Some(subject) = &edit.subject {
        changes.insert("subject", subject.clone().into_inner());
    }
    if let Some(content) = &edit.content {
        changes.insert("content", String::from(content.clone()));
    }
    if let Some(to_email) = &edit.to_email {
        changes.insert("to_email", to_email.as_str());
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transition_writes_its_resulting_state_and_its_own_fields() {
        let cancel = changes_of(&Transition::Cancel);
        assert_eq!(cancel.get_str("status").ok(), Some("cancelled"));
        let late = changes_of(&Transition::SentAfterCancelling {
            at: chrono::Utc::now(),
        });
        assert_eq!(late.get_str("status").ok(), Some("cancelled"), "{late}");
        assert!(late.get("sent_at").is_some());
        let snooze = changes_of(&Transition::Snooze {
            send_at: chrono::Utc::now(),
        });
        assert_eq!(snooze.get_str("status").ok(), Some("scheduled"));
        assert_eq!(snooze.get("remind_before_minutes"), Some(&bson::Bson::Null));
        assert_eq!(
            snooze.get("wall_clock"),
            Some(&bson::Bson::Null),
            "a snoozed reminder is at a fixed time"
        );
        assert!(
            snooze.get_i64("due_minute").is_ok(),
            "a new time is a new minute to read ahead by"
        );
    }
}
