//! Change notices: every scheduler hears at once of a reminder created or changed, so that one
//! due inside its window goes at its new time and one cancelled does not go. A notice says only
//! which reminder and when it is now due; the scheduler reads the rest if it concerns its
//! window. Each scheduler has its own queue, exclusive to its connection; what it misses while
//! the queue is gone, its next read-ahead finds (and one is made as soon as it is back).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::{
    amqp::{Broadcasts, Broker, Heard, Publisher},
    domain::ReminderId,
    topology::{Exchange, Queue, Topology},
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::Scheduler;
use crate::{domain::Status, store::ReminderDoc};

/// Routing key of [`ReminderChanged`] on the domain exchange; only schedulers bind it.
pub const REMINDER_CHANGED: &str = "reminder.changed.v1";

/// Routing key of [`ChangeNoticeDue`] on the domain exchange; only schedulers bind it.
pub const CHANGE_NOTICE_DUE: &str = "change_notice.due.v1";

/// A change notice was recorded, due at `due_at` (see `crate::change_notices`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeNoticeDue {
    pub id: String,
    pub due_at: DateTime<Utc>,
}

/// A reminder was created or changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderChanged {
    pub reminder_id: ReminderId,
    /// When it is due now; none if it is no longer scheduled.
    pub send_at: Option<DateTime<Utc>>,
}

impl ReminderChanged {
    pub fn of(reminder: &ReminderDoc) -> Self {
        Self {
            reminder_id: reminder.id,
            send_at: (reminder.status == Status::Scheduled).then(|| reminder.send_at.to_chrono()),
        }
    }
}

/// Tells the schedulers of changes.
#[derive(Clone)]
pub struct Notices {
    /// The domain exchange, as a broadcast (no scheduler running is fine).
    pub domain: Publisher,
}

impl Notices {
    /// Tells every scheduler of `change`. A notice that cannot be published is logged, not
    /// failed: the schedulers' read-ahead finds the change within the minute.
    pub async fn tell(&self, change: ReminderChanged) {
        let message_id = format!(
            "changed-{}-{}",
            change.reminder_id,
            Utc::now().timestamp_millis()
        );
        if let Err(err) = self
            .domain
            .publish(REMINDER_CHANGED, &message_id, &change)
            .await
        {
            tracing::warn!(reminder_id = %change.reminder_id, error = %err, "a change notice was not published; the schedulers' next read-ahead finds the change");
        }
    }

    /// Tells every scheduler that a change notice is due at `due.due_at`, for one due inside
    /// their window; logged, not failed, like [`Notices::tell`].
    pub async fn tell_due(&self, due: ChangeNoticeDue) {
        let message_id = format!("due-{}-{}", due.id, due.due_at.timestamp_millis());
        if let Err(err) = self
            .domain
            .publish(CHANGE_NOTICE_DUE, &message_id, &due)
            .await
        {
            tracing::warn!(id = due.id, error = %err, "a due change notice was not announced; the schedulers' next read-ahead finds it");
        }
    }
}

/// A scheduler's queue of notices, already consumed.
pub struct Subscription {
    broadcasts: Broadcasts,
}

impl Subscription {
    /// Declares this scheduler's queue and starts consuming it.
    pub async fn open(broker: &Broker, topology: &Topology) -> lapin::Result<Self> {
        let queue = topology.queue(Queue::NotificationsScheduler(uuid::Uuid::new_v4()));
        let domain = topology.exchange(Exchange::Domain);
        let bindings = [
            (domain.clone(), REMINDER_CHANGED.to_owned()),
            (domain, CHANGE_NOTICE_DUE.to_owned()),
        ];
        // A notice lost is made up for by the read-ahead.
        let broadcasts = Broadcasts::follow(broker, &queue, &bindings).await?;
        Ok(Self { broadcasts })
    }

    /// Hands every notice to `scheduler` until `shutdown`; after the connection is recovered,
    /// reads ahead again to make up for what was missed.
    pub async fn follow(
        mut self,
        scheduler: Scheduler,
        shutdown: CancellationToken,
    ) -> lapin::Result<()> {
        let scheduler = Arc::new(scheduler);
        while let Some(heard) = self.broadcasts.next(&shutdown).await {
            match heard {
                Heard::Message(delivery) if delivery.routing_key.as_str() == CHANGE_NOTICE_DUE => {
                    match serde_json::from_slice::<ChangeNoticeDue>(&delivery.data) {
                        Ok(due) => scheduler.heard_change_notice(&due).await,
                        Err(err) => {
                            tracing::error!(error = %err, "dropping an unreadable due notice")
                        }
                    }
                }
                Heard::Message(delivery) => {
                    match serde_json::from_slice::<ReminderChanged>(&delivery.data) {
                        Ok(change) => {
                            if let Err(err) =
                                scheduler.heard(change.reminder_id, change.send_at).await
                            {
                                tracing::warn!(reminder_id = %change.reminder_id, error = ?err, "a change notice could not be followed; the next read-ahead finds the change");
                            }
                        }
                        Err(err) => {
                            tracing::error!(error = %err, "dropping an unreadable change notice")
                        }
                    }
                }
                Heard::Resumed { .. } => {
                    if let Err(err) = scheduler.read_ahead().await {
                        tracing::warn!(error = ?err, "reading ahead after a reconnection failed; the next minute's read tries again");
                    }
                }
            }
        }
        self.broadcasts.close().await;
        Ok(())
    }
}
