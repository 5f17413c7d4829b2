//! Consume → render → send → acknowledge.
//!
//! A delivery is acknowledged only after the SMTP server accepted its mail (or it was mailed
//! before: the message id is recorded once sent). A mail the server refuses for now goes to the
//! retry queue for its attempt, whose TTL returns it to the work queue later, so a waiting retry
//! never blocks other mail; after the last delay, or when the server refuses it for good, it is
//! rejected and RabbitMQ parks it in `email-sender.dead`.
//!
//! For reminders the outcome is announced on the domain exchange (`reminder.sent`,
//! `reminder.failed`) before the delivery is settled; if that publish fails, the delivery is
//! requeued and its redelivery announces again (a duplicate is acknowledged only once its
//! `reminder.sent` is out), so the notifications service always learns the outcome.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use common::{
    amqp::{Outcome, Publisher},
    messages::{self, EmailContent, EmailRequestedV1, ReminderFailedV1, ReminderSentV1},
    topology::retry_key,
};
use lapin::{
    message::Delivery,
    types::{AMQPValue, FieldTable, ShortString},
};

use crate::{
    deliveries::Deliveries,
    mailer::{Mailer, SendFailure},
    templates::Templates,
};

/// Header counting how many times a mail was tried.
pub const ATTEMPT_HEADER: &str = "x-attempt";

/// Everything a delivery needs.
#[derive(Clone)]
pub struct Worker {
    pub templates: Arc<Templates>,
    pub mailer: Mailer,
    pub deliveries: Deliveries,
    pub retry: Publisher,
    /// The domain exchange, for reminder outcomes.
    pub results: Publisher,
    pub delays: Arc<[Duration]>,
}

impl Worker {
    /// Decides what happens to one delivery.
    pub async fn handle(&self, delivery: &Delivery) -> Outcome {
        let Some(message_id) = delivery
            .properties
            .message_id()
            .as_ref()
            .map(ShortString::to_string)
        else {
            tracing::error!(
                "a mail request without a message id cannot be deduplicated; parking it"
            );
            return Outcome::Reject;
        };
        let request: EmailRequestedV1 = match serde_json::from_slice(&delivery.data) {
            Ok(request) => request,
            Err(err) => {
                tracing::error!(error = %err, "unreadable mail request; parking it");
                return Outcome::Reject;
            }
        };
        match self.deliveries.was_sent(&message_id).await {
            Ok(true) => {
                tracing::info!("already mailed; acknowledging the duplicate");
                return self.announce_sent(&message_id, &request).await;
            }
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(error = ?err, "cannot check for duplicates; will retry");
                return Outcome::Requeue;
            }
        }
        let rendered = match self.templates.render(&request) {
            Ok(rendered) => rendered,
            Err(err) => {
                tracing::error!(error = ?err, "rendering failed; parking the mail");
                return Outcome::Reject;
            }
        };
        match self
            .mailer
            .send(request.to.as_str(), &message_id, &rendered)
            .await
        {
            Ok(()) => {
                if let Err(err) = self.deliveries.record(&message_id).await {
                    tracing::warn!(error = ?err, "mailed, but not recorded: a redelivery would mail it again");
                }
                tracing::info!("mailed");
                self.announce_sent(&message_id, &request).await
            }
            Err(SendFailure::Permanent(why)) => {
                tracing::error!(%why, "the SMTP server refused the mail for good; parking it");
                self.announce_failed(&message_id, &request, &why).await
            }
            Err(SendFailure::Transient(why)) => {
                self.retry_later(&message_id, &request, attempt(delivery), &why)
                    .await
            }
        }
    }

    async fn retry_later(
        &self,
        message_id: &str,
        request: &EmailRequestedV1,
        attempt: usize,
        why: &str,
    ) -> Outcome {
        let Some(delay) = self.delays.get(attempt) else {
            tracing::error!(%why, attempts = attempt + 1, "out of retries; parking the mail");
            let why = format!("gave up after {} attempts: {why}", attempt + 1);
            return self.announce_failed(message_id, request, &why).await;
        };
        let mut headers = FieldTable::default();
        let next = i64::try_from(attempt + 1).unwrap_or(i64::MAX);
        headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongLongInt(next));
        match self
            .retry
            .publish_with_headers(&retry_key(*delay), message_id, request, headers)
            .await
        {
            Ok(()) => {
                tracing::warn!(%why, ?delay, attempt = attempt + 1, "SMTP refused for now; retrying later");
                Outcome::Ack
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot schedule the retry; requeueing");
                Outcome::Requeue
            }
        }
    }
}

impl Worker {
    /// Tells the notifications service a reminder was mailed, then acknowledges.
    async fn announce_sent(&self, message_id: &str, request: &EmailRequestedV1) -> Outcome {
        let EmailContent::Reminder { reminder_id, .. } = &request.content else {
            return Outcome::Ack;
        };
        let sent = ReminderSentV1 {
            reminder_id: *reminder_id,
            message_id: message_id.to_owned(),
            sent_at: Utc::now(),
        };
        let id = format!("sent-{message_id}");
        self.announce(messages::REMINDER_SENT_V1, &id, &sent, Outcome::Ack)
            .await
    }

    /// Tells the notifications service a reminder failed for good, then parks it.
    async fn announce_failed(
        &self,
        message_id: &str,
        request: &EmailRequestedV1,
        why: &str,
    ) -> Outcome {
        let EmailContent::Reminder { reminder_id, .. } = &request.content else {
            return Outcome::Reject;
        };
        let failed = ReminderFailedV1 {
            reminder_id: *reminder_id,
            message_id: message_id.to_owned(),
            error: why.to_owned(),
            failed_at: Utc::now(),
        };
        let id = format!("failed-{message_id}");
        self.announce(messages::REMINDER_FAILED_V1, &id, &failed, Outcome::Reject)
            .await
    }

    async fn announce<T: serde::Serialize>(
        &self,
        key: &str,
        id: &str,
        body: &T,
        then: Outcome,
    ) -> Outcome {
        match self.results.publish(key, id, body).await {
            Ok(()) => then,
            Err(err) => {
                tracing::warn!(error = %err, "cannot announce the outcome; requeueing to announce it later");
                Outcome::Requeue
            }
        }
    }
}

/// How many times the delivery was tried before (0 the first time).
fn attempt(delivery: &Delivery) -> usize {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(ATTEMPT_HEADER))
        .and_then(|value| match value {
            AMQPValue::LongLongInt(n) => usize::try_from(*n).ok(),
            AMQPValue::LongInt(n) => usize::try_from(*n).ok(),
            _ => None,
        })
        .unwrap_or(0)
}
