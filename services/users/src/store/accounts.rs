//! Accounts and their addresses.

use anyhow::Context;
use chrono::Utc;
use common::{
    auth::Role,
    domain::{EmailAddress, Topic},
    mongo,
};
use futures::TryStreamExt;
use mongodb::bson::{self, doc, oid::ObjectId};
use serde::{Deserialize, Serialize};

use super::Store;
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
    /// Set when the account is deleted; the document stays only until `user.deleted` is out.
    #[serde(default)]
    pub deleted: bool,
}

impl User {
    /// The primary address (every account has exactly one).
    pub fn primary_email(&self) -> Option<&EmailAddress> {
        self.emails.iter().find(|e| e.primary).map(|e| &e.address)
    }
}

/// A pending proof of ownership of an address, by token digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verification {
    #[serde(rename = "_id")]
    pub digest: String,
    pub user_id: ObjectId,
    pub address: EmailAddress,
    pub expires_at: bson::DateTime,
}

/// One of an account's addresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Email {
    pub address: EmailAddress,
    pub verified: bool,
    pub primary: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct EmailClaim {
    #[serde(rename = "_id")]
    address: EmailAddress,
    user_id: ObjectId,
    claimed_at: bson::DateTime,
}

/// Why registering failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the address is taken")]
    Taken,
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

impl Store {
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

    /// The account with `id`, if any (a deleted one is gone).
    pub async fn find(&self, id: ObjectId) -> anyhow::Result<Option<User>> {
        self.users
            .find_one(doc! { "_id": id, "deleted": { "$ne": true } })
            .await
            .context("loading an account")
    }

    /// Adds an unverified secondary address to the account, with its verification (whose
    /// mail the caller queues); [`RegisterError::Taken`] if any account holds the address.
    pub async fn add_email(
        &self,
        user_id: ObjectId,
        verification: &Verification,
    ) -> Result<(), RegisterError> {
        self.claim(&verification.address, user_id).await?;
        self.add_verification(verification).await?;
        let entry = Email {
            address: verification.address.clone(),
            verified: false,
            primary: false,
        };
        self.users
            .update_one(
                doc! { "_id": user_id },
                doc! {
                    "$push": { "emails": bson::to_bson(&entry).context("encoding an address")? },
                    "$set": { "updated_at": bson::DateTime::now() },
                },
            )
            .await
            .context("adding an address")?;
        Ok(())
    }

    /// Stores a verification for an address the account already has (its first, at
    /// registration, is stored with the account).
    pub async fn add_verification(&self, verification: &Verification) -> anyhow::Result<()> {
        self.verifications
            .insert_one(verification)
            .await
            .context("storing a verification")?;
        Ok(())
    }

    /// Takes the verification with `digest` out, so it cannot be used again.
    pub async fn take_verification(&self, digest: &str) -> anyhow::Result<Option<Verification>> {
        self.verifications
            .find_one_and_delete(doc! { "_id": digest })
            .await
            .context("taking a verification")
    }

    /// Replaces the account's addresses (after a change computed from a fresh read).
    pub async fn set_emails(&self, user_id: ObjectId, emails: &[Email]) -> anyhow::Result<()> {
        self.users
            .update_one(
                doc! { "_id": user_id },
                doc! { "$set": {
                    "emails": bson::to_bson(emails).context("encoding addresses")?,
                    "updated_at": bson::DateTime::now(),
                } },
            )
            .await
            .context("updating addresses")?;
        Ok(())
    }

    /// Removes a secondary address (as read) and frees it for other accounts.
    pub async fn remove_email(&self, user_id: ObjectId, email: &Email) -> anyhow::Result<()> {
        let element = bson::to_bson(email).context("encoding an address")?;
        self.users
            .update_one(
                doc! { "_id": user_id },
                doc! {
                    "$pull": { "emails": element },
                    "$set": { "updated_at": bson::DateTime::now() },
                },
            )
            .await
            .context("removing an address")?;
        self.release(&email.address, user_id).await
    }

    /// Replaces the account's roles.
    pub async fn set_roles(
        &self,
        user_id: ObjectId,
        roles: &[Role],
    ) -> anyhow::Result<Option<User>> {
        self.users
            .update_one(
                doc! { "_id": user_id, "deleted": { "$ne": true } },
                doc! { "$set": {
                    "roles": bson::to_bson(roles).context("encoding roles")?,
                    "updated_at": bson::DateTime::now(),
                } },
            )
            .await
            .context("updating roles")?;
        self.find(user_id).await
    }

    /// Deletes an account. Marking it deleted is the one write that decides (so `user.deleted`
    /// cannot be lost: the relay announces every marked account, then purges it); logins end
    /// and addresses are freed at once.
    pub async fn delete_account(&self, user_id: ObjectId) -> anyhow::Result<()> {
        self.users
            .update_one(
                doc! { "_id": user_id },
                doc! { "$set": { "deleted": true, "updated_at": bson::DateTime::now() } },
            )
            .await
            .context("marking an account deleted")?;
        self.revoke_sessions_of(user_id).await?;
        self.release_all(user_id).await
    }

    /// Accounts marked deleted whose removal is not finished.
    pub async fn deleted_accounts(&self, limit: i64) -> anyhow::Result<Vec<ObjectId>> {
        let users: Vec<User> = self
            .users
            .find(doc! { "deleted": true })
            .limit(limit)
            .await
            .context("finding deleted accounts")?
            .try_collect()
            .await
            .context("reading deleted accounts")?;
        Ok(users.into_iter().map(|u| u.id).collect())
    }

    /// Removes what is left of a deleted account, once `user.deleted` is out. Idempotent.
    pub async fn purge(&self, user_id: ObjectId) -> anyhow::Result<()> {
        self.release_all(user_id).await?;
        self.users
            .delete_one(doc! { "_id": user_id, "deleted": true })
            .await
            .context("purging a deleted account")?;
        Ok(())
    }

    async fn release_all(&self, user_id: ObjectId) -> anyhow::Result<()> {
        self.claims
            .delete_many(doc! { "user_id": user_id })
            .await
            .context("freeing an account's addresses")?;
        self.verifications
            .delete_many(doc! { "user_id": user_id })
            .await
            .context("dropping an account's verifications")?;
        Ok(())
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
}
