//! Calendar feeds: one per user, found by its token.
//!
//! The token is kept as given so its owner can be shown the feed's address again, as calendar
//! services do; it opens that one calendar, read-only, and rotating it closes the old address.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{
    domain::{UserId, ids::hex},
    store::StoreResult,
};
use mongodb::bson::{self, doc};
use serde::{Deserialize, Serialize};

use super::Store;

/// A user's feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedDoc {
    #[serde(rename = "_id", with = "hex")]
    pub user_id: UserId,
    /// 256 random bits, URL-safe base64.
    pub token: String,
    pub created_at: bson::DateTime,
}

/// Whether `raw` could be a token this service made: anything else is unknown without asking
/// the database (which refuses some bytes, such as NUL, with an error).
pub fn could_be_token(raw: &str) -> bool {
    raw.len() == 43
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// 256 random bits, URL-safe base64: a key to one user's feed or mail settings that reveals
/// nothing else.
pub fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|err| anyhow::anyhow!("no randomness: {err}"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl FeedDoc {
    /// A feed for `user_id` with a fresh token.
    pub fn new(user_id: UserId) -> anyhow::Result<Self> {
        Ok(Self {
            user_id,
            token: random_token()?,
            created_at: bson::DateTime::now(),
        })
    }
}

impl Store {
    /// `user_id`'s feed, if they made one.
    pub async fn feed_of(&self, user_id: UserId) -> StoreResult<Option<FeedDoc>> {
        let feeds = self.feeds.clone();
        self.deadline
            .run("reading a feed", async move {
                feeds.find_one(doc! { "_id": user_id.to_string() }).await
            })
            .await
    }

    /// The feed `token` opens, if any.
    pub async fn feed_by_token(&self, token: &str) -> StoreResult<Option<FeedDoc>> {
        let (feeds, token) = (self.feeds.clone(), token.to_owned());
        self.deadline
            .run("finding a feed", async move {
                feeds.find_one(doc! { "token": token }).await
            })
            .await
    }

    /// Makes `feed` its user's one feed: a previous token stops working.
    pub async fn replace_feed(&self, feed: &FeedDoc) -> StoreResult<()> {
        let (feeds, feed) = (self.feeds.clone(), feed.clone());
        self.deadline
            .run("replacing a feed", async move {
                let filter = doc! { "_id": feed.user_id.to_string() };
                feeds
                    .replace_one(filter, &feed)
                    .upsert(true)
                    .await
                    .map(drop)
            })
            .await
    }

    /// Closes `user_id`'s feed; returns whether there was one.
    pub async fn delete_feed(&self, user_id: UserId) -> StoreResult<bool> {
        let feeds = self.feeds.clone();
        self.deadline
            .run("deleting a feed", async move {
                feeds
                    .delete_one(doc! { "_id": user_id.to_string() })
                    .await
                    .map(|result| result.deleted_count == 1)
            })
            .await
    }
}
