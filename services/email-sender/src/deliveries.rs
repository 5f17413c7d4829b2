//! The email-sender's database: which messages are being mailed and which were, so that a
//! message is mailed once however many copies of it arrive, and at whatever moment.
//!
//! Invariant: a worker mails a message only while it holds the message's claim, inserted
//! before the mail goes to the SMTP server; the insert is atomic on MongoDB and FerretDB alike
//! (a unique `_id`), so two copies handled at once cannot both be mailed. A claim becomes a
//! record of the delivery once the server accepted the mail, and is let go when the mail is
//! not sent (a retry or a parked mail claims again). A claim still `sending` after its lease
//! belongs to a worker that died mid-send and is taken over: the mail that was in flight at
//! the SMTP server then may go twice, with the same Message-ID. A cancelled reminder's mail is
//! claimed for nobody, so no worker mails it.
//!
//! Claims and records made at once by the workers in flight are written together ([`GroupCommit`]):
//! one insert of the claims, one update of the records over the claims being sent (few, and
//! found by an equality the local store filters inside PostgreSQL), where one write each would
//! scan the collection once per mail.

use std::{collections::HashSet, time::Duration};

use chrono::Utc;
use common::{
    background,
    group_commit::GroupCommit,
    mongo,
    store::{Deadline, StoreError, StoreResult},
};
use mongodb::{
    Collection, Database,
    bson::{self, doc},
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// How long a delivery is remembered: far longer than any redelivery, retry schedule or
/// notifications' result timeout can bring the same message back.
const RETENTION: chrono::Duration = chrono::Duration::days(30);

/// How often older deliveries are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);

/// Where a message's mailing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum State {
    /// A worker is mailing it.
    Sending,
    /// The SMTP server accepted it.
    Sent,
    /// Its reminder was cancelled before it was mailed.
    Cancelled,
}

#[derive(Debug, Serialize, Deserialize)]
struct Delivery {
    #[serde(rename = "_id")]
    message_id: String,
    /// Records from before claims existed are all of sent mail.
    #[serde(default = "sent")]
    state: State,
    #[serde(default)]
    claimed_at: Option<bson::DateTime>,
    sent_at: Option<bson::DateTime>,
}

fn sent() -> State {
    State::Sent
}

impl Delivery {
    fn new(message_id: &str, state: State, now: chrono::DateTime<Utc>) -> Self {
        Self {
            message_id: message_id.to_owned(),
            state,
            claimed_at: Some(bson::DateTime::from_chrono(now)),
            sent_at: None,
        }
    }
}

/// What a claim on a message found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This worker mails it.
    Won,
    /// It was mailed already.
    Sent,
    /// Another worker is mailing it now.
    Busy,
    /// Its reminder was cancelled: it must not be mailed.
    Cancelled,
}

/// How many times a claim steps over a dead worker's before answering busy.
const MAX_TAKEOVERS: usize = 2;

/// How many claims, or records, one write takes at most.
const WRITTEN_TOGETHER: usize = 256;

/// Which messages are being mailed and which were.
#[derive(Clone)]
pub struct Deliveries {
    sent: Collection<Delivery>,
    deadline: Deadline,
    claiming: GroupCommit<Delivery, StoreResult<()>>,
    recording: GroupCommit<String, StoreResult<()>>,
}

impl Deliveries {
    /// Opens the collection and declares the indexes pruning uses; every operation waits at
    /// most `deadline`.
    pub async fn open(db: &Database, deadline: Deadline) -> anyhow::Result<Self> {
        let sent = db.collection("deliveries");
        mongo::ensure_indexes(
            &sent,
            [
                mongo::index("by_sent_at", doc! { "sent_at": 1 }),
                mongo::index("by_claimed_at", doc! { "claimed_at": 1 }),
            ],
        )
        .await?;
        let claiming = GroupCommit::spawn(WRITTEN_TOGETHER, {
            let (sent, deadline) = (sent.clone(), deadline);
            move |claims| insert_all(sent.clone(), deadline, claims)
        });
        let recording = GroupCommit::spawn(WRITTEN_TOGETHER, {
            let (sent, deadline) = (sent.clone(), deadline);
            move |mailed| mark_all_sent(sent.clone(), deadline, mailed)
        });
        Ok(Self {
            sent,
            deadline,
            claiming,
            recording,
        })
    }

    /// Claims `message_id` for this worker at `now`, taking over a claim older than `lease`
    /// that never became a delivery.
    pub async fn claim(
        &self,
        message_id: &str,
        now: chrono::DateTime<Utc>,
        lease: chrono::Duration,
    ) -> StoreResult<Claim> {
        for _ in 0..=MAX_TAKEOVERS {
            let claim = Delivery::new(message_id, State::Sending, now);
            match self.claiming.write(claim).await.map_err(gone)? {
                Ok(()) => return Ok(Claim::Won),
                Err(err) if err.is_duplicate() => {}
                Err(err) => return Err(err),
            }
            let Some(holder) = self.find(message_id).await? else {
                continue; // let go meanwhile: claim again
            };
            let claimed_at = holder.claimed_at.map(bson::DateTime::to_chrono);
            match holder.state {
                State::Sent => return Ok(Claim::Sent),
                State::Cancelled => return Ok(Claim::Cancelled),
                State::Sending if claimed_at.is_some_and(|at| at + lease > now) => {
                    return Ok(Claim::Busy);
                }
                State::Sending => {
                    let dead = doc! {
                        "_id": message_id,
                        "state": "sending",
                        "claimed_at": holder.claimed_at,
                    };
                    self.delete("taking over a dead worker's delivery", dead)
                        .await?;
                }
            }
        }
        Ok(Claim::Busy)
    }

