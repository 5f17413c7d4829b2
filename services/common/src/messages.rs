//! The wire formats: what services say to each other over RabbitMQ, each message body with its
//! version in its routing key. Exchanges and queues are in `topology`.
//!
//! Compatibility: a message the previous release wrote is read by this one. A field may be
//! added only where its absence reads as before; any other change is a new version beside the
//! old (`event.updated.v2` next to `.v1`), the old kept while anything may still send it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{EmailAddress, EventId, ReminderId, TimeZone, Topic, UserId, ids::hex};

/// Routing key of [`EmailRequestedV1`].
pub const EMAIL_REQUESTED_V1: &str = "email.requested.v1";
/// Routing key of [`UserDeletedV1`].
pub const USER_DELETED_V1: &str = "user.deleted.v1";
/// Routing key of [`UserEmailRemovedV1`].
pub const USER_EMAIL_REMOVED_V1: &str = "user.email_removed.v1";
/// Routing key of [`UserPrimaryEmailChangedV1`].
pub const USER_PRIMARY_EMAIL_CHANGED_V1: &str = "user.primary_email_changed.v1";
/// Routing key of [`UserTimezoneChangedV1`].
pub const USER_TIMEZONE_CHANGED_V1: &str = "user.timezone_changed.v1";
/// Routing key of [`EventUpdatedV1`].
pub const EVENT_UPDATED_V1: &str = "event.updated.v1";
/// Routing key of [`EventDeletedV1`].
pub const EVENT_DELETED_V1: &str = "event.deleted.v1";
/// Routing key of [`EventChangedV2`] for a new event.
pub const EVENT_CREATED_V2: &str = "event.created.v2";
/// Routing key of [`EventChangedV2`] for a replaced event.
pub const EVENT_UPDATED_V2: &str = "event.updated.v2";
/// Routing key of [`EventRemovedV2`].
pub const EVENT_DELETED_V2: &str = "event.deleted.v2";
/// Routing key of [`EventSaveChangedV1`].
pub const EVENT_SAVE_CHANGED_V1: &str = "event.save_changed.v1";
/// Routing key of [`ReminderSentV1`].
pub const REMINDER_SENT_V1: &str = "reminder.sent.v1";
/// Routing key of [`ReminderFailedV1`].
pub const REMINDER_FAILED_V1: &str = "reminder.failed.v1";
/// Routing key of [`ReminderCancelledV1`].
pub const REMINDER_CANCELLED_V1: &str = "reminder.cancelled.v1";

/// A mail to send. The message id is the idempotency key (the mail's `Message-ID` derives from
/// it), so a redelivered message is never mailed twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailRequestedV1 {
    /// Recipient.
    pub to: EmailAddress,
    /// What to say.
    pub content: EmailContent,
    /// When it was requested.
    pub requested_at: DateTime<Utc>,
}

/// The kinds of mail, each rendered from its own template by the email-sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EmailContent {
    /// Sent once, on registration.
    Welcome {
        /// How to greet the user, if they gave a name.
        display_name: Option<String>,
    },
    /// Proves the recipient owns an address added to an account.
    VerifyAddress {
        /// The single-use token to send back to `POST /api/v1/users/me/emails/verify`.
        token: String,
        /// When the token stops working.
        expires_at: DateTime<Utc>,
        /// The web app's page that sends it back with one click; requests made before there
        /// was one carry the token alone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
    },
    /// Lets the owner of an account choose a new password.
    ResetPassword {
        /// The single-use token to send back to `POST /api/v1/auth/password-reset/confirm`.
        token: String,
        /// When the token stops working.
        expires_at: DateTime<Utc>,
        /// The web app's page where the new password is chosen; requests made before there
        /// was one carry the token alone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
    },
    /// A reminder of an event, with the event attached as an iCalendar file.
    Reminder {
        /// The reminder's id.
        #[serde(with = "hex")]
        reminder_id: ReminderId,
        /// The mail's subject, as the user set it or made from the event.
        subject: String,
        /// The mail's text, as the user set it or made from the event.
        content: String,
        /// The event it reminds of.
        event: EventSummary,
        /// What the mail offers to do with the reminder; none from writers older than links.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        links: Option<ReminderLinks>,
    },
    /// An event the recipient saved or has a reminder for moved, changed place or was
    /// deleted: one mail once the changes settled, with the event attached as it now is.
    EventChanged {
        /// The event as it is now, or as it last was if deleted.
        event: EventSummary,
        /// Whether it was deleted: the attachment then cancels it.
        deleted: bool,
        /// Where one `POST` turns these mails off (RFC 8058 one-click unsubscribe).
        unsubscribe_url: String,
    },
}

