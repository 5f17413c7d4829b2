//! Claiming due reminders so that each attempt is published by exactly one scheduler.
//!
//! Invariant: for every reminder and attempt number there is at most one claim document, and
//! only the scheduler that inserted it publishes that attempt. The insert is atomic on MongoDB
//! and FerretDB alike (a unique `_id`), unlike a conditional update on FerretDB 1.x.
//!
//! Two deadlines guard an attempt. The claim's lease gives its scheduler a little while to get
//! the broker's confirm, which it records on the claim; an unconfirmed claim past its lease
//! belongs to a scheduler that died, and its reminder is claimed again. Once queued, the
//! reminder itself waits until its `lease_until` for the email-sender's result (long enough for
//! the email-sender's retries) before it is claimed again. Only a claim's scheduler writes the
//! reminder while it is queued, and never after the publish, so a result arriving at once
//! cannot be overwritten by FerretDB's read-then-write updates.

use chrono::{DateTime, Duration, Utc};
use std::collections::HashSet;

use common::{
    domain::ReminderId,
    mongo,
    store::{Deadline, StoreResult},
};
use futures::TryStreamExt;
use mongodb::{
    Collection,
    bson::{self, Document, doc},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::{ReminderDoc, Store};
use crate::domain::Status;

/// One scheduler's claim on one attempt of one reminder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// `<reminder id>:<attempt>`.
    #[serde(rename = "_id")]
    pub id: String,
    pub reminder_id: ReminderId,
    pub attempt: i64,
    pub claimed_at: bson::DateTime,
    /// After this, a claimer that has not recorded the broker's confirm is presumed dead.
    pub lease_until: bson::DateTime,
    /// Whether the broker confirmed this attempt's message.
    #[serde(default)]
    pub published: bool,
}

impl Claim {
    /// The claim on `attempt` of reminder `id`, held until `now + lease`.
    fn new(id: ReminderId, attempt: i64, now: DateTime<Utc>, lease: Duration) -> Self {
        Self {
            id: Self::id_of(id, attempt),
            reminder_id: id,
            attempt,
            claimed_at: bson::DateTime::from_chrono(now),
            lease_until: bson::DateTime::from_chrono(now + lease),
            published: false,
        }
    }

    fn id_of(id: ReminderId, attempt: i64) -> String {
        format!("{id}:{attempt}")
    }
}

/// What came of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This scheduler publishes this attempt.
    Won { attempt: i64 },
    /// Another scheduler holds it.
    Lost,
}

/// How many dead claimers in a row a claim steps over before giving up for now.
const MAX_STEPS: i64 = 3;

impl Store {
    /// Reminders whose claim's lease ran out before its scheduler recorded the broker's
    /// confirm: queued at that attempt (it died between the queueing and the confirm), or
    /// still scheduled and due (it died before queueing it). Read by an equality on the
    /// unconfirmed claims, which are few (a claim is confirmed within milliseconds). A dead
    /// claim whose reminder has moved on (claimed again, or finished) is deleted.
    pub async fn orphaned(&self, now: DateTime<Utc>) -> StoreResult<Vec<ReminderDoc>> {
        let at = bson::DateTime::from_chrono(now);
        let mut dead = self
            .all(
                "finding unconfirmed claims",
                &self.claims,
                doc! { "published": false },
            )
            .await?;
        dead.retain(|claim| claim.lease_until <= at);
        dead.sort_by_key(|claim| claim.lease_until);
        let mut orphans = Vec::new();
        for claim in dead {
            match self.reminder(claim.reminder_id).await? {
                Some(reminder)
                    if (reminder.status == Status::Queued
                        && reminder.attempts == claim.attempt)
                        || (reminder.status == Status::Scheduled && reminder.send_at <= at) =>
                {
                    orphans.push(reminder);
                }
                _ => {
                    self.release_all(&[(claim.reminder_id, claim.attempt)])
                        .await?;
                }
            }
        }
        Ok(orphans)
    }

    /// Queued reminders whose result is overdue (`lease_until` passed), oldest first. Read by
    /// an equality on the state, which few reminders are in at once.
    pub async fn results_overdue(&self, now: DateTime<Utc>) -> StoreResult<Vec<ReminderDoc>> {
        let at = bson::DateTime::from_chrono(now);
        let mut queued = self
            .all(
                "finding overdue results",
                &self.reminders,
                doc! { "status": Status::Queued.as_str() },
            )
            .await?;
        queued.retain(|reminder| reminder.lease_until.is_some_and(|due| due <= at));
        queued.sort_by_key(|reminder| reminder.lease_until);
        Ok(queued)
    }

