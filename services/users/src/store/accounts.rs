//! Accounts and their addresses.

use chrono::Utc;
use common::{
    auth::Role,
    domain::{EmailAddress, TimeZone, Topic, UserId},
    store::{StoreError, StoreResult},
};
use futures::TryStreamExt;
use mongodb::bson::{self, Document, doc};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::domain::DisplayName;

/// An account as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    #[serde(rename = "_id")]
    pub id: UserId,
    pub display_name: Option<DisplayName>,
    pub emails: Vec<Email>,
    pub interests: Vec<Topic>,
    /// The profile's zone; absent (accounts from before zones) reads as UTC.
    #[serde(default)]
    pub timezone: Option<String>,
    pub roles: Vec<Role>,
    pub password_hash: String,
    pub created_at: bson::DateTime,
    pub updated_at: bson::DateTime,
    /// Set when the account is deleted; the document stays only until `user.deleted` is out.
    #[serde(default)]
    pub deleted: bool,
}

impl User {
    /// The zone wall-clock reminders are set in.
    pub fn timezone(&self) -> TimeZone {
        self.timezone
            .as_deref()
            .map_or(TimeZone::UTC, |raw| TimeZone::or_utc(raw, "user", &self.id))
    }

    /// The primary address (every account has exactly one).
    pub fn primary_email(&self) -> Option<&EmailAddress> {
        self.emails.iter().find(|e| e.primary).map(|e| &e.address)
    }
}

/// What a profile update changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub display_name: Option<DisplayName>,
    pub interests: Option<Vec<Topic>>,
    pub timezone: Option<TimeZone>,
}

/// A pending proof of ownership of an address, by token digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verification {
    #[serde(rename = "_id")]
    pub digest: String,
    pub user_id: UserId,
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
    user_id: UserId,
    claimed_at: bson::DateTime,
}

/// Why an address could not be given to an account (registering, or adding one).
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another account holds the address.
    #[error("the address is taken")]
    Taken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn encode<T: Serialize + ?Sized>(value: &T) -> StoreResult<bson::Bson> {
    bson::to_bson(value).map_err(|err| StoreError::Other(err.into()))
}

impl Store {
    /// Stores a new account after claiming its address; fails with [`ClaimError::Taken`] when
    /// another account holds the address (compared case-insensitively: addresses are normalised).
    pub async fn register(&self, user: &User) -> Result<(), ClaimError> {
        let address = user
            .primary_email()
            .ok_or_else(|| {
                StoreError::Other(anyhow::anyhow!("a new account has no primary address"))
            })?
            .clone();
        self.claim(&address, user.id).await?;
        let inserting = self
            .deadline
            .on("storing a new account", &self.users, |users| {
                let user = user.clone();
                async move { users.insert_one(user).await.map(drop) }
            })
            .await;
        if let Err(err) = inserting {
            self.release(&address, user.id).await?;
            return Err(err.into());
        }
        Ok(())
    }

    /// Claims `address` for `user_id`. A claim left by a registration that died before storing
    /// its account is taken over.
    async fn claim(&self, address: &EmailAddress, user_id: UserId) -> Result<(), ClaimError> {
        let claim = EmailClaim {
            address: address.clone(),
            user_id,
            claimed_at: bson::DateTime::now(),
        };
        let claiming = self
            .deadline
            .on("claiming an address", &self.claims, |claims| async move {
                claims.insert_one(claim).await.map(drop)
            })
            .await;
        match claiming {
            Ok(()) => return Ok(()),
            Err(err) if err.is_duplicate() => {}
            Err(err) => return Err(err.into()),
        }
        let Some(holder) = self.claim_of(address).await? else {
            return Err(ClaimError::Taken);
        };
        let orphaned = self.find(holder.user_id).await?.is_none()
            && holder.claimed_at.to_chrono() < Utc::now() - chrono::Duration::minutes(1);
        if !orphaned {
            return Err(ClaimError::Taken);
        }
        tracing::warn!(user_id = %holder.user_id, "taking over an orphaned address claim");
        self.release(address, holder.user_id).await?;
        Box::pin(self.claim(address, user_id)).await
    }