    /// Records that `message_id` must not be mailed, unless a worker has claimed it already
    /// (then it is being mailed, or was: too late).
    pub async fn cancel(&self, message_id: &str, now: chrono::DateTime<Utc>) -> StoreResult<()> {
        let cancelling = self.insert(
            "recording a cancellation",
            message_id,
            State::Cancelled,
            now,
        );
        match cancelling.await {
            Err(err) if err.is_duplicate() => Ok(()),
            other => other,
        }
    }

    /// Records that the SMTP server accepted `message_id`, claimed by this worker.
    pub async fn mark_sent(&self, message_id: &str) -> StoreResult<()> {
        self.recording
            .write(message_id.to_owned())
            .await
            .map_err(gone)?
    }

    /// Lets go of this worker's claim on `message_id`, which was not mailed.
    pub async fn release(&self, message_id: &str) -> StoreResult<()> {
        let unsent = doc! { "_id": message_id, "state": "sending" };
        self.delete("letting go of a delivery", unsent).await
    }

    /// Whether `message_id` was mailed.
    pub async fn was_sent(&self, message_id: &str) -> StoreResult<bool> {
        Ok(self
            .find(message_id)
            .await?
            .is_some_and(|delivery| delivery.state == State::Sent))
    }

    /// Inserts `message_id` in `state` at `now`; a duplicate `_id` error when it is there.
    async fn insert(
        &self,
        what: &'static str,
        message_id: &str,
        state: State,
        now: chrono::DateTime<Utc>,
    ) -> StoreResult<()> {
        let delivery = Delivery::new(message_id, state, now);
        let sent = self.sent.clone();
        self.deadline
            .run(
                what,
                async move { sent.insert_one(delivery).await.map(drop) },
            )
            .await
    }

    async fn find(&self, message_id: &str) -> StoreResult<Option<Delivery>> {
        let (sent, filter) = (self.sent.clone(), doc! { "_id": message_id });
        self.deadline
            .run("looking up a delivery", async move {
                sent.find_one(filter).await
            })
            .await
    }

    async fn delete(&self, what: &'static str, filter: bson::Document) -> StoreResult<()> {
        let sent = self.sent.clone();
        self.deadline
            .run(what, async move { sent.delete_one(filter).await.map(drop) })
            .await
    }

    /// Forgets the deliveries sent (or claims made) before `before`; returns how many.
    pub async fn prune(&self, before: chrono::DateTime<Utc>) -> StoreResult<u64> {
        let sent = self.sent.clone();
        let before = bson::DateTime::from_chrono(before);
        let filter = doc! { "$or": [
            { "sent_at": { "$lt": before } },
            { "claimed_at": { "$lt": before } },
        ] };
        self.deadline
            .run("pruning deliveries", async move {
                sent.delete_many(filter)
                    .await
                    .map(|result| result.deleted_count)
            })
            .await
    }

    /// Prunes every [`PRUNE_EVERY`] what is older than [`RETENTION`], until `shutdown`.
    pub async fn prune_until(&self, shutdown: CancellationToken) {
        background::prune(
            "delivery pruning",
            PRUNE_EVERY,
            RETENTION,
            shutdown,
            |before| self.prune(before),
        )
        .await;
    }
}

/// Inserts `claims` with one write: each is claimed, or refused as a duplicate (claimed or
/// recorded already, by another worker or by an earlier copy in the same batch).
async fn insert_all(
    sent: Collection<Delivery>,
    deadline: Deadline,
    claims: Vec<Delivery>,
) -> Vec<StoreResult<()>> {
    let count = claims.len();
    let inserting = deadline.run("claiming deliveries", async move {
        match sent.insert_many(claims).ordered(false).await {
            Ok(_) => Ok(HashSet::new()),
            Err(err) => match mongo::duplicate_positions(&err) {
                Some(taken) => Ok(taken.into_iter().collect()),
                None => Err(err),
            },
        }
    });
    match inserting.await {
        Ok(taken) => (0..count)
            .map(|index| {
                if taken.contains(&index) {
                    Err(StoreError::Duplicate(anyhow::anyhow!("claimed already")))
                } else {
                    Ok(())
                }
            })
            .collect(),
        Err(err) => err.for_each_of(count),
    }
}

/// Records `mailed` (each claimed by a worker here) as sent with one write.
async fn mark_all_sent(
    sent: Collection<Delivery>,
    deadline: Deadline,
    mailed: Vec<String>,
) -> Vec<StoreResult<()>> {
    let count = mailed.len();
    let filter = doc! { "state": "sending", "_id": { "$in": mailed } };
    let update = doc! { "$set": { "state": "sent", "sent_at": bson::DateTime::now() } };
    let recording = deadline.run("recording deliveries", async move {
        sent.update_many(filter, update).await.map(drop)
    });
    match recording.await {
        Ok(()) => (0..count).map(|_| Ok(())).collect(),
        Err(err) => err.for_each_of(count),
    }
}

fn gone(err: common::group_commit::WriterGone) -> StoreError {
    StoreError::Other(err.into())
}
