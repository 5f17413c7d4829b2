//! The email-sender's database: the ids of messages already mailed, so a redelivered message
//! is acknowledged without mailing it again.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use common::{background, mongo};
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
}

impl Deliveries {
    /// Opens the collection and declares the index pruning uses.
    pub async fn open(db: &Database) -> anyhow::Result<Self> {
        let sent = db.collection("deliveries");
        mongo::ensure_indexes(&sent, [mongo::index("by_sent_at", doc! { "sent_at": 1 })]).await?;
        Ok(Self { sent })
    }

    /// Whether `message_id` was mailed already.
    pub async fn was_sent(&self, message_id: &str) -> anyhow::Result<bool> {
        Ok(self
            .sent
            .find_one(doc! { "_id": message_id })
            .await
            .context("looking up a delivery")?
            .is_some())
    }

    /// Records that `message_id` was accepted by the SMTP server. Recording twice is fine.
    pub async fn record(&self, message_id: &str) -> anyhow::Result<()> {
        let delivery = Delivery {
            message_id: message_id.to_owned(),
            sent_at: bson::DateTime::now(),
        };
        match self.sent.insert_one(delivery).await {
            Ok(_) => Ok(()),
            Err(err) if common::mongo::is_duplicate_key(&err) => Ok(()),
            Err(err) => Err(anyhow::Error::new(err).context("recording a delivery")),
        }
    }

    /// Forgets the deliveries recorded before `before`; returns how many.
    pub async fn prune(&self, before: chrono::DateTime<Utc>) -> anyhow::Result<u64> {
        let result = self
            .sent
            .delete_many(doc! { "sent_at": { "$lt": bson::DateTime::from_chrono(before) } })
            .await
            .context("pruning deliveries")?;
        Ok(result.deleted_count)
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
