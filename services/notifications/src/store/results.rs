//! The email-sender's results: journalled as they arrive, then recorded over `reminders` in
//! groups.
//!
//! Every write to `reminders` scans the collection on the local store, so a write per result
//! cost a scan per mail: with 100,000 reminders waiting and 200 falling due in a minute, that
//! took more than a core of the database, and the scheduler's preparations queued behind it.
//! A result is therefore first inserted into `results`, a journal that stays small (an insert
//! scans nothing), and its message acknowledged; the recorder (`crate::results`) gathers what
//! was journalled for a moment and records it with one update per group. The journal is the
//! durable hand-over: a recorder that dies leaves its entries for another to take over.

use std::collections::{BTreeMap, HashSet};

use common::{domain::ReminderId, request_id::RequestId, store::StoreResult};
use mongodb::bson::{self, Document, doc, oid::ObjectId};
use serde::{Deserialize, Serialize};

use super::{ReminderDoc, Store, transitions::changes_of};
use crate::domain::{Status, Transition};

/// A result journalled and not yet recorded over its reminder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JournalledResult {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub reminder_id: ReminderId,
    pub message_id: String,
    pub outcome: Outcome,
    /// The scheduling pass the result names, if any.
    pub pass: Option<String>,
    /// The recorder that records it; another takes it over once it is old (see
    /// `crate::results`).
    pub recorder: String,
    pub journalled_at: bson::DateTime,
}

/// What the email-sender reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    Sent { at: bson::DateTime },
    Failed { error: String },
}

impl JournalledResult {
    /// `result` as journalled by `recorder`, or `None` for a transition that is no result.
    pub fn new(result: &MailResult, recorder: &str) -> Option<Self> {
        let outcome = match &result.transition {
            Transition::Sent { at } => Outcome::Sent {
                at: bson::DateTime::from_chrono(*at),
            },
            Transition::Failed { error } => Outcome::Failed {
                error: error.clone(),
            },
            _ => return None,
        };
        Some(Self {
            id: ObjectId::new(),
            reminder_id: result.id,
            message_id: result.message_id.clone(),
            outcome,
            pass: result.pass.as_ref().map(|pass| pass.as_str().to_owned()),
            recorder: recorder.to_owned(),
            journalled_at: bson::DateTime::now(),
        })
    }

    /// The result to record.
    pub fn result(&self) -> MailResult {
        MailResult {
            id: self.reminder_id,
            message_id: self.message_id.clone(),
            transition: match &self.outcome {
                Outcome::Sent { at } => Transition::Sent { at: at.to_chrono() },
                Outcome::Failed { error } => Transition::Failed {
                    error: error.clone(),
                },
            },
            pass: self.pass.as_deref().and_then(RequestId::parse),
        }
    }
}

impl Store {
    /// Journals `results` with one insert; answers for each.
    pub async fn journal_results(&self, results: Vec<JournalledResult>) -> Vec<StoreResult<()>> {
        let count = results.len();
        let journal = self.results.clone();
        let inserted = self
            .deadline
            .run("journalling results", async move {
                journal.insert_many(results).await.map(drop)
            })
            .await;
        match inserted {
            Ok(()) => (0..count).map(|_| Ok(())).collect(),
            Err(err) => err.for_each_of(count),
        }
    }

    /// Every result journalled and not yet recorded, oldest first.
    pub async fn journalled_results(&self) -> StoreResult<Vec<JournalledResult>> {
        let mut journalled = self
            .all("reading journalled results", &self.results, doc! {})
            .await?;
        journalled.sort_by_key(|entry| entry.id);
        Ok(journalled)
    }

    /// The journalled results for reminder `id`, oldest first.
    pub async fn journalled_results_of(
        &self,
        id: ReminderId,
    ) -> StoreResult<Vec<JournalledResult>> {
        let mut journalled = self
            .all(
                "reading a reminder's journalled results",
                &self.results,
                doc! { "reminder_id": id },
            )
            .await?;
        journalled.sort_by_key(|entry| entry.id);
        Ok(journalled)
    }

    /// Removes the journal entries `ids`, recorded (or found to need no record).
    pub async fn forget_results(&self, ids: Vec<ObjectId>) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let journal = self.results.clone();
        self.deadline
            .run("forgetting recorded results", async move {
                journal
                    .delete_many(doc! { "_id": { "$in": ids } })
                    .await
                    .map(drop)
            })
            .await
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
    /// A group is the results of one kind: sent within the same second (all recorded as sent
    /// at the latest of them), or failed with the same error; and, where a queueing (see
    /// [`Queueing`]) has more than one of them, of that queueing, whose equality the local
    /// store applies inside PostgreSQL (a burst's pass queued a thousand). The rest of a kind
    /// go together over the queued reminders, few but for a burst. One write each would scan
    /// every reminder once per mail.
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
        // The queueings with one result of a kind each, pooled by kind.
        let mut pooled: BTreeMap<Together, Vec<usize>> = BTreeMap::new();
        let mut together: Vec<(Document, Vec<usize>)> = Vec::new();
        for ((queueing, kind), group) in groups {
            match group[..] {
                [only] => pooled.entry(kind).or_default().push(only),
                _ => together.push((queueing.filter(), group)),
            }
        }
        for group in pooled.into_values() {
            let due: Vec<bson::DateTime> = group
                .iter()
                .filter_map(|&index| ReminderDoc::scheduled_at(&results[index].message_id))
                .collect();
            together.push((doc! { "send_at": { "$in": due } }, group));
        }
        for (within, group) in together {
            let recorded = if let [only] = group[..] {
                let result = &results[only];
                self.record_result(result.id, &result.message_id, &result.transition)
                    .await
                    .map(|recorded| recorded.then_some(result.id).into_iter().collect())
            } else {
                self.record_group(&results, &group, within).await
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

    /// Records the results of `group` (of one kind, `within` the queueings they answer) with
    /// one update over those still queued so; returns the reminders it recorded.
    ///
    /// Where `within` names the due times of several queueings, a reminder matches one not its
    /// own only if its result is stale: rescheduled and queued again since, at another's due
    /// time. It then takes this result a little early, and its own follows.
    async fn record_group(
        &self,
        results: &[MailResult],
        group: &[usize],
        within: Document,
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
        let ids = group.iter().map(|&index| results[index].id).collect();
        let mut filter = within;
        filter.insert("status", Status::Queued.as_str());
        self.record_over("recording results", filter, ids, transition)
            .await
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