    async fn claim_of(&self, address: &EmailAddress) -> StoreResult<Option<EmailClaim>> {
        let filter = doc! { "_id": address.as_str() };
        self.deadline
            .on(
                "reading an address claim",
                &self.claims,
                |claims| async move { claims.find_one(filter).await },
            )
            .await
    }

    async fn release(&self, address: &EmailAddress, user_id: UserId) -> StoreResult<()> {
        let filter = doc! { "_id": address.as_str(), "user_id": user_id };
        self.deadline
            .on(
                "releasing an address claim",
                &self.claims,
                |claims| async move { claims.delete_one(filter).await.map(drop) },
            )
            .await
    }

    /// The account holding `address`, if any.
    pub async fn find_by_email(&self, address: &EmailAddress) -> StoreResult<Option<User>> {
        match self.claim_of(address).await? {
            Some(claim) => self.find(claim.user_id).await,
            None => Ok(None),
        }
    }

    /// The account with `id`, if any (a deleted one is gone).
    pub async fn find(&self, id: UserId) -> StoreResult<Option<User>> {
        let filter = doc! { "_id": id, "deleted": { "$ne": true } };
        self.deadline
            .on("loading an account", &self.users, |users| async move {
                users.find_one(filter).await
            })
            .await
    }

    /// Adds an unverified secondary address to the account, with its verification (whose
    /// mail the caller queues); [`ClaimError::Taken`] if any account holds the address.
    pub async fn add_email(
        &self,
        user_id: UserId,
        verification: &Verification,
    ) -> Result<(), ClaimError> {
        self.claim(&verification.address, user_id).await?;
        self.add_verification(verification).await?;
        let entry = Email {
            address: verification.address.clone(),
            verified: false,
            primary: false,
        };
        let change = doc! {
            "$push": { "emails": encode(&entry)? },
            "$set": { "updated_at": bson::DateTime::now() },
        };
        Ok(self
            .update_user(user_id, change, "adding an address")
            .await?)
    }

    /// Stores a verification for an address the account already has (its first, at
    /// registration, is stored with the account).
    pub async fn add_verification(&self, verification: &Verification) -> StoreResult<()> {
        let verification = verification.clone();
        self.deadline
            .on("storing a verification", &self.verifications, |verifications| async move {
                verifications.insert_one(verification).await.map(drop)
            })
            .await
    }

    /// Takes the verification with `digest` out, so it cannot be used again.
    pub async fn take_verification(&self, digest: &str) -> StoreResult<Option<Verification>> {
        let filter = doc! { "_id": digest };
        self.deadline
            .on(
                "taking a verification",
                &self.verifications,
                |verifications| async move { verifications.find_one_and_delete(filter).await },
            )
            .await
    }

    /// Replaces the account's addresses (after a change computed from a fresh read).
    pub async fn set_emails(&self, user_id: UserId, emails: &[Email]) -> StoreResult<()> {
        let change = doc! { "$set": {
            "emails": encode(emails)?,
            "updated_at": bson::DateTime::now(),
        } };
        self.update_user(user_id, change, "updating addresses")
            .await
    }

    /// Removes a secondary address (as read) and frees it for other accounts.
    pub async fn remove_email(&self, user_id: UserId, email: &Email) -> StoreResult<()> {
        let change = doc! {
            "$pull": { "emails": encode(email)? },
            "$set": { "updated_at": bson::DateTime::now() },
        };
        self.update_user(user_id, change, "removing an address")
            .await?;
        self.release(&email.address, user_id).await
    }

    /// Replaces the account's roles.
    pub async fn set_roles(&self, user_id: UserId, roles: &[Role]) -> StoreResult<Option<User>> {
        let change = doc! { "$set": {
            "roles": encode(roles)?,
            "updated_at": bson::DateTime::now(),
        } };
        self.update_user(user_id, change, "updating roles").await?;
        self.find(user_id).await
    }

