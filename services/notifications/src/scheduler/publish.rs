//! Claiming reminders and handing them to the email queue, once per attempt, a batch at a
//! time: one insert claims a batch, one update (per due minute) queues it, and one update
//! records the broker's confirms, so that a burst costs a few writes per batch rather than
//! three per reminder. A batch prepared ahead of its time (claimed and queued) waits for each
//! reminder's time before publishing it.
//!
//! Each batch is one scheduling pass with a request id of its own, in its log lines, on the
//! reminders it queues and on its mail requests; the email-sender's results carry it back, so
//! that they too are recorded a pass at a time.

use std::collections::BTreeMap;

use chrono::Utc;
use common::{
    domain::ReminderId,
    messages::{self, EmailContent, EmailRequestedV1},
    request_id::RequestId,
};
use futures::StreamExt;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::{Pass, Scheduler};
use crate::{
    domain::Status,
    store::{ClaimOutcome, ReminderDoc},
};

impl Scheduler {
    /// Claims and publishes each of `reminders` (as read), a batch at a time.
    pub(super) async fn publish_all(&self, reminders: Vec<ReminderDoc>) -> Pass {
        let due = reminders.len();
        let mut published = 0;
        for batch in self.due_in_batches(reminders) {
            let prepared = self.prepare(batch).await;
            published += prepared.publish(self).await;
        }
        Pass { due, published }
    }

    /// Prepares each of `reminders` (as read) now, a batch at a time, and publishes each at its
    /// time on a task of `publishing`. The preparations are made one after another on purpose:
    /// what falls due while one is written is taken by the next, together.
    pub(super) async fn publish_on_time(
        &self,
        reminders: Vec<ReminderDoc>,
        publishing: &TaskTracker,
    ) {
        for batch in self.due_in_batches(reminders) {
            let prepared = self.prepare(batch).await;
            let scheduler = self.clone();
            publishing.spawn(async move { prepared.publish(&scheduler).await });
        }
    }

    /// `reminders`, counted as due, in batches of at most the configured size. More than one
    /// batch's worth are batched a part of their due minute at a time (see
    /// [`due_shard`](crate::store::due_shard)): the local store then reads and writes each
    /// batch by an equality on its part rather than the whole crowded minute each time.
    fn due_in_batches(&self, reminders: Vec<ReminderDoc>) -> Vec<Vec<ReminderDoc>> {
        self.metrics.due.inc_by(reminders.len() as u64);
        let size = usize::try_from(self.config.batch.max(1)).unwrap_or(usize::MAX);
        if reminders.is_empty() {
            return Vec::new();
        }
        if reminders.len() <= size {
            return vec![reminders];
        }
        let mut parts: BTreeMap<Option<i64>, Vec<ReminderDoc>> = BTreeMap::new();
        for reminder in reminders {
            parts.entry(reminder.due_shard).or_default().push(reminder);
        }
        parts
            .into_values()
            .flat_map(|part| {
                let mut part = part.into_iter().peekable();
                std::iter::from_fn(move || {
                    part.peek()?;
                    Some(part.by_ref().take(size).collect())
                })
            })
            .collect()
    }

