//! The only code that touches the `users` database.
//!
//! FerretDB 1.x has no transactions and its updates are not atomic, so every guarantee here rests
//! on single-document inserts guarded by unique `_id`s, atomic on MongoDB and FerretDB alike:
//! - an address belongs to at most one account: `email_claims` has one document per address;
//! - a refresh token is spent at most once: spending inserts its digest into `spent_refresh_tokens`.
//!
//! Messages a write causes are kept in the written document's `outbox` and relayed afterwards
//! (see `outbox.rs`), so none is lost if the process dies between the write and the publish.

use anyhow::Context;
use chrono::{DateTime, Utc};
use common::{
    auth::Role,
    domain::{EmailAddress, Topic},
    mongo,
};
use futures::TryStreamExt;
use mongodb::{
    Collection, Database,
    bson::{self, doc, oid::ObjectId},
};
use serde::{Deserialize, Serialize};

use crate::domain::DisplayName;

/// An account as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub display_name: Option<DisplayName>,
    pub emails: Vec<Email>,
    pub interests: Vec<Topic>,
    pub roles: Vec<Role>,
    pub password_hash: String,
    pub created_at: bson::DateTime,
    pub updated_at: bson::DateTime,
    #[serde(default)]
    pub outbox: Vec<OutboxMessage>,
}

impl User {
    /// The primary address (every account has exactly one).
    pub fn primary_email(&self) -> Option<&EmailAddress> {
        self.emails.iter().find(|e| e.primary).map(|e| &e.address)
    }
}

/// One of an account's addresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Email {
    pub address: EmailAddress,
    pub verified: bool,
    pub primary: bool,
}

/// A message to publish once the document holding it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// The message id, the consumers' deduplication key.
    pub id: String,
    /// Which exchange: [`Exchange::Email`] or [`Exchange::Domain`].
    pub exchange: Exchange,
    pub routing_key: String,
    /// The JSON body.
    pub body: String,
}

/// The exchanges the users service publishes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Exchange {
    Email,
    Domain,
}

#[derive(Debug, Serialize, Deserialize)]
struct EmailClaim {
    #[serde(rename = "_id")]
    address: EmailAddress,
    user_id: ObjectId,
    claimed_at: bson::DateTime,
}

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
struct SpentToken {
    #[serde(rename = "_id")]
    digest: String,
    spent_at: bson::DateTime,
}

/// Why registering failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the address is taken")]
    Taken,
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// The users database.
#[derive(Clone)]
pub struct Store {
    users: Collection<User>,
    claims: Collection<EmailClaim>,
    sessions: Collection<Session>,
    refresh_tokens: Collection<RefreshToken>,
    spent: Collection<SpentToken>,
}

impl Store {
    /// Opens the collections and declares their indexes.
    pub async fn open(db: &Database) -> anyhow::Result<Self> {
        let store = Self {
            users: db.collection("users"),
            claims: db.collection("email_claims"),
            sessions: db.collection("sessions"),
            refresh_tokens: db.collection("refresh_tokens"),
            spent: db.collection("spent_refresh_tokens"),
        };
        mongo::ensure_indexes(
            &store.claims,
            [mongo::index("by_user", doc! { "user_id": 1 })],
        )
        .await?;
        mongo::ensure_indexes(
            &store.sessions,
            [mongo::index("by_user", doc! { "user_id": 1 })],
        )
        .await?;
        mongo::ensure_indexes(
            &store.refresh_tokens,
            [mongo::index("by_session", doc! { "session_id": 1 })],
        )
        .await?;
        Ok(store)
    }

    /// Stores a new account after claiming its address; fails with [`RegisterError::Taken`] when
    /// another account holds the address (compared case-insensitively: addresses are normalised).
    pub async fn register(&self, user: &User) -> Result<(), RegisterError> {
        let address = user
            .primary_email()
            .context("a new account has a primary address")?
            .clone();
        self.claim(&address, user.id).await?;
        if let Err(err) = self.users.insert_one(user).await {
            self.release(&address, user.id).await?;
            return Err(anyhow::Error::new(err)
                .context("storing a new account")
                .into());
        }
        Ok(())
    }

