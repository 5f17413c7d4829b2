//! The email-sender's database: the ids of messages already mailed, so a redelivered message
//! is acknowledged without mailing it again.

use anyhow::Context;
use mongodb::{
    Collection, Database,
    bson::{self, doc},
};
use serde::{Deserialize, Serialize};

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
    pub fn new(db: &Database) -> Self {
        Self {
            sent: db.collection("deliveries"),
        }
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
}
