//! The scheduler: every tick, claim what is due and hand it to the email queue.
//!
//! Any number of schedulers may run: a reminder attempt is published only by the scheduler
//! whose claim insert won (see `store::claims`). A reminder whose scheduler died before the
//! broker confirmed it (its claim's lease ran out), or whose result never came (its
//! `result_timeout` ran out), is claimed again and published again under the same message id,
//! so the email-sender mails it at most once. Ticks never overlap: tokio-cron-scheduler starts
//! a run even while the previous one is still going, so a tick that finds the last still
//! running skips.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use common::{
    amqp::Publisher,
    background,
    messages::{self, EmailContent, EmailRequestedV1},
};
use futures::StreamExt;
use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

use crate::{
    config::SchedulerConfig,
    domain::Transition,
    metrics::SchedulerMetrics,
    store::{ClaimOutcome, ReminderDoc, Store},
};

/// How often confirmed claims are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);

/// How long past its lease a confirmed claim is kept: far longer than any tick's stale read.
const CLAIM_RETENTION: chrono::Duration = chrono::Duration::hours(1);

/// Claims due reminders and publishes them.
#[derive(Clone)]
pub struct Scheduler {
    store: Store,
    email: Publisher,
    config: SchedulerConfig,
    metrics: SchedulerMetrics,
    running: Arc<Mutex<()>>,
}

/// What one tick did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Reminders found due (or with an expired lease).
    pub due: usize,
    /// Of those, claimed by this scheduler and published.
    pub published: usize,
}

impl Scheduler {
    pub fn new(
        store: Store,
        email: Publisher,
        config: SchedulerConfig,
        metrics: SchedulerMetrics,
    ) -> Self {
        Self {
            store,
            email,
            config,
            metrics,
            running: Arc::new(Mutex::new(())),
        }
    }

    /// One pass at `now`: claims and publishes everything due, batch after batch. `None` if
    /// another pass of this scheduler is still running.
    pub async fn tick(&self, now: DateTime<Utc>) -> anyhow::Result<Option<Tick>> {
        let Ok(_running) = self.running.try_lock() else {
            return Ok(None);
        };
        let mut total = Tick::default();
        loop {
            let due = self.store.due(now, i64::from(self.config.batch)).await?;
            if due.is_empty() {
                break;
            }
            let found = due.len();
            self.metrics.due.inc_by(found as u64);
            let published = futures::stream::iter(due)
                .map(|reminder| self.publish_if_claimed(reminder, now))
                .buffer_unordered(self.config.concurrency.max(1))
                .filter(|published| std::future::ready(*published))
                .count()
                .await;
            total.due += found;
            total.published += published;
            // A full batch that this scheduler got nothing of means others are draining it.
            if published == 0 || found < usize::try_from(self.config.batch).unwrap_or(usize::MAX) {
                break;
            }
        }
        Ok(Some(total))
    }

    /// Claims `reminder` and publishes it; whether it did.
    async fn publish_if_claimed(&self, reminder: ReminderDoc, now: DateTime<Utc>) -> bool {
        match self.try_publish(&reminder, now).await {
            Ok(published) => published,
            Err(err) => {
                tracing::warn!(reminder_id = %reminder.id, error = ?err, "publishing a due reminder failed; its lease will bring it back");
                false
            }
        }
    }

    async fn try_publish(
        &self,
        reminder: &ReminderDoc,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let lease = chrono::Duration::from_std(self.config.lease)?;
        let result_timeout = chrono::Duration::from_std(self.config.result_timeout)?;
        let ClaimOutcome::Won { attempt } = self.store.claim(reminder, now, lease).await? else {
            return Ok(false);
        };
        self.metrics.claimed.inc();
        let queued = Transition::Queue {
            attempt,
            result_due: now + result_timeout,
        };
        // False if it changed since it was read (cancelled, say): then it is not published.
        if !self.store.record(reminder, &queued).await? {
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
        let lateness = (Utc::now() - reminder.send_at.to_chrono())
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

    /// Ticks every `interval` until `shutdown`, then waits for the running tick.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut jobs = JobScheduler::new().await?;
        let scheduler = self.clone();
        // tokio-cron-scheduler counts repeat intervals in whole seconds; less than one never
        // repeats.
        let interval = Duration::from_secs(self.config.interval.as_secs().max(1));
        jobs.add(Job::new_repeated_async(interval, move |_, _| {
            let scheduler = scheduler.clone();
            Box::pin(async move {
                match scheduler.tick(Utc::now()).await {
                    Ok(Some(tick)) if tick.due > 0 => tracing::debug!(?tick, "scheduler tick"),
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(error = ?err, "scheduler tick failed; next tick retries")
                    }
                }
            })
        })?)
        .await?;
        jobs.start().await?;
        // Between ticks, until shutdown, old claims are pruned.
        background::prune(
            "claim pruning",
            PRUNE_EVERY,
            CLAIM_RETENTION,
            shutdown,
            |before| self.store.prune_claims(before),
        )
        .await;
        jobs.shutdown().await?;
        // Wait for a tick in progress: its claims must be marked and published.
        let _idle = tokio::time::timeout(Duration::from_secs(30), self.running.lock()).await;
        Ok(())
    }
}
