//! Change notices: every scheduler hears at once of a reminder created or changed, so that one
//! due inside its window goes at its new time and one cancelled does not go. A notice says only
//! which reminder and when it is now due; the scheduler reads the rest if it concerns its
//! window. Each scheduler has its own queue, exclusive to its connection; what it misses while
//! the queue is gone, its next read-ahead finds (and one is made as soon as it is back).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::{
    amqp::{self, Publisher},
    domain::ReminderId,
    topology::{Exchange, Queue, Topology},
};
use futures::StreamExt;
use lapin::{Channel, Connection, Consumer};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::Scheduler;
use crate::{domain::Status, store::ReminderDoc};

/// Routing key of [`ReminderChanged`] on the domain exchange; only schedulers bind it.
pub const REMINDER_CHANGED: &str = "reminder.changed.v1";

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
}

/// A scheduler's queue of notices, already consumed.
pub struct Subscription {
    channel: Channel,
    consumer: Consumer,
}

impl Subscription {
    /// Declares this scheduler's queue and starts consuming it.
    pub async fn open(connection: &Connection, topology: &Topology) -> lapin::Result<Self> {
        let queue = topology.queue(Queue::NotificationsScheduler(uuid::Uuid::new_v4()));
        let bindings = [(
            topology.exchange(Exchange::Domain),
            REMINDER_CHANGED.to_owned(),
        )];
        // A notice lost is made up for by the read-ahead.
        let (channel, consumer) = amqp::subscribe_private(connection, &queue, &bindings).await?;
        Ok(Self { channel, consumer })
    }

    /// Hands every notice to `scheduler` until `shutdown`; after the connection is recovered,
    /// reads ahead again to make up for what was missed.
    pub async fn follow(
        mut self,
        scheduler: Scheduler,
        shutdown: CancellationToken,
    ) -> lapin::Result<()> {
        let scheduler = Arc::new(scheduler);
        loop {
            let next = tokio::select! {
                () = shutdown.cancelled() => break,
                next = self.consumer.next() => next,
            };
            match next {
                Some(Ok(delivery)) => {
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
                Some(Err(err)) => {
                    self.channel.wait_for_recovery(err).await?;
                    if let Err(err) = scheduler.read_ahead().await {
                        tracing::warn!(error = ?err, "reading ahead after a reconnection failed; the next minute's read tries again");
                    }
                }
                None => break,
            }
        }
        if let Err(err) = self.channel.close(200, "stopped following".into()).await {
            tracing::debug!(error = %err, "closing the notices channel failed");
        }
        Ok(())
    }
}
