//! Logins and their refresh tokens.

use anyhow::Context;
use common::mongo;
use mongodb::bson::{self, doc, oid::ObjectId};
use serde::{Deserialize, Serialize};

use super::Store;

/// One login: the chain of refresh tokens issued since a password was checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub user_id: ObjectId,
    pub created_at: bson::DateTime,
    pub revoked: bool,
}

/// A refresh token, by digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshToken {
    #[serde(rename = "_id")]
    pub digest: String,
    pub session_id: ObjectId,
    pub user_id: ObjectId,
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
    pub async fn start_session(&self, user_id: ObjectId) -> anyhow::Result<Session> {
        let session = Session {
            id: ObjectId::new(),
            user_id,
            created_at: bson::DateTime::now(),
            revoked: false,
        };
        self.sessions
            .insert_one(&session)
            .await
            .context("starting a session")?;
        Ok(session)
    }

    /// The session with `id`, if any.
    pub async fn session(&self, id: ObjectId) -> anyhow::Result<Option<Session>> {
        self.sessions
            .find_one(doc! { "_id": id })
            .await
            .context("loading a session")
    }

    /// Ends a login: none of its refresh tokens works any more.
    pub async fn revoke_session(&self, id: ObjectId) -> anyhow::Result<()> {
        self.sessions
            .update_one(doc! { "_id": id }, doc! { "$set": { "revoked": true } })
            .await
            .context("revoking a session")?;
        Ok(())
    }

    /// Records a refresh token issued within a session.
    pub async fn add_refresh_token(&self, token: &RefreshToken) -> anyhow::Result<()> {
        self.refresh_tokens
            .insert_one(token)
            .await
            .context("storing a refresh token")?;
        Ok(())
    }

    /// The refresh token with `digest`, if it was ever issued.
    pub async fn refresh_token(&self, digest: &str) -> anyhow::Result<Option<RefreshToken>> {
        self.refresh_tokens
            .find_one(doc! { "_id": digest })
            .await
            .context("loading a refresh token")
    }

    /// Marks the token spent. Returns `false` if it already was: of any number of concurrent
    /// calls with one digest exactly one returns `true`, because only one insert of an `_id`
    /// can succeed.
    pub async fn spend_refresh_token(&self, digest: &str) -> anyhow::Result<bool> {
        let spent = SpentToken {
            digest: digest.to_owned(),
            spent_at: bson::DateTime::now(),
        };
        match self.spent.insert_one(&spent).await {
            Ok(_) => Ok(true),
            Err(err) if mongo::is_duplicate_key(&err) => Ok(false),
            Err(err) => Err(anyhow::Error::new(err).context("spending a refresh token")),
        }
    }

    /// Ends every login of an account.
    pub async fn revoke_sessions_of(&self, user_id: ObjectId) -> anyhow::Result<()> {
        self.sessions
            .update_many(
                doc! { "user_id": user_id },
                doc! { "$set": { "revoked": true } },
            )
            .await
            .context("ending an account's logins")?;
        Ok(())
    }
}
