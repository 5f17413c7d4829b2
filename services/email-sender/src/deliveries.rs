//! The email-sender's database: the ids of messages already mailed, so a redelivered message
//! is acknowledged without mailing it again.

use std::time::Duration;

use chrono::Utc;
use common::{
    background, mongo,
    store::{Deadline, StoreResult},
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

#[derive(Debug, Serialize, Deserialize)]
struct Delivery {
    #[serde(rename = "_id")]
    message_id: String,
    sent_at: bson::DateTime,
}

/// Which messages were mailed.
#[derive(Clone)]
pub struct Deliveries {
    sent: Collection<Delivery>,
    deadline: Deadline,
}

impl Deliveries {
    /// Opens the collection and declares the index pruning uses; every operation waits at most
    /// `deadline`.
    pub async fn open(db: &Database, deadline: Deadline) -> anyhow::Result<Self> {
        let sent = db.collection("deliveries");
        mongo::ensure_indexes(&sent, [mongo::index("by_sent_at", doc! { "sent_at": 1 })]).await?;
        Ok(Self { sent, deadline })
    }

    /// Whether `message_id` was mailed already.
    pub async fn was_sent(&self, message_id: &str) -> StoreResult<bool> {
        let (sent, filter) = (self.sent.clone(), doc! { "_id": message_id });
        self.deadline
            .run("looking up a delivery", async move {
                sent.find_one(filter).await.map(|found| found.is_some())
            })
            .await
    }

    /// Records that `message_id` was accepted by the SMTP server. Recording twice is fine.
    pub async fn record(&self, message_id: &str) -> StoreResult<()> {
        let delivery = Delivery {
            message_id: message_id.to_owned(),
            sent_at: bson::DateTime::now(),
        };
        let sent = self.sent.clone();
        let recording = self.deadline.run("recording a delivery", async move {
            sent.insert_one(delivery).await.map(drop)
        });
        match recording.await {
            Err(err) if err.is_duplicate() => Ok(()),
            other => other,
        }
    }

    /// Forgets the deliveries recorded before `before`; returns how many.
    pub async fn prune(&self, before: chrono::DateTime<Utc>) -> StoreResult<u64> {
        let sent = self.sent.clone();
        let filter = doc! { "sent_at": { "$lt": bson::DateTime::from_chrono(before) } };
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
