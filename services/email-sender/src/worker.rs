//! Consume → render → send → acknowledge.
//!
//! A delivery is acknowledged only after the SMTP server accepted its mail (or it was mailed
//! before). It is claimed before it is mailed (`deliveries`): a copy another worker is mailing
//! at that moment comes back after the first retry delay and finds it mailed. A mail the
//! server refuses for now goes to the retry queue for its attempt, whose TTL returns it to the
//! work queue later, so a waiting retry never blocks other mail; after the last delay, or when
//! the server refuses it for good, it is rejected and RabbitMQ parks it in `email-sender.dead`.
//!
//! For reminders the outcome is announced on the domain exchange (`reminder.sent`,
//! `reminder.failed`) before the delivery is settled; if that publish fails, the delivery is
//! requeued and its redelivery announces again (a duplicate is acknowledged only once its
//! `reminder.sent` is out), so the notifications service always learns the outcome.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use common::{
    amqp::{Outcome, Publisher},
    messages::{
        self, EmailContent, EmailRequestedV1, ReminderCancelledV1, ReminderFailedV1, ReminderSentV1,
    },
    topology::retry_key,
};
use lapin::{
    message::Delivery,
    types::{AMQPValue, FieldTable, ShortString},
};

use crate::{
    deliveries::{Claim, Deliveries},
    mailer::{Mailer, SendFailure},
    metrics::{Handled, MailMetrics},
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
    /// How long a claim on a mail may last before its worker is presumed dead.
    pub send_lease: chrono::Duration,
    pub metrics: MailMetrics,
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
            self.metrics.count(Handled::Parked);
            return Outcome::Reject;
        };
        let request: EmailRequestedV1 = match serde_json::from_slice(&delivery.data) {
            Ok(request) => request,
            Err(err) => {
                tracing::error!(error = %err, "unreadable mail request; parking it");
                self.metrics.count(Handled::Parked);
                return Outcome::Reject;
            }
        };
        match self
            .deliveries
            .claim(&message_id, Utc::now(), self.send_lease)
            .await
        {
            Ok(Claim::Won) => {}
            Ok(Claim::Sent) => {
                tracing::info!("already mailed; acknowledging the duplicate");
                self.metrics.count(Handled::Duplicate);
                return self.announce_sent(&message_id, &request).await;
            }
            Ok(Claim::Cancelled) => {
                tracing::info!("its reminder was cancelled; acknowledging without mailing");
                self.metrics.count(Handled::Cancelled);
                return Outcome::Ack;
            }
            Ok(Claim::Busy) => {
                tracing::info!("another worker is mailing it now; looking again later");
                self.metrics.count(Handled::Busy);
                return self.look_again_later(&message_id, &request, delivery).await;
            }
            Err(err) => {
                tracing::warn!(error = ?err, "cannot claim the delivery; will retry");
                return Outcome::Requeue;
            }
        }
        let rendered = match self.templates.render(&request) {
            Ok(rendered) => rendered,
            Err(err) => {
                tracing::error!(error = ?err, "rendering failed; parking the mail");
                self.metrics.count(Handled::Parked);
                self.release(&message_id).await;
                return Outcome::Reject;
            }
        };
        match self
            .mailer
            .send(request.to.as_str(), &message_id, &rendered)
            .await
        {
            Ok(()) => {
                if let Err(err) = self.deliveries.mark_sent(&message_id).await {
                    tracing::warn!(error = ?err, "mailed, but not recorded: a redelivery after the claim's lease would mail it again");
                }
                tracing::info!("mailed");
                self.metrics.count(Handled::Mailed);
                self.announce_sent(&message_id, &request).await
            }
            Err(SendFailure::Permanent(why)) => {
                tracing::error!(%why, "the SMTP server refused the mail for good; parking it");
                self.metrics.count(Handled::Parked);
                self.release(&message_id).await;
                self.announce_failed(&message_id, &request, &why).await
            }
            Err(SendFailure::Transient(why)) => {
                self.release(&message_id).await;
                self.retry_later(&message_id, &request, attempt(delivery), &why)
                    .await
            }
        }
    }

    /// Lets go of the claim on a mail that was not sent, so that its retry, redelivery or
    /// replay claims it again.
    async fn release(&self, message_id: &str) {
        if let Err(err) = self.deliveries.release(message_id).await {
            tracing::warn!(error = ?err, "cannot let go of the delivery; it is taken over once its claim's lease ends");
        }
    }

    /// Sends a copy another worker is mailing right now through the first retry delay, not
    /// counted as an attempt: by then that worker has recorded it, or has let it go.
    async fn look_again_later(
        &self,
        message_id: &str,
        request: &EmailRequestedV1,
        delivery: &Delivery,
    ) -> Outcome {
        let Some(delay) = self.delays.first() else {
            return Outcome::Requeue;
        };
        self.schedule(*delay, message_id, request, attempt(delivery))
            .await
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
            self.metrics.count(Handled::Parked);
            let why = format!("gave up after {} attempts: {why}", attempt + 1);
            return self.announce_failed(message_id, request, &why).await;
        };
        match self
            .schedule(*delay, message_id, request, attempt + 1)
            .await
        {
            Outcome::Ack => {
                tracing::warn!(%why, ?delay, attempt = attempt + 1, "SMTP refused for now; retrying later");
                self.metrics.count(Handled::Retried);
                Outcome::Ack
            }
            other => other,
        }
    }

    /// Publishes `request` to the retry queue of `delay`, to come back as attempt `attempt`.
    async fn schedule(
        &self,
        delay: Duration,
        message_id: &str,
        request: &EmailRequestedV1,
        attempt: usize,
    ) -> Outcome {
        let mut headers = FieldTable::default();
        let attempt = i64::try_from(attempt).unwrap_or(i64::MAX);
        headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongLongInt(attempt));
        match self
            .retry
            .publish_with_headers(&retry_key(delay), message_id, request, headers)
            .await
        {
            Ok(()) => Outcome::Ack,
            Err(err) => {
                tracing::warn!(error = %err, "cannot schedule the retry; requeueing");
                Outcome::Requeue
            }
        }
    }
}

impl Worker {
    /// Records a cancelled reminder's mail request as not to be mailed.
    pub async fn handle_cancellation(&self, delivery: &Delivery) -> Outcome {
        let cancelled: ReminderCancelledV1 = match serde_json::from_slice(&delivery.data) {
            Ok(cancelled) => cancelled,
            Err(err) => {
                tracing::error!(error = %err, "unreadable cancellation; dropping it");
                return Outcome::Reject;
            }
        };
        match self
            .deliveries
            .cancel(&cancelled.message_id, Utc::now())
            .await
        {
            Ok(()) => {
                tracing::info!(reminder_id = %cancelled.reminder_id, message_id = %cancelled.message_id, "reminder cancelled; its mail will not go out");
                Outcome::Ack
            }
            Err(err) => {
                tracing::warn!(error = ?err, "cannot record a cancellation; will retry");
                Outcome::Requeue
            }
        }
    }

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
