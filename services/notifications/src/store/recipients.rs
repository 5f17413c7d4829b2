//! Who gets mail, where and on which clock: each user's primary address as the users service
//! announces it (`user.primary_email_changed.v1`), their zone (`user.timezone_changed.v1`,
//! for "tomorrow at 09:00" in a reminder mail), and whether they want change notices, behind
//! a token of their own that one-click unsubscribe links carry.
//!
//! A collection each, so that the consumer writing addresses and zones and the API writing
//! choices never overwrite each other's fields (updates are read-modify-write on the local
//! store).

use common::{
    domain::{EmailAddress, TimeZone, UserId, ids::hex},
    messages::{UserPrimaryEmailChangedV1, UserTimezoneChangedV1},
    store::{StoreError, StoreResult},
};
use mongodb::bson::{self, doc};
use serde::{Deserialize, Serialize};

use super::{Store, feeds::random_token};

/// A user's primary address, verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressDoc {
    #[serde(rename = "_id", with = "hex")]
    pub user_id: UserId,
    pub email: EmailAddress,
    pub changed_at: bson::DateTime,
}

/// A user's zone, as last announced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneDoc {
    #[serde(rename = "_id", with = "hex")]
    pub user_id: UserId,
    pub timezone: String,
    pub changed_at: bson::DateTime,
}

/// What mail a user wants besides their reminders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailChoicesDoc {
    #[serde(rename = "_id", with = "hex")]
    pub user_id: UserId,
    /// Opens these choices to one-click unsubscribe, without a login.
    pub token: String,
    /// Mail when an event they follow moves, changes place or is deleted.
    pub change_notices: bool,
    pub changed_at: bson::DateTime,
}

impl Store {
    /// Records `changed` unless a newer address of the same user is recorded; returns whether
    /// it was.
    pub async fn record_primary(&self, changed: &UserPrimaryEmailChangedV1) -> StoreResult<bool> {
        let address = AddressDoc {
            user_id: changed.user_id,
            email: changed.email.clone(),
            changed_at: bson::DateTime::from_chrono(changed.changed_at),
        };
        let (id, changed_at) = (address.user_id.to_string(), address.changed_at);
        self.write_if_newer(
            "recording an address",
            &self.addresses,
            id,
            changed_at,
            address,
        )
        .await
    }

    /// `user_id`'s primary address, if it was announced verified.
    pub async fn primary_address(&self, user_id: UserId) -> StoreResult<Option<EmailAddress>> {
        let addresses = self.addresses.clone();
        let found = self
            .deadline
            .run("reading an address", async move {
                addresses
                    .find_one(doc! { "_id": user_id.to_string() })
                    .await
            })
            .await?;
        Ok(found.map(|address| address.email))
    }

    /// Records `changed` unless a newer zone of the same user is recorded.
    pub async fn record_zone(&self, changed: &UserTimezoneChangedV1) -> StoreResult<bool> {
        let zone = ZoneDoc {
            user_id: changed.user_id,
            timezone: changed.timezone.name().to_owned(),
            changed_at: bson::DateTime::from_chrono(changed.changed_at),
        };
        let (id, changed_at) = (zone.user_id.to_string(), zone.changed_at);
        self.write_if_newer("recording a zone", &self.zones, id, changed_at, zone)
            .await
    }

    /// `user_id`'s zone: UTC until they choose one, as their profile says.
    pub async fn zone_of(&self, user_id: UserId) -> StoreResult<TimeZone> {
        let zones = self.zones.clone();
        let found = self
            .deadline
            .run("reading a zone", async move {
                zones.find_one(doc! { "_id": user_id.to_string() }).await
            })
            .await?;
        Ok(found.map_or(TimeZone::UTC, |zone| {
            TimeZone::or_utc(&zone.timezone, "user", &user_id)
        }))
    }

    /// `user_id`'s choices: change notices on, with a fresh token, until they choose.
    pub async fn mail_choices(&self, user_id: UserId) -> StoreResult<MailChoicesDoc> {
        if let Some(choices) = self
            .find_choices(doc! { "_id": user_id.to_string() })
            .await?
        {
            return Ok(choices);
        }
        let fresh = MailChoicesDoc {
            user_id,
            token: random_token().map_err(StoreError::Other)?,
            change_notices: true,
            changed_at: bson::DateTime::now(),
        };
        let (choices, inserted) = (self.mail_choices.clone(), fresh.clone());
        let result = self
            .deadline
            .run("making mail choices", async move {
                choices.insert_one(&inserted).await.map(drop)
            })
            .await;
        match result {
            Ok(()) => Ok(fresh),
            // Made meanwhile by another request: that one stands.
            Err(err) if err.is_duplicate() => self
                .find_choices(doc! { "_id": user_id.to_string() })
                .await?
                .ok_or_else(|| StoreError::Other(anyhow::anyhow!("mail choices vanished"))),
            Err(err) => Err(err),
        }
    }

    /// The choices `token` opens, if any.
    pub async fn mail_choices_by_token(&self, token: &str) -> StoreResult<Option<MailChoicesDoc>> {
        self.find_choices(doc! { "token": token }).await
    }

    /// Turns `user_id`'s change notices on or off.
    pub async fn choose_change_notices(
        &self,
        user_id: UserId,
        on: bool,
    ) -> StoreResult<MailChoicesDoc> {
        let current = self.mail_choices(user_id).await?;
        let chosen = MailChoicesDoc {
            change_notices: on,
            changed_at: bson::DateTime::now(),
            ..current
        };
        let (choices, replacement) = (self.mail_choices.clone(), chosen.clone());
        self.deadline
            .run("choosing mail", async move {
                choices
                    .replace_one(doc! { "_id": user_id.to_string() }, &replacement)
                    .await
                    .map(drop)
            })
            .await?;
        Ok(chosen)
    }

    /// Forgets a deleted user's address, zone and choices.
    pub async fn forget_recipient(&self, user_id: UserId) -> StoreResult<()> {
        let (addresses, zones, choices) = (
            self.addresses.clone(),
            self.zones.clone(),
            self.mail_choices.clone(),
        );
        let id = user_id.to_string();
        self.deadline
            .run("forgetting an address", async move {
                addresses.delete_one(doc! { "_id": &id }).await?;
                zones.delete_one(doc! { "_id": &id }).await?;
                choices.delete_one(doc! { "_id": &id }).await.map(drop)
            })
            .await
    }

    async fn find_choices(&self, filter: bson::Document) -> StoreResult<Option<MailChoicesDoc>> {
        let choices = self.mail_choices.clone();
        self.deadline
            .run("reading mail choices", async move {
                choices.find_one(filter).await
            })
            .await
    }
}
