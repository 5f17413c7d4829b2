//! Claiming due reminders so that each attempt is published by exactly one scheduler.
//!
//! Invariant: for every reminder and attempt number there is at most one claim document, and
//! only the scheduler that inserted it publishes that attempt. The insert is atomic on MongoDB
//! and FerretDB alike (a unique `_id`), unlike a conditional update on FerretDB 1.x.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use mongodb::bson::{self, doc, oid::ObjectId};
use serde::{Deserialize, Serialize};

use super::{ReminderDoc, Store};
use crate::domain::Status;

/// One scheduler's claim on one attempt of one reminder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// `<reminder id>:<attempt>`.
    #[serde(rename = "_id")]
    pub id: String,
    pub reminder_id: ObjectId,
    pub attempt: i64,
    pub claimed_at: bson::DateTime,
    /// After this, a claimer that has not marked the reminder queued is presumed dead.
    pub lease_until: bson::DateTime,
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
    /// Reminders to publish at `now`, oldest first: those due, then those whose lease ran out.
    pub async fn due(&self, now: DateTime<Utc>, limit: i64) -> anyhow::Result<Vec<ReminderDoc>> {
        let now = bson::DateTime::from_chrono(now);
        let mut due: Vec<ReminderDoc> = self
            .reminders
            .find(doc! { "status": Status::Scheduled.as_str(), "send_at": { "$lte": now } })
            .sort(doc! { "send_at": 1 })
            .limit(limit)
            .await
            .context("finding due reminders")?
            .try_collect()
            .await
            .context("finding due reminders")?;
        let room = limit - i64::try_from(due.len()).unwrap_or(limit);
        if room > 0 {
            let expired: Vec<ReminderDoc> = self
                .reminders
                .find(doc! { "status": Status::Queued.as_str(), "lease_until": { "$lte": now } })
                .sort(doc! { "lease_until": 1 })
                .limit(room)
                .await
                .context("finding expired leases")?
                .try_collect()
                .await
                .context("finding expired leases")?;
            due.extend(expired);
        }
        Ok(due)
    }

    /// Claims the next attempt of `reminder` (as read) until `now + lease`.
    ///
    /// If that attempt is already claimed and its claimer's lease ran out without the reminder
    /// showing it, the claimer died between claiming and marking; the next attempt is tried.
    pub async fn claim(
        &self,
        reminder: &ReminderDoc,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> anyhow::Result<ClaimOutcome> {
        let mut attempt = reminder.attempts + 1;
        for _ in 0..MAX_STEPS {
            let claim = Claim {
                id: format!("{}:{attempt}", reminder.id),
                reminder_id: reminder.id,
                attempt,
                claimed_at: bson::DateTime::from_chrono(now),
                lease_until: bson::DateTime::from_chrono(now + lease),
            };
            match self.claims.insert_one(&claim).await {
                Ok(_) => return Ok(ClaimOutcome::Won { attempt }),
                Err(err) if common::mongo::is_duplicate_key(&err) => {}
                Err(err) => return Err(anyhow::Error::new(err).context("claiming a reminder")),
            }
            let holder = self
                .claims
                .find_one(doc! { "_id": &claim.id })
                .await
                .context("reading a claim")?;
            match holder {
                Some(holder) if holder.lease_until.to_chrono() <= now => attempt += 1,
                _ => return Ok(ClaimOutcome::Lost),
            }
        }
        Ok(ClaimOutcome::Lost)
    }

    /// Records that `reminder` (as read) went to the queue as `attempt`, leased until
    /// `lease_until`. False if it changed meanwhile (cancelled, say): then it is not published.
    pub async fn mark_queued(
        &self,
        reminder: &ReminderDoc,
        attempt: i64,
        lease_until: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        self.update_if(
            reminder.id,
            reminder.status,
            doc! {
                "status": Status::Queued.as_str(),
                "attempts": attempt,
                "lease_until": bson::DateTime::from_chrono(lease_until),
            },
        )
        .await
    }
}
