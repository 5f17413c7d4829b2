//! Recording a reminder's transitions: the only place that knows which stored fields each one
//! writes.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use common::{
    domain::ReminderId, messages::EventSummary, request_id::RequestId, store::StoreResult,
};
use mongodb::bson::{self, Document, doc};

use super::{ReminderDoc, Store, follows_fields, reminders::due_fields};
use crate::domain::{Edit, Follows, Status, Transition, WallClock};

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
                let ours = self
                    .queue_group(won, &group, &within, status, &queue(attempt))
                    .await?;
                for index in group {
                    queued[index] = ours.contains(&won[index].0.id);
                }
            }
        }
        Ok(queued)
    }

    /// Queues `group` of `won` (all `within` that part of a minute, in `status`) with one
    /// update; returns those it queued.
    async fn queue_group(
        &self,
        won: &[(ReminderDoc, i64)],
        group: &[usize],
        within: &Document,
        status: &'static str,
        queue: &Transition,
    ) -> StoreResult<HashSet<ReminderId>> {
        let Transition::Queue { attempt, .. } = *queue else {
            return Ok(HashSet::new());
        };
        let ids: Vec<ReminderId> = group.iter().map(|&index| won[index].0.id).collect();
        let stamp = bson::DateTime::now();
        let mut set = changes_of(queue);
        set.insert("updated_at", stamp);
        let mut filter = within.clone();
        filter.insert("status", status);
        filter.insert("_id", doc! { "$in": ids.clone() });
        let reminders = self.reminders.clone();
        let modified = self
            .deadline
            .run("queueing reminders", async move {
                reminders
                    .update_many(filter, doc! { "$set": set })
                    .await
                    .map(|result| result.modified_count)
            })
            .await?;
        if usize::try_from(modified).is_ok_and(|modified| modified == ids.len()) {
            return Ok(ids.into_iter().collect());
        }
        // Some changed between the read and the update: those written by it are ours.
        let mut filter = within.clone();
        filter.insert("_id", doc! { "$in": ids });
        Ok(self
            .all("reading queued reminders back", &self.reminders, filter)
            .await?
            .into_iter()
            .filter(|now| {
                now.status == Status::Queued && now.attempts == attempt && now.updated_at == stamp
            })
            .map(|now| now.id)
            .collect())
    }

    /// Records the email-sender's result (`Sent` or `Failed`) for mail request `message_id` of
    /// reminder `id` if the reminder is still queued for that request: one write, without
    /// reading it first. False if it is not (cancelled meanwhile, a replayed dead letter, a
    /// stale result), for the caller to read it and decide.
    pub async fn record_result(
        &self,
        id: ReminderId,
        message_id: &str,
        result: &Transition,
    ) -> StoreResult<bool> {
        let Some(send_at) = ReminderDoc::scheduled_at(message_id) else {
            return Ok(false);
        };
        if !result.allowed_from(Status::Queued) {
            return Ok(false);
        }
        let filter = doc! { "_id": id, "status": Status::Queued.as_str(), "send_at": send_at };
        self.update_where("recording a result", filter, changes_of(result))
            .await
    }

    /// Records each of `results` (the email-sender's, as [`Store::record_result`] does one) with
    /// one write per group recorded together, and returns for each whether it was recorded.
    ///
    /// A group is the results for one queueing (see [`Queueing`]), of one kind: sent within
    /// the same second (all recorded as sent at the latest of them), or failed with the same
    /// error. Its filter is an equality on the state and the queueing, which the local store
    /// applies inside PostgreSQL, and the ids once over those; one write each would scan every
    /// reminder once per mail.
    pub async fn record_results(&self, results: Vec<MailResult>) -> Vec<StoreResult<bool>> {
        let mut answers: Vec<StoreResult<bool>> = (0..results.len()).map(|_| Ok(false)).collect();
        let mut groups: BTreeMap<(Queueing, Together), Vec<usize>> = BTreeMap::new();
        for (index, result) in results.iter().enumerate() {
            let Some(send_at) = ReminderDoc::scheduled_at(&result.message_id) else {
                continue;
            };
            let together = match &result.transition {
                Transition::Sent { at } => Together::Sent(at.timestamp()),
                Transition::Failed { error } => Together::Failed(error.clone()),
                _ => continue,
            };
            let queueing = match &result.pass {
                Some(pass) => Queueing::Pass(pass.as_str().to_owned()),
                None => Queueing::DueAt(send_at.timestamp_millis()),
            };
            groups.entry((queueing, together)).or_default().push(index);
        }
        for ((queueing, _), group) in groups {
            let recorded = if let [only] = group[..] {
                let result = &results[only];
                self.record_result(result.id, &result.message_id, &result.transition)
                    .await
                    .map(|recorded| recorded.then_some(result.id).into_iter().collect())
            } else {
                self.record_group(&results, &group, &queueing).await
            };
            match recorded {
                Ok(mut recorded) => {
                    // A result handed in twice at once is recorded for the first copy only.
                    for index in group {
                        answers[index] = Ok(recorded.remove(&results[index].id));
                    }
                }
                Err(err) => {
                    for (index, answer) in group.iter().zip(err.for_each_of(group.len())) {
                        answers[*index] = answer;
                    }
                }
            }
        }
        answers
    }

    /// Records the results of `group` (for one queueing, of one kind) with one update over
    /// those still queued by it; returns the reminders it recorded.
    async fn record_group(
        &self,
        results: &[MailResult],
        group: &[usize],
        queueing: &Queueing,
    ) -> StoreResult<HashSet<ReminderId>> {
        let latest = group
            .iter()
            .map(|&index| &results[index].transition)
            .max_by_key(|transition| match transition {
                Transition::Sent { at } => Some(*at),
                _ => None,
            });
        let Some(transition) = latest else {
            return Ok(HashSet::new());
        };
        let ids: Vec<ReminderId> = group.iter().map(|&index| results[index].id).collect();
        let stamp = bson::DateTime::now();
        let mut set = changes_of(transition);
        set.insert("updated_at", stamp);
        let mut filter = queueing.filter();
        filter.insert("status", Status::Queued.as_str());
        filter.insert("_id", doc! { "$in": ids.clone() });
        let reminders = self.reminders.clone();
        let modified = self
            .deadline
            .run("recording results", async move {
                reminders
                    .update_many(filter, doc! { "$set": set })
                    .await
                    .map(|result| result.modified_count)
            })
            .await?;
        if usize::try_from(modified).is_ok_and(|modified| modified == ids.len()) {
            return Ok(ids.into_iter().collect());
        }
        // Some were not queued for these requests: those written by this update are recorded.
        let to = transition.to();
        let mut filter = queueing.filter();
        filter.insert("_id", doc! { "$in": ids });
        Ok(self
            .all("reading recorded results back", &self.reminders, filter)
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

/// The email-sender's result for one mail request: `transition` is `Sent` or `Failed`.
#[derive(Debug, Clone)]
pub struct MailResult {
    pub id: ReminderId,
    pub message_id: String,
    pub transition: Transition,
    /// The request id the result came with: the email-sender answers with the mail request's,
    /// the id of the scheduling pass that queued it.
    pub pass: Option<RequestId>,
}

/// Which queueing of its reminder a result answers: the scheduling pass that queued it, which
/// queued a batch of reminders at once (the local store finds those by an equality inside
/// PostgreSQL), or, for a result that names none, the reminder's due time (a burst due within
/// one second falls due at a thousand different milliseconds, so these groups are small).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Queueing {
    Pass(String),
    DueAt(i64),
}

impl Queueing {
    /// The reminders queued this way. A pass queues each of its reminders at one time and a
    /// later queueing is another pass, so a result naming the pass is about the time it
    /// queued the reminder at.
    fn filter(&self) -> Document {
        match self {
            Self::Pass(pass) => doc! { "queued_in": pass },
            Self::DueAt(millis) => doc! { "send_at": bson::DateTime::from_millis(*millis) },
        }
    }
}

/// Results recorded with one write: sent within one second (by its Unix second), or failed
/// with one error.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Together {
    Sent(i64),
    Failed(String),
}

/// The stored fields `transition` sets, its resulting state among them.
fn changes_of(transition: &Transition) -> Document {
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
