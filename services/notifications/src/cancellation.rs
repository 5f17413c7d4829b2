//! Cancelling reminders, those already handed to the email queue included: the email-sender
//! hears of each cancelled reminder that was queued (`reminder.cancelled.v1`, naming the mail
//! request) and will not mail a request it has not started on.
//!
//! A queued reminder is announced before it is marked, so once it shows `cancelled` the
//! email-sender's queue holds the cancellation; announcing again is harmless, so a failed
//! announcement is repaired by doing the whole cancellation again (the event deletion is
//! redelivered; the owner's DELETE answers 503 and may be repeated). For a deleted event, what
//! a scheduler queued while its reminders were being marked is announced after.

use std::collections::HashSet;

use chrono::Utc;
use common::{
    amqp::Publisher,
    domain::EventId,
    messages::{self, ReminderCancelledV1},
    store::StoreResult,
};

use crate::{
    domain::{Status, Transition},
    store::{ReminderDoc, Store},
};

/// Cancels reminders and tells the email-sender.
#[derive(Clone)]
pub struct Canceller {
    pub store: Store,
    /// The domain exchange.
    pub domain: Publisher,
}

impl Canceller {
    /// Cancels `reminder` (as read) if it is scheduled or queued; false if it is finished or
    /// changed meanwhile. Cancelling a cancelled one that was queued announces it again.
    pub async fn cancel(&self, reminder: &ReminderDoc) -> StoreResult<bool> {
        match reminder.status {
            Status::Sent | Status::Failed => Ok(false),
            Status::Cancelled => {
                if reminder.attempts > 0 {
                    self.announce(reminder).await?;
                }
                Ok(true)
            }
            Status::Scheduled | Status::Queued => {
                if reminder.status == Status::Queued {
                    self.announce(reminder).await?;
                }
                self.store.record(reminder, &Transition::Cancel).await
            }
        }
    }

    /// Cancels every scheduled or queued reminder of a deleted event; returns how many.
    pub async fn cancel_for_event(&self, event_id: EventId) -> StoreResult<u64> {
        let queued = self.store.queued_for_event(event_id).await?;
        for reminder in &queued {
            self.announce(reminder).await?;
        }
        let cancelled = self.store.cancel_for_event(event_id).await?;
        let announced: HashSet<String> = queued.iter().map(ReminderDoc::message_id).collect();
        for reminder in self.store.cancelled_after_queueing(event_id).await? {
            if !announced.contains(&reminder.message_id()) {
                self.announce(&reminder).await?;
            }
        }
        Ok(cancelled)
    }

    async fn announce(&self, reminder: &ReminderDoc) -> StoreResult<()> {
        let message_id = reminder.message_id();
        let cancelled = ReminderCancelledV1 {
            reminder_id: reminder.id,
            message_id: message_id.clone(),
            cancelled_at: Utc::now(),
        };
        self.domain
            .publish(
                messages::REMINDER_CANCELLED_V1,
                &format!("cancelled-{message_id}"),
                &cancelled,
            )
            .await?;
        Ok(())
    }
}