    /// Claims the next attempt of `reminder` (as read) until `now + lease`.
    ///
    /// If that attempt is already claimed, unconfirmed, and its claimer's lease ran out, the
    /// claimer died before publishing; the next attempt is tried.
    pub async fn claim(
        &self,
        reminder: &ReminderDoc,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> StoreResult<ClaimOutcome> {
        let mut attempt = reminder.attempts + 1;
        for _ in 0..MAX_STEPS {
            let claim = Claim::new(reminder.id, attempt, now, lease);
            let (claims, id) = (self.claims.clone(), claim.id.clone());
            let claiming = self.deadline.run("claiming a reminder", async move {
                claims.insert_one(claim).await.map(drop)
            });
            match claiming.await {
                Ok(()) => return Ok(ClaimOutcome::Won { attempt }),
                Err(err) if err.is_duplicate() => {}
                Err(err) => return Err(err),
            }
            let claims = self.claims.clone();
            let holder = self
                .deadline
                .run("reading a claim", async move {
                    claims.find_one(doc! { "_id": id }).await
                })
                .await?;
            match holder {
                Some(holder) if !holder.published && holder.lease_until.to_chrono() <= now => {
                    attempt += 1;
                }
                _ => return Ok(ClaimOutcome::Lost),
            }
        }
        Ok(ClaimOutcome::Lost)
    }

    /// Claims the next attempt of each of `reminders` (as read) until `now + lease` with one
    /// insert; returns those won, with their attempt, and those whose next attempt someone had
    /// claimed already (for [`Store::claim`], one by one).
    pub async fn claim_all(
        &self,
        reminders: Vec<ReminderDoc>,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> StoreResult<(Vec<(ReminderDoc, i64)>, Vec<ReminderDoc>)> {
        if reminders.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let claims: Vec<Claim> = reminders
            .iter()
            .map(|reminder| Claim::new(reminder.id, reminder.attempts + 1, now, lease))
            .collect();
        let collection = self.claims.clone();
        let taken: HashSet<usize> = self
            .deadline
            .run("claiming reminders", async move {
                match collection.insert_many(claims).ordered(false).await {
                    Ok(_) => Ok(HashSet::new()),
                    Err(err) => match mongo::duplicate_positions(&err) {
                        Some(taken) => Ok(taken.into_iter().collect()),
                        None => Err(err),
                    },
                }
            })
            .await?;
        let (mut won, mut contested) = (Vec::new(), Vec::new());
        for (index, reminder) in reminders.into_iter().enumerate() {
            if taken.contains(&index) {
                contested.push(reminder);
            } else {
                let attempt = reminder.attempts + 1;
                won.push((reminder, attempt));
            }
        }
        Ok((won, contested))
    }

    /// Records that the broker confirmed each `(reminder, attempt)`, with one update over the
    /// unconfirmed claims (which are few).
    pub async fn confirm_all(&self, confirmed: &[(ReminderId, i64)]) -> StoreResult<()> {
        self.settle_claims(
            "recording the broker's confirms",
            confirmed,
            |claims, filter| async move {
                claims
                    .update_many(filter, doc! { "$set": { "published": true } })
                    .await
                    .map(drop)
            },
        )
        .await
    }

    /// Deletes the unconfirmed claims on each `(reminder, attempt)`: their claimer did not
    /// queue the reminder, so the attempts are free again.
    pub async fn release_all(&self, released: &[(ReminderId, i64)]) -> StoreResult<()> {
        self.settle_claims("releasing claims", released, |claims, filter| async move {
            claims.delete_many(filter).await.map(drop)
        })
        .await
    }

    async fn settle_claims<F, Fut>(
        &self,
        what: &'static str,
        attempts: &[(ReminderId, i64)],
        settle: F,
    ) -> StoreResult<()>
    where
        F: FnOnce(Collection<Claim>, Document) -> Fut,
        Fut: Future<Output = mongodb::error::Result<()>> + Send + 'static,
    {
        if attempts.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = attempts
            .iter()
            .map(|(id, attempt)| Claim::id_of(*id, *attempt))
            .collect();
        // The equality narrows the read to the unconfirmed claims on the local store too.
        let filter = doc! { "published": false, "_id": { "$in": ids } };
        self.deadline
            .run(what, settle(self.claims.clone(), filter))
            .await
    }

    /// Deletes confirmed claims whose lease ended before `before`; returns how many. Such a
    /// claim only stops a scheduler that read the reminder before it was queued from
    /// publishing the same attempt again, and no read is that old.
    pub async fn prune_claims(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let claims = self.claims.clone();
        let filter = doc! {
            "published": true,
            "lease_until": { "$lt": bson::DateTime::from_chrono(before) },
        };
        self.deadline
            .run("pruning claims", async move {
                claims
                    .delete_many(filter)
                    .await
                    .map(|result| result.deleted_count)
            })
            .await
    }
}

impl Store {
    /// Every document of `collection` matching `filter`; `what` says what for.
    pub(super) async fn all<T>(
        &self,
        what: &'static str,
        collection: &Collection<T>,
        filter: Document,
    ) -> StoreResult<Vec<T>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let collection = collection.clone_with_type::<Document>();
        let documents = self
            .deadline
            .run(what, async move {
                collection.find(filter).await?.try_collect().await
            })
            .await?;
        Ok(readable(what, documents))
    }

    /// Up to `limit` documents of `collection` matching `filter`, smallest `by` first, waiting
    /// at most `deadline`. A range or a sort reads the whole collection on the local store:
    /// for what runs once per start.
    pub(super) async fn first<T>(
        &self,
        deadline: Deadline,
        what: &'static str,
        collection: &Collection<T>,
        filter: Document,
        by: &'static str,
        limit: i64,
    ) -> StoreResult<Vec<T>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let collection = collection.clone_with_type::<Document>();
        let documents = deadline
            .run(what, async move {
                collection
                    .find(filter)
                    .sort(doc! { by: 1 })
                    .limit(limit)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        Ok(readable(what, documents))
    }
}

/// The documents that read as a `T`. One that does not (written by hand, or by a release that
/// knew other fields) is logged with its id and passed over, so that one bad reminder cannot
/// stop every other from going out.
fn readable<T: DeserializeOwned>(what: &'static str, documents: Vec<Document>) -> Vec<T> {
    documents
        .into_iter()
        .filter_map(|document| {
            let id = document.get("_id").map(ToString::to_string);
            bson::from_document(document)
                .inspect_err(|err| {
                    tracing::error!(id = id.as_deref().unwrap_or("?"), error = %err, what, "an unreadable document is passed over");
                })
                .ok()
        })
        .collect()
}
