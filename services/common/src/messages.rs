//! What services say to each other over RabbitMQ: the exchanges, the queues that must exist for
//! nothing to be dropped, and each message body with its version in its routing key.
//!
//! Names are prefixed with `AmqpConfig::prefix` (empty in production, unique per test).

use chrono::{DateTime, Utc};
use lapin::Channel;
use serde::{Deserialize, Serialize};

use crate::{
    amqp::{self, QueueSpec},
    domain::EmailAddress,
};

/// Exchange for mail to send; the email-sender consumes it.
pub const EMAIL_EXCHANGE: &str = "eventpost.email";
/// Exchange for facts other services react to (`user.deleted.v1`, `event.updated.v1`, …).
pub const DOMAIN_EXCHANGE: &str = "eventpost.domain";
/// The email-sender's work queue.
pub const EMAIL_QUEUE: &str = "email-sender.emails";
/// Where mail that cannot be sent is parked for an operator (exchange and queue).
pub const EMAIL_DEAD_EXCHANGE: &str = "eventpost.email.dead";
/// The parking queue behind [`EMAIL_DEAD_EXCHANGE`].
pub const EMAIL_DEAD_QUEUE: &str = "email-sender.dead";

/// Routing key of [`EmailRequestedV1`].
pub const EMAIL_REQUESTED_V1: &str = "email.requested.v1";
/// Routing key of [`UserDeletedV1`].
pub const USER_DELETED_V1: &str = "user.deleted.v1";
/// Routing key of [`EventUpdatedV1`].
pub const EVENT_UPDATED_V1: &str = "event.updated.v1";
/// Routing key of [`EventDeletedV1`].
pub const EVENT_DELETED_V1: &str = "event.deleted.v1";
/// Routing key of [`ReminderSentV1`].
pub const REMINDER_SENT_V1: &str = "reminder.sent.v1";
/// Routing key of [`ReminderFailedV1`].
pub const REMINDER_FAILED_V1: &str = "reminder.failed.v1";

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
    },
    /// A reminder of an event, with the event attached as an iCalendar file.
    Reminder {
        /// The reminder's id.
        reminder_id: String,
        /// The mail's subject, as the user set it or made from the event.
        subject: String,
        /// The mail's text, as the user set it or made from the event.
        content: String,
        /// The event it reminds of.
        event: EventSummary,
    },
}

/// What a reminder mail says about its event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSummary {
    /// The event's id.
    pub id: String,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    /// IANA time zone the event happens in, e.g. `Europe/Madrid`.
    pub timezone: String,
    /// Where: the place's name, then its address if known.
    pub place: String,
}

/// An account is gone; its saved events and reminders must go too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDeletedV1 {
    /// The deleted user's id.
    pub user_id: String,
    /// When it was deleted.
    pub deleted_at: DateTime<Utc>,
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
    pub event_id: String,
    /// When it was deleted.
    pub deleted_at: DateTime<Utc>,
}

/// The SMTP server accepted a reminder's mail. Sent again if the email-sender is unsure the
/// first went out, so the receiver must be idempotent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderSentV1 {
    /// The reminder's id.
    pub reminder_id: String,
    /// The id of the mail request that was sent (which scheduling of the reminder it was).
    pub message_id: String,
    /// When the SMTP server accepted it.
    pub sent_at: DateTime<Utc>,
}

/// A reminder's mail was refused for good, or its retries ran out; it is parked in the
/// dead-letter queue, from where an operator may replay it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderFailedV1 {
    /// The reminder's id.
    pub reminder_id: String,
    /// The id of the mail request that failed.
    pub message_id: String,
    /// The SMTP server's answer or what else went wrong.
    pub error: String,
    /// When it was given up.
    pub failed_at: DateTime<Utc>,
}

/// Declares the email exchange, the email-sender's work queue and its parking queue, so mail
/// requested before the email-sender first starts waits instead of being returned as
/// unroutable. Publishers and the email-sender call this; declarations are idempotent.
///
/// The work queue dead-letters into the parking queue: besides the worker's own decisions,
/// RabbitMQ 4 drops a quorum queue's message after 20 deliveries unless a dead-letter exchange
/// is set.
pub async fn declare_email_topology(channel: &Channel, prefix: &str) -> lapin::Result<()> {
    let exchange = format!("{prefix}{EMAIL_EXCHANGE}");
    let dead = format!("{prefix}{EMAIL_DEAD_EXCHANGE}");
    amqp::declare_exchange(channel, &exchange).await?;
    amqp::declare_exchange(channel, &dead).await?;
    amqp::declare_queue(
        channel,
        &QueueSpec {
            name: format!("{prefix}{EMAIL_DEAD_QUEUE}"),
            bindings: vec![(dead.clone(), "#".into())],
            dead_letter_exchange: None,
            ..Default::default()
        },
    )
    .await?;
    amqp::declare_queue(
        channel,
        &QueueSpec {
            name: format!("{prefix}{EMAIL_QUEUE}"),
            bindings: vec![(exchange, "email.#".into())],
            dead_letter_exchange: Some(dead),
            ..Default::default()
        },
    )
    .await
}

/// Declares the domain-events exchange. Each consumer declares and binds its own queue.
pub async fn declare_domain_exchange(channel: &Channel, prefix: &str) -> lapin::Result<()> {
    amqp::declare_exchange(channel, &format!("{prefix}{DOMAIN_EXCHANGE}")).await
}