    /// Claims `address` for `user_id`. A claim left by a registration that died before storing
    /// its account is taken over.
    async fn claim(&self, address: &EmailAddress, user_id: ObjectId) -> Result<(), RegisterError> {
        let claim = EmailClaim {
            address: address.clone(),
            user_id,
            claimed_at: bson::DateTime::now(),
        };
        match self.claims.insert_one(&claim).await {
            Ok(_) => return Ok(()),
            Err(err) if mongo::is_duplicate_key(&err) => {}
            Err(err) => {
                return Err(anyhow::Error::new(err)
                    .context("claiming an address")
                    .into());
            }
        }
        let holder = self
            .claims
            .find_one(doc! { "_id": address.as_str() })
            .await
            .context("reading an address claim")?;
        let Some(holder) = holder else {
            return Err(RegisterError::Taken);
        };
        let orphaned = self.find(holder.user_id).await?.is_none()
            && holder.claimed_at.to_chrono() < Utc::now() - chrono::Duration::minutes(1);
        if !orphaned {
            return Err(RegisterError::Taken);
        }
        tracing::warn!(user_id = %holder.user_id, "taking over an orphaned address claim");
        self.release(address, holder.user_id).await?;
        Box::pin(self.claim(address, user_id)).await
    }

    async fn release(&self, address: &EmailAddress, user_id: ObjectId) -> anyhow::Result<()> {
        self.claims
            .delete_one(doc! { "_id": address.as_str(), "user_id": user_id })
            .await
            .context("releasing an address claim")?;
        Ok(())
    }

    /// The account holding `address`, if any.
    pub async fn find_by_email(&self, address: &EmailAddress) -> anyhow::Result<Option<User>> {
        let claim = self
            .claims
            .find_one(doc! { "_id": address.as_str() })
            .await
            .context("looking up an address")?;
        match claim {
            Some(claim) => self.find(claim.user_id).await,
            None => Ok(None),
        }
    }

    /// The account with `id`, if any.
    pub async fn find(&self, id: ObjectId) -> anyhow::Result<Option<User>> {
        self.users
            .find_one(doc! { "_id": id })
            .await
            .context("loading an account")
    }

    /// Sets the display name and interests; `None` leaves a field as it is.
    pub async fn update_profile(
        &self,
        id: ObjectId,
        display_name: Option<&DisplayName>,
        interests: Option<&[Topic]>,
    ) -> anyhow::Result<Option<User>> {
        let mut set = doc! { "updated_at": bson::DateTime::now() };
        if let Some(name) = display_name {
            set.insert("display_name", name.as_str());
        }
        if let Some(topics) = interests {
            let topics: Vec<&str> = topics.iter().map(Topic::as_str).collect();
            set.insert("interests", topics);
        }
        self.users
            .update_one(doc! { "_id": id }, doc! { "$set": set })
            .await
            .context("updating a profile")?;
        self.find(id).await
    }

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

    /// Accounts with messages still to publish.
    pub async fn with_pending_messages(&self, limit: i64) -> anyhow::Result<Vec<User>> {
        self.users
            .find(doc! { "outbox.0": { "$exists": true } })
            .limit(limit)
            .await
            .context("finding pending messages")?
            .try_collect()
            .await
            .context("reading pending messages")
    }

    /// Removes a message from its account's outbox once the broker has confirmed it.
    pub async fn mark_published(&self, user_id: ObjectId, message_id: &str) -> anyhow::Result<()> {
        self.users
            .update_one(
                doc! { "_id": user_id },
                doc! { "$pull": { "outbox": { "id": message_id } } },
            )
            .await
            .context("clearing a published message")?;
        Ok(())
    }
}

/// A `bson::DateTime` as chrono's UTC time.
pub fn to_utc(time: bson::DateTime) -> DateTime<Utc> {
    time.to_chrono()
}
