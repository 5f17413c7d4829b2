//! Password resets: a token mailed to the account's primary address, spent at most once.

use common::{domain::UserId, store::StoreResult};
use mongodb::bson::{self, doc};
use serde::{Deserialize, Serialize};

use super::Store;

/// A pending reset, by token digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordReset {
    #[serde(rename = "_id")]
    pub digest: String,
    pub user_id: UserId,
    pub expires_at: bson::DateTime,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct SpentReset {
    #[serde(rename = "_id")]
    digest: String,
    spent_at: bson::DateTime,
}

impl Store {
    pub async fn add_password_reset(&self, reset: &PasswordReset) -> StoreResult<()> {
        let reset = reset.clone();
        self.deadline
            .on(
                "storing a password reset",
                &self.resets,
                |resets| async move { resets.insert_one(reset).await.map(drop) },
            )
            .await
    }

    /// The reset with `digest`, if one was ever stored (spent or not).
    pub async fn password_reset(&self, digest: &str) -> StoreResult<Option<PasswordReset>> {
        let filter = doc! { "_id": digest };
        self.deadline
            .on(
                "loading a password reset",
                &self.resets,
                |resets| async move { resets.find_one(filter).await },
            )
            .await
    }

    /// Marks the reset spent. Of any number of concurrent calls with one digest exactly one
    /// returns `true`: only one insert of an `_id` can succeed.
    pub async fn spend_password_reset(&self, digest: &str) -> StoreResult<bool> {
        let spent = SpentReset {
            digest: digest.to_owned(),
            spent_at: bson::DateTime::now(),
        };
        let spending = self
            .deadline
            .on(
                "spending a password reset",
                &self.spent_resets,
                |spent_resets| async move { spent_resets.insert_one(spent).await.map(drop) },
            )
            .await;
        match spending {
            Ok(()) => Ok(true),
            Err(err) if err.is_duplicate() => Ok(false),
            Err(err) => Err(err),
        }
    }
}
