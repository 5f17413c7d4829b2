//! Claiming a reminder and handing it to the email queue, once per attempt.

use chrono::Utc;
use common::messages::{self, EmailContent, EmailRequestedV1};
use futures::StreamExt;

use super::{Pass, Scheduler};
use crate::{
    domain::{Status, Transition},
    store::{ClaimOutcome, ReminderDoc},
};

impl Scheduler {
    /// Claims and publishes each of `reminders` (as read), a few at once.
    pub(super) async fn publish_all(&self, reminders: Vec<ReminderDoc>) -> Pass {
        let due = reminders.len();
        if due == 0 {
            return Pass::default();
        }
        self.metrics.due.inc_by(due as u64);
        let published = futures::stream::iter(reminders)
            .map(|reminder| self.publish_if_claimed(reminder))
            .buffer_unordered(self.config.concurrency.max(1))
            .filter(|published| std::future::ready(*published))
            .count()
            .await;
        Pass { due, published }
    }

    /// Claims `reminder` and publishes it; whether it did.
    async fn publish_if_claimed(&self, reminder: ReminderDoc) -> bool {
        match self.try_publish(&reminder).await {
            Ok(published) => published,
            Err(err) => {
                tracing::warn!(reminder_id = %reminder.id, error = ?err, "publishing a due reminder failed; its lease will bring it back");
                false
            }
        }
    }

    async fn try_publish(&self, reminder: &ReminderDoc) -> anyhow::Result<bool> {
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(self.config.lease)?;
        let result_timeout = chrono::Duration::from_std(self.config.result_timeout)?;
        let ClaimOutcome::Won { attempt } = self.store.claim(reminder, now, lease).await? else {
            // Another scheduler has this attempt, or this copy is stale (the reminder was sent
            // and snoozed since, say).
            self.look_again(reminder).await?;
            return Ok(false);
        };
        self.metrics.claimed.inc();
        let queued = Transition::Queue {
            attempt,
            result_due: now + result_timeout,
        };
        if !self.store.record(reminder, &queued).await? {
            // It changed since it was read (edited, cancelled, queued by another): this attempt
            // goes to nobody, and the reminder as it now is decides what happens.
            self.store.release_claim(reminder.id, attempt).await?;
            self.look_again(reminder).await?;
            return Ok(false);
        }
        let request = EmailRequestedV1 {
            to: reminder.to_email.clone(),
            content: EmailContent::Reminder {
                reminder_id: reminder.id,
                subject: reminder.effective_subject(),
                content: reminder.effective_content(),
                event: reminder.event.clone(),
            },
            requested_at: Utc::now(),
        };
        self.email
            .publish(
                messages::EMAIL_REQUESTED_V1,
                &reminder.message_id(),
                &request,
            )
            .await?;
        self.metrics.published.inc();
        let lateness = (self.clock.now() - reminder.send_at.to_chrono())
            .num_milliseconds()
            .max(0);
        self.metrics.lateness.observe(lateness as f64 / 1000.0);
        if let Err(err) = self.store.confirm_claim(reminder.id, attempt).await {
            tracing::warn!(
                reminder_id = %reminder.id,
                error = ?err,
                "published, but the confirm was not recorded; it goes again when its claim's lease ends"
            );
        }
        tracing::info!(reminder_id = %reminder.id, attempt, "reminder queued for mailing");
        Ok(true)
    }

    /// Reads a refused `copy` again: if the reminder is still scheduled but was changed since
    /// the copy was read, it is held anew as it now is (and goes at once if it is due).
    async fn look_again(&self, copy: &ReminderDoc) -> anyhow::Result<()> {
        let Some(current) = self.store.reminder(copy.id).await? else {
            return Ok(());
        };
        if current.status == Status::Scheduled && current.updated_at != copy.updated_at {
            self.consider(copy.id, Some(current));
        }
        Ok(())
    }
}