    /// Deletes an account. Marking it deleted is the one write that decides (so `user.deleted`
    /// cannot be lost: the relay announces every marked account, then purges it); logins end
    /// and addresses are freed at once.
    pub async fn delete_account(&self, user_id: UserId) -> StoreResult<()> {
        let change = doc! { "$set": { "deleted": true, "updated_at": bson::DateTime::now() } };
        self.update_user(user_id, change, "marking an account deleted")
            .await?;
        self.revoke_sessions_of(user_id).await?;
        self.release_all(user_id).await
    }

    /// Accounts marked deleted whose removal is not finished, and when they were marked.
    pub async fn deleted_accounts(
        &self,
        limit: usize,
    ) -> StoreResult<Vec<(UserId, chrono::DateTime<Utc>)>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let users: Vec<User> = self
            .deadline
            .on(
                "finding deleted accounts",
                &self.users,
                |users| async move {
                    users
                        .find(doc! { "deleted": true })
                        .limit(limit)
                        .await?
                        .try_collect()
                        .await
                },
            )
            .await?;
        Ok(users
            .into_iter()
            .map(|u| (u.id, u.updated_at.to_chrono()))
            .collect())
    }

    /// Removes what is left of a deleted account, once `user.deleted` is out. Idempotent.
    pub async fn purge(&self, user_id: UserId) -> StoreResult<()> {
        self.release_all(user_id).await?;
        let filter = doc! { "_id": user_id, "deleted": true };
        self.deadline
            .on(
                "purging a deleted account",
                &self.users,
                |users| async move { users.delete_one(filter).await.map(drop) },
            )
            .await
    }

    async fn release_all(&self, user_id: UserId) -> StoreResult<()> {
        let filter = doc! { "user_id": user_id };
        let by_user = filter.clone();
        let resets_by_user = filter.clone();
        self.deadline
            .on(
                "dropping an account's password resets",
                &self.resets,
                |resets| async move { resets.delete_many(resets_by_user).await.map(drop) },
            )
            .await?;
        self.deadline
            .on(
                "freeing an account's addresses",
                &self.claims,
                |claims| async move { claims.delete_many(by_user).await.map(drop) },
            )
            .await?;
        self.deadline
            .on(
                "dropping an account's verifications",
                &self.verifications,
                |verifications| async move { verifications.delete_many(filter).await.map(drop) },
            )
            .await
    }

    /// Sets the display name and interests; `None` leaves a field as it is.
    pub async fn update_profile(
        &self,
        id: UserId,
        change: &ProfileChange,
    ) -> StoreResult<Option<User>> {
        let mut set = doc! { "updated_at": bson::DateTime::now() };
        if let Some(name) = &change.display_name {
            set.insert("display_name", name.as_str());
        }
        if let Some(topics) = &change.interests {
            let topics: Vec<&str> = topics.iter().map(Topic::as_str).collect();
            set.insert("interests", topics);
        }
        if let Some(zone) = change.timezone {
            set.insert("timezone", zone.name());
        }
        self.update_user(id, doc! { "$set": set }, "updating a profile")
            .await?;
        self.find(id).await
    }

    /// Replaces the account's password hash.
    pub async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()> {
        let change = doc! { "$set": {
            "password_hash": hash,
            "updated_at": bson::DateTime::now(),
        } };
        self.update_user(id, change, "changing a password").await
    }

    async fn update_user(
        &self,
        id: UserId,
        change: Document,
        what: &'static str,
    ) -> StoreResult<()> {
        self.deadline
            .on(what, &self.users, |users| async move {
                // A deleted account is only waiting to be purged: nothing changes it.
                let filter = doc! { "_id": id, "deleted": { "$ne": true } };
                users.update_one(filter, change).await.map(drop)
            })
            .await
    }
}