    /// Claims `batch` and queues what it won, as a new scheduling pass.
    async fn prepare(&self, batch: Vec<ReminderDoc>) -> Prepared {
        let pass = RequestId::generate();
        let ids: Vec<ReminderId> = batch.iter().map(|reminder| reminder.id).collect();
        let reminders = in_pass(&pass, self.claim_and_queue(batch, &pass))
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(request_id = %pass, error = ?err, "preparing due reminders failed; their claims' leases bring them back");
                Vec::new()
            });
        self.done_preparing(&ids);
        Prepared { pass, reminders }
    }

    async fn claim_and_queue(
        &self,
        batch: Vec<ReminderDoc>,
        pass: &RequestId,
    ) -> anyhow::Result<Vec<(ReminderDoc, i64)>> {
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(self.config.lease)?;
        let result_timeout = chrono::Duration::from_std(self.config.result_timeout)?;
        let (mut won, contested) = self.store.claim_all(batch, now, lease).await?;
        // Someone holds these attempts: another scheduler, a dead one (stepped over), or this
        // copy is stale (the reminder was sent and snoozed since, say).
        for reminder in contested {
            match self.store.claim(&reminder, now, lease).await? {
                ClaimOutcome::Won { attempt } => won.push((reminder, attempt)),
                ClaimOutcome::Lost => self.look_again(&reminder).await?,
            }
        }
        self.metrics.claimed.inc_by(won.len() as u64);
        let queued = self
            .store
            .queue_all(&won, now + result_timeout, pass)
            .await?;
        let (to_publish, refused): (Vec<_>, Vec<_>) =
            won.into_iter().zip(queued).partition(|(_, queued)| *queued);
        // Changed since they were read (edited, cancelled, queued by another): these attempts
        // go to nobody, and each reminder as it now is decides what happens.
        let released: Vec<(ReminderId, i64)> = refused
            .iter()
            .map(|((reminder, attempt), _)| (reminder.id, *attempt))
            .collect();
        self.store.release_all(&released).await?;
        for ((reminder, _), _) in &refused {
            self.look_again(reminder).await?;
        }
        let mut to_publish: Vec<(ReminderDoc, i64)> =
            to_publish.into_iter().map(|(won, _)| won).collect();
        to_publish.sort_by_key(|(reminder, _)| reminder.send_at);
        Ok(to_publish)
    }

    /// Publishes each of `prepared` at its time and records the broker's confirms; returns
    /// how many it published.
    async fn publish_prepared(&self, prepared: Vec<(ReminderDoc, i64)>) -> usize {
        let confirmed: Vec<(ReminderId, i64)> = futures::stream::iter(prepared)
            .map(|(reminder, attempt)| async move {
                self.clock.sleep_until(reminder.send_at.to_chrono()).await;
                match self.publish(&reminder, attempt).await {
                    Ok(()) => Some((reminder.id, attempt)),
                    Err(err) => {
                        tracing::warn!(reminder_id = %reminder.id, error = ?err, "publishing a queued reminder failed; its claim's lease brings it back");
                        None
                    }
                }
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .filter_map(std::future::ready)
            .collect()
            .await;
        if let Err(err) = self.store.confirm_all(&confirmed).await {
            tracing::warn!(
                error = ?err,
                "published, but the confirms were not recorded; they go again when their claims' leases end"
            );
        }
        confirmed.len()
    }

    /// Hands `reminder` (queued as `attempt`) to the email queue and waits for the broker's
    /// confirm.
    async fn publish(&self, reminder: &ReminderDoc, attempt: i64) -> anyhow::Result<()> {
        let request = EmailRequestedV1 {
            to: reminder.to_email.clone(),
            content: EmailContent::Reminder {
                reminder_id: reminder.id,
                subject: reminder.effective_subject(),
                content: reminder.effective_content(),
                event: reminder.event.clone(),
                links: Some(
                    self.links
                        .for_mail(reminder.id, reminder.event_id, Utc::now()),
                ),
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
        tracing::info!(reminder_id = %reminder.id, attempt, "reminder queued for mailing");
        Ok(())
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

/// The attempts one scheduling pass claimed and queued, by due time.
struct Prepared {
    pass: RequestId,
    reminders: Vec<(ReminderDoc, i64)>,
}

impl Prepared {
    /// Publishes each at its time, in the pass's name; returns how many it published.
    async fn publish(self, scheduler: &Scheduler) -> usize {
        in_pass(&self.pass, scheduler.publish_prepared(self.reminders)).await
    }
}

/// `work` done as scheduling pass `pass`: its id current (for the messages it publishes) and
/// on its log lines.
async fn in_pass<F: Future>(pass: &RequestId, work: F) -> F::Output {
    let span = tracing::info_span!("scheduling_pass", request_id = %pass);
    pass.clone().scope(work).instrument(span).await
}