/// The links a reminder mail carries, each to a page that asks before it acts on the reminder
/// (signed for that reminder and action only, and expiring).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderLinks {
    /// Mail it again an hour after the click.
    pub snooze_hour: String,
    /// Mail it again the day after the click, at 09:00 on the owner's clock.
    pub snooze_tomorrow: String,
    /// The event's page in the web app; none from writers older than it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_event: Option<String>,
}

/// What a reminder mail says about its event.
///
/// Read leniently where that loses nothing: a zone that does not parse (from an older writer)
/// is reported and read as UTC, so the reminder still goes out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredEventSummary")]
pub struct EventSummary {
    /// The event's id.
    #[serde(with = "hex")]
    pub id: EventId,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    /// The time zone the event happens in.
    pub timezone: TimeZone,
    /// Where: the place's name, then its address if known.
    pub place: String,
    /// The event's version (1 when created, one more at each change): calendars take the
    /// file with the highest as the event's latest. 0 from writers older than the field.
    pub version: i64,
}

/// [`EventSummary`] as written, before its zone is parsed.
#[derive(Deserialize)]
struct StoredEventSummary {
    #[serde(with = "hex")]
    id: EventId,
    title: String,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    timezone: String,
    place: String,
    #[serde(default)]
    version: i64,
}

impl From<StoredEventSummary> for EventSummary {
    fn from(stored: StoredEventSummary) -> Self {
        Self {
            timezone: TimeZone::or_utc(&stored.timezone, "event", &stored.id),
            id: stored.id,
            title: stored.title,
            starts_at: stored.starts_at,
            ends_at: stored.ends_at,
            place: stored.place,
            version: stored.version,
        }
    }
}

/// An account is gone; its saved events and reminders must go too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDeletedV1 {
    /// The deleted user's id.
    #[serde(with = "hex")]
    pub user_id: UserId,
    /// When it was deleted.
    pub deleted_at: DateTime<Utc>,
}

/// A secondary address was removed from an account: what was addressed to it goes to the
/// account's primary address now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserEmailRemovedV1 {
    #[serde(with = "hex")]
    pub user_id: UserId,
    pub removed: EmailAddress,
    pub primary: EmailAddress,
    pub removed_at: DateTime<Utc>,
}

/// An account's primary address is now `email`, and verified: where mail about the events its
/// owner follows goes. Sent when the primary address is verified and when another verified
/// address becomes primary.
///
/// Messages about one account may arrive out of order; `changed_at` tells which is newer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserPrimaryEmailChangedV1 {
    #[serde(with = "hex")]
    pub user_id: UserId,
    pub email: EmailAddress,
    pub changed_at: DateTime<Utc>,
}

/// An account's profile time zone changed: reminders set at a wall-clock time in it are
/// worked out again.
///
/// Messages about one account may arrive out of order; `changed_at` tells which is newer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserTimezoneChangedV1 {
    #[serde(with = "hex")]
    pub user_id: UserId,
    pub timezone: TimeZone,
    pub changed_at: DateTime<Utc>,
}

/// A user saved an event, or unsaved it: their calendar feed and change notices follow it.
///
/// Messages about one save may arrive out of order; `changed_at` tells which is newer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSaveChangedV1 {
    #[serde(with = "hex")]
    pub user_id: UserId,
    #[serde(with = "hex")]
    pub event_id: EventId,
    pub saved: bool,
    /// The event as it is when the message is sent, if it is saved and still exists.
    pub event: Option<EventSummary>,
    pub changed_at: DateTime<Utc>,
}

