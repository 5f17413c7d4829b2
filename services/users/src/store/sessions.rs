//! Logins and their refresh tokens.

use common::{domain::UserId, store::StoreResult};
use mongodb::bson::{self, doc, oid::ObjectId};
use serde::{Deserialize, Serialize};

use super::Store;

/// One login: the chain of refresh tokens issued since a password was checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub user_id: UserId,
    pub created_at: bson::DateTime,
    pub revoked: bool,
}

/// A refresh token, by digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshToken {
    #[serde(rename = "_id")]
    pub digest: String,
    pub session_id: ObjectId,
    pub user_id: UserId,
    pub expires_at: bson::DateTime,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct SpentToken {
    #[serde(rename = "_id")]
    digest: String,
    spent_at: bson::DateTime,
}

impl Store {
    /// Starts a login for `user_id`.
    pub async fn start_session(&self, user_id: UserId) -> StoreResult<Session> {
        let session = Session {
            id: ObjectId::new(),
            user_id,
            created_at: bson::DateTime::now(),
            revoked: false,
        };
        let stored = session.clone();
        self.deadline
            .on(
                "starting a session",
                &self.sessions,
                |sessions| async move { sessions.insert_one(stored).await.map(drop) },
            )
            .await?;
        Ok(session)
    }

    /// The session with `id`, if any.
    pub async fn session(&self, id: ObjectId) -> StoreResult<Option<Session>> {
        self.deadline
            .on("loading a session", &self.sessions, |sessions| async move {
                sessions.find_one(doc! { "_id": id }).await
            })
            .await
    }

    /// Ends a login: none of its refresh tokens works any more.
    pub async fn revoke_session(&self, id: ObjectId) -> StoreResult<()> {
        self.deadline
            .on(
                "revoking a session",
                &self.sessions,
                |sessions| async move {
                    sessions
                        .update_one(doc! { "_id": id }, doc! { "$set": { "revoked": true } })
                        .await
                        .map(drop)
                },
            )
            .await
    }

    /// Records a refresh token issued within a session.
    pub async fn add_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        let token = token.clone();
        self.deadline
            .on(
                "storing a refresh token",
                &self.refresh_tokens,
                |tokens| async move { tokens.insert_one(token).await.map(drop) },
            )
            .await
    }

    /// The refresh token with `digest`, if it was ever issued.
    pub async fn refresh_token(&self, digest: &str) -> StoreResult<Option<RefreshToken>> {
        let filter = doc! { "_id": digest };
        self.deadline
            .on(
                "loading a refresh token",
                &self.refresh_tokens,
                |tokens| async move { tokens.find_one(filter).await },
            )
            .await
    }

    /// Marks the token spent. Returns `false` if it already was: of any number of concurrent
    /// calls with one digest exactly one returns `true`, because only one insert of an `_id`
    /// can succeed.
    pub async fn spend_refresh_token(&self, digest: &str) -> StoreResult<bool> {
        let spent = SpentToken {
            digest: digest.to_owned(),
            spent_at: bson::DateTime::now(),
        };
        let spending = self
            .deadline
            .on(
                "spending a refresh token",
                &self.spent,
                |tokens| async move { tokens.insert_one(spent).await.map(drop) },
            )
            .await;
        match spending {
            Ok(()) => Ok(true),
            Err(err) if err.is_duplicate() => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Ends every login of an account.
    pub async fn revoke_sessions_of(&self, user_id: UserId) -> StoreResult<()> {
        self.deadline
            .on(
                "ending an account's logins",
                &self.sessions,
                |sessions| async move {
                    sessions
                        .update_many(
                            doc! { "user_id": user_id },
                            doc! { "$set": { "revoked": true } },
                        )
                        .await
                        .map(drop)
                },
            )
            .await
    }
}
