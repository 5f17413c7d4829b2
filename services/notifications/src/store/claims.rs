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
use common::{domain::ReminderId, store::StoreResult};
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

/// What came of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This scheduler publishes this attempt.
    Won { attempt: i64 },
    /// Another scheduler holds it.
    Lost,
}

/// How many dead claimers in a row a claim steps over before giving up for this tick.
const MAX_STEPS: i64 = 3;

impl Store {
    /// Reminders to publish at `now`, oldest first: those due, then those whose result is
    /// overdue, then those whose scheduler died before the broker confirmed them.
    pub async fn due(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<ReminderDoc>> {
        let at = bson::DateTime::from_chrono(now);
        let mut due = self
            .first(
                "finding due reminders",
                &self.reminders,
                doc! { "status": Status::Scheduled.as_str(), "send_at": { "$lte": at } },
                "send_at",
                limit,
            )
            .await?;
        let room = limit - i64::try_from(due.len()).unwrap_or(limit);
        if room > 0 {
            let overdue = doc! { "status": Status::Queued.as_str(), "lease_until": { "$lte": at } };
            due.extend(
                self.first(
                    "finding overdue results",
                    &self.reminders,
                    overdue,
                    "lease_until",
                    room,
                )
                .await?,
            );
        }
        let room = limit - i64::try_from(due.len()).unwrap_or(limit);
        if room > 0 {
            due.extend(self.orphaned(at, room).await?);
        }
        Ok(due)
    }

    /// Queued reminders whose claim's lease ran out before its scheduler recorded the
    /// broker's confirm. Such a claim is deleted once its reminder has moved past it (claimed
    /// again, or finished), so a failed takeover is tried again on the next tick.
    async fn orphaned(&self, at: bson::DateTime, limit: i64) -> StoreResult<Vec<ReminderDoc>> {
        let unconfirmed = doc! { "published": false, "lease_until": { "$lte": at } };
        let dead = self
            .first(
                "finding unconfirmed claims",
                &self.claims,
                unconfirmed,
                "lease_until",
                limit,
            )
            .await?;
        let mut orphans = Vec::new();
        for claim in dead {
            let orphan = self
                .find_one(doc! {
                    "_id": claim.reminder_id,
                    "status": Status::Queued.as_str(),
                    "attempts": claim.attempt,
                })
                .await?;
            match orphan {
                Some(reminder) => orphans.push(reminder),
                None => {
                    let claims = self.claims.clone();
                    let filter = doc! { "_id": &claim.id, "published": false };
                    self.deadline
                        .run("clearing an unconfirmed claim", async move {
                            claims.delete_one(filter).await.map(drop)
                        })
                        .await?;
                }
            }
        }
        Ok(orphans)
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
            let claim = Claim {
                id: format!("{}:{attempt}", reminder.id),
                reminder_id: reminder.id,
                attempt,
                claimed_at: bson::DateTime::from_chrono(now),
                lease_until: bson::DateTime::from_chrono(now + lease),
                published: false,
            };
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

    /// Records that the broker confirmed `attempt` of reminder `id`.
    pub async fn confirm_claim(&self, id: ReminderId, attempt: i64) -> StoreResult<()> {
        let claims = self.claims.clone();
        self.deadline
            .run("recording the broker's confirm", async move {
                claims
                    .update_one(
                        doc! { "_id": format!("{id}:{attempt}") },
                        doc! { "$set": { "published": true } },
                    )
                    .await
                    .map(drop)
            })
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
    /// Up to `limit` documents of `collection` matching `filter`, smallest `by` first; `what`
    /// says what for. A document that does not read as a `T` (written by hand, or by a release
    /// that knew other fields) is logged with its id and passed over, so that one bad reminder
    /// cannot stop every other from going out.
    async fn first<T>(
        &self,
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
        let documents: Vec<Document> = self
            .deadline
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
        Ok(documents
            .into_iter()
            .filter_map(|document| {
                let id = document.get("_id").map(ToString::to_string);
                bson::from_document(document)
                    .inspect_err(|err| {
                        tracing::error!(id = id.as_deref().unwrap_or("?"), error = %err, what, "an unreadable document is passed over");
                    })
                    .ok()
            })
            .collect())
    }
}