/// An event was replaced. Reminders relative to its start move when `starts_at` changed, and
/// every pending reminder's mail shows the new details.
///
/// Messages about one event may arrive out of order; `version` tells which is newer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventUpdatedV1 {
    /// The event's version after this change.
    pub version: u32,
    /// When it started before this change.
    pub previous_starts_at: DateTime<Utc>,
    /// The event as it is now.
    pub event: EventSummary,
    /// When it was changed.
    pub updated_at: DateTime<Utc>,
}

/// An event was removed from the catalogue; pending reminders of it are cancelled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDeletedV1 {
    /// The event's id.
    #[serde(with = "hex")]
    pub event_id: EventId,
    /// When it was deleted.
    pub deleted_at: DateTime<Utc>,
}

/// An event as it is after a creation or a replacement, whole, so that whoever keeps a copy of
/// the catalogue (every events instance) can apply it without asking. Published by the writer
/// right after its change, and by the relay for a change whose writer died; so it may arrive
/// twice, late or out of order: apply it only over an older `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventChangedV2 {
    pub event: EventV2,
}

/// An event was removed from the catalogue at `version` (one more than its last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRemovedV2 {
    #[serde(with = "hex")]
    pub event_id: EventId,
    pub version: i64,
    pub deleted_at: DateTime<Utc>,
}

/// A whole event, as the catalogue holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventV2 {
    #[serde(with = "hex")]
    pub id: EventId,
    pub title: String,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub timezone: TimeZone,
    pub place: PlaceV2,
    pub organizer: Option<String>,
    pub topics: Vec<Topic>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 1 when created, one more on every change.
    pub version: i64,
}

/// Where an event happens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceV2 {
    pub name: String,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// The SMTP server accepted a reminder's mail. Sent again if the email-sender is unsure the
/// first went out, so the receiver must be idempotent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderSentV1 {
    /// The reminder's id.
    #[serde(with = "hex")]
    pub reminder_id: ReminderId,
    /// The id of the mail request that was sent (which scheduling of the reminder it was).
    pub message_id: String,
    /// When the SMTP server accepted it.
    pub sent_at: DateTime<Utc>,
}

/// A reminder already handed to the email queue was cancelled (by its owner, or because its
/// event was deleted): its mail request must not be mailed if it has not been yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderCancelledV1 {
    /// The reminder's id.
    #[serde(with = "hex")]
    pub reminder_id: ReminderId,
    /// The id of the mail request not to mail.
    pub message_id: String,
    pub cancelled_at: DateTime<Utc>,
}

/// A reminder's mail was refused for good, or its retries ran out; it is parked in the
/// dead-letter queue, from where an operator may replay it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderFailedV1 {
    /// The reminder's id.
    #[serde(with = "hex")]
    pub reminder_id: ReminderId,
    /// The id of the mail request that failed.
    pub message_id: String,
    /// The SMTP server's answer or what else went wrong.
    pub error: String,
    /// When it was given up.
    pub failed_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_with_an_unparsable_zone_is_read_as_utc() {
        let id = EventId::new();
        let json = serde_json::json!({
            "id": id.to_string(), "title": "Jazz", "starts_at": "2026-12-05T19:30:00Z",
            "ends_at": null, "timezone": "Mars/Olympus", "place": "Granada",
        });
        let summary: EventSummary = serde_json::from_value(json.clone()).unwrap();
        assert_eq!((summary.id, summary.timezone), (id, TimeZone::UTC));
        let written = serde_json::to_value(&summary).unwrap();
        assert_eq!(written["id"], json["id"]);
        assert_eq!(written["timezone"], "UTC");
    }

    #[test]
    fn ids_travel_as_hex_strings() {
        let user_id = UserId::new();
        let deleted = UserDeletedV1 {
            user_id,
            deleted_at: Utc::now(),
        };
        let json = serde_json::to_value(&deleted).unwrap();
        assert_eq!(json["user_id"], user_id.to_string());
        assert_eq!(
            serde_json::from_value::<UserDeletedV1>(json).unwrap(),
            deleted
        );
    }
}
