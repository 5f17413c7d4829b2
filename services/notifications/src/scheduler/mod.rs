//! The scheduler: reminders go out at their time, read ahead a minute at a time and held in
//! memory on timers, so that its steady cost does not grow with the reminders waiting.
//!
//! - At a fixed second of each minute it reads the reminders due in this minute and the next,
//!   by an equality on their due minute, into its window ([`Agenda`]). Each is claimed and
//!   recorded as queued shortly before its time (`prepare_ahead`), and published when the
//!   clock reaches it: the database writes, which the local store makes slow, are then off
//!   the moment that matters.
//! - A reminder created or changed inside the window reaches every scheduler at once as a
//!   change notice (see [`notices`]); one that missed it finds the reminder at its next
//!   read-ahead. A held copy that went stale anyway (edited, cancelled, re-addressed) cannot
//!   go out: queueing it is recorded only over the reminder as it was read, and a refused
//!   copy is read again and held anew if it is still to go.
//! - Any number of schedulers may hold the same reminder: an attempt is published only by the
//!   one whose claim insert won (see `store::claims`). Every few seconds each looks for claims
//!   whose scheduler died before the broker's confirm and for results that never came, both
//!   by equalities on few documents, and publishes those again under the same message id, so
//!   the email-sender mails each at most once.
//! - At start it sends what fell due while no scheduler ran, oldest first.
//!
//! tokio-cron-scheduler runs the periodic jobs (the read-ahead, the checks, pruning); the
//! timers are the agenda's, on an injected [`Clock`](common::clock::Clock) that tests move.

mod change_mail;
pub mod notices;
mod publish;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use common::{
    amqp::{Broker, Publisher},
    clock::SharedClock,
    domain::ReminderId,
    topology::Topology,
};
use tokio::sync::watch;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use self::{change_mail::ChangeMail, notices::ChangeNoticeDue};
use crate::{
    action_links::ActionLinks,
    agenda::Agenda,
    config::SchedulerConfig,
    domain::{Minute, Status},
    metrics::SchedulerMetrics,
    store::{ReminderDoc, Store},
};

/// How often confirmed claims are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);

/// How long past its lease a confirmed claim is kept: far longer than any held copy is old.
const CLAIM_RETENTION: chrono::Duration = chrono::Duration::hours(1);

/// How often the checks look for results overdue. The result timeout is hours, and the look
/// is an equality on `queued` that the local store answers by scanning every reminder: every
/// check (5 s) made it most of the idle cost with a million waiting.
const RESULTS_CHECKED_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// How long to wait before trying a failed start-up step again.
const RETRY: Duration = Duration::from_secs(1);

/// Claims reminders at their time and publishes them.
#[derive(Clone)]
pub struct Scheduler {
    store: Store,
    email: Publisher,
    config: SchedulerConfig,
    metrics: SchedulerMetrics,
    clock: SharedClock,
    /// The reminders due before `horizon`, each at its time.
    window: Agenda<ReminderId, ReminderDoc>,
    /// Everything due before it has been read into the window.
    horizon: Arc<Mutex<DateTime<Utc>>>,
    /// Taken from the window and not yet queued: a read-ahead meanwhile finds them still
    /// scheduled, and must not hold them again (a burst takes longer than a minute).
    preparing: Arc<Mutex<HashSet<ReminderId>>>,
    /// Held while the periodic checks run, so that they never overlap; holds when they last
    /// looked for overdue results.
    checking: Arc<tokio::sync::Mutex<Option<DateTime<Utc>>>>,
    /// Whether [`Scheduler::run`] has subscribed, caught up and read ahead.
    started: Arc<watch::Sender<bool>>,
    /// The change notices, on timers of their own.
    change_mail: ChangeMail,
    /// Signs the snooze links each reminder mail carries.
    links: ActionLinks,
}

/// What one pass over some reminders did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Reminders it found to publish.
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
        clock: SharedClock,
        links: ActionLinks,
    ) -> Self {
        let horizon = clock.now();
        Self {
            change_mail: ChangeMail::new(
                store.clone(),
                email.clone(),
                links.public_url().clone(),
                clock.clone(),
            ),
            links,
            window: Agenda::new(clock.clone()),
            horizon: Arc::new(Mutex::new(horizon)),
            preparing: Arc::default(),
            checking: Arc::new(tokio::sync::Mutex::new(None)),
            started: Arc::new(watch::Sender::new(false)),
            store,
            email,
            config,
            metrics,
            clock,
        }
    }

    /// Reads the reminders due in the next minute into the window, with those of this minute
    /// and the last that it does not hold yet; returns how many it holds now.
    ///
    /// The two minutes behind are read again for what a scheduler may have missed (its notice
    /// lost with the broker): a reminder is written at the latest in the minute it is looked
    /// for in, after that minute's read at the worst, and then found by the next, late rather
    /// than never.
    pub async fn read_ahead(&self) -> anyhow::Result<usize> {
        let minute = Minute::of(self.clock.now());
        // Moved first: a notice heard while the read runs is held rather than left to it.
        self.extend_horizon(minute.next().next().start());
        for minute in [minute.previous(), minute, minute.next()] {
            for reminder in self.store.due_within(minute).await? {
                if !self.is_preparing(reminder.id) {
                    self.hold(reminder);
                }
            }
        }
        self.change_mail.read_ahead(minute).await?;
        let held = self.window.read(|timers| timers.len());
        self.metrics
            .held
            .set(i64::try_from(held).unwrap_or(i64::MAX));
        self.metrics.read_aheads.inc();
        Ok(held)
    }

    /// Resolves once [`Scheduler::run`] follows the change notices, has sent what was overdue
    /// and holds the window.
    pub async fn wait_until_started(&self) {
        let mut started = self.started.subscribe();
        // The sender lives in `self`: the wait ends only once it has started.
        let _started = started.wait_for(|started| *started).await.map(drop);
    }

    /// What this scheduler holds, by due time: for tests and diagnostics.
    pub fn held(&self) -> Vec<(ReminderId, DateTime<Utc>)> {
        let ahead = self.prepare_ahead();
        let schedule = self.window.read(|timers| timers.schedule());
        schedule
            .into_iter()
            .map(|(id, prepare_at)| (id, prepare_at + ahead))
            .collect()
    }

    /// Sends what fell due while no scheduler ran, oldest first, batch after batch.
    pub async fn catch_up(&self) -> anyhow::Result<Pass> {
        let mut total = Pass::default();
        let batch = i64::from(self.config.batch.max(1));
        loop {
            let overdue = self.store.overdue(self.clock.now(), batch).await?;
            let found = overdue.len();
            let pass = self.publish_all(overdue).await;
            total.due += pass.due;
            total.published += pass.published;
            // A full batch this scheduler got nothing of means others are draining it.
            if pass.published == 0 || i64::try_from(found).unwrap_or(i64::MAX) < batch {
                return Ok(total);
            }
        }
    }

    /// Publishes again what a dead scheduler claimed but never got confirmed, and (once a
    /// minute) what waited for its result past `result_timeout`. `None` if a check is still
    /// running.
    pub async fn check_leases(&self) -> anyhow::Result<Option<Pass>> {
        let Ok(mut results_checked) = self.checking.try_lock() else {
            return Ok(None);
        };
        let now = self.clock.now();
        let mut stuck = self.store.orphaned(now).await?;
        if results_checked.is_none_or(|at| now - at >= RESULTS_CHECKED_EVERY) {
            stuck.extend(self.store.results_overdue(now).await?);
            *results_checked = Some(now);
        }
        Ok(Some(self.publish_all(stuck).await))
    }

    /// Holds `reminder` in the window, to be prepared shortly before its time, unless the
    /// window holds a newer copy.
    fn hold(&self, reminder: ReminderDoc) {
        let prepare_at = reminder.send_at.to_chrono() - self.prepare_ahead();
        self.window.change(|timers| {
            if let Some((_, held)) = timers.get(&reminder.id)
                && held.updated_at > reminder.updated_at
            {
                return;
            }
            timers.set(reminder.id, prepare_at, reminder);
        });
    }

    fn prepare_ahead(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.prepare_ahead).unwrap_or_default()
    }

    /// What a change notice says of reminder `id`, now due at `send_at` (`None`: no longer
    /// scheduled): it is read and held as it now is if it is due inside the window, and
    /// dropped from the window otherwise.
    pub async fn heard(
        &self,
        id: ReminderId,
        send_at: Option<DateTime<Utc>>,
    ) -> anyhow::Result<()> {
        let current = match send_at {
            Some(at) if at < self.horizon() => self.store.reminder(id).await?,
            _ => None,
        };
        self.consider(id, current);
        Ok(())
    }

    /// What a due notice says of a change notice: held if it falls inside the window.
    pub async fn heard_change_notice(&self, due: &ChangeNoticeDue) {
        if let Err(err) = self.change_mail.heard(due, self.horizon()).await {
            tracing::warn!(error = ?err, id = due.id, "a due change notice could not be read; the next read-ahead finds it");
        }
    }

    /// Holds `current`, the reminder `id` as it now is, if it is scheduled inside the window;
    /// drops `id` from the window otherwise.
    fn consider(&self, id: ReminderId, current: Option<ReminderDoc>) {
        let horizon = self.horizon();
        match current {
            Some(reminder)
                if reminder.status == Status::Scheduled
                    && reminder.send_at.to_chrono() < horizon =>
            {
                self.hold(reminder);
            }
            _ => {
                self.window.change(|timers| timers.remove(&id));
            }
        }
    }

    fn preparing(&self) -> std::sync::MutexGuard<'_, HashSet<ReminderId>> {
        self.preparing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn is_preparing(&self, id: ReminderId) -> bool {
        self.preparing().contains(&id)
    }

    fn done_preparing(&self, ids: &[ReminderId]) {
        let mut preparing = self.preparing();
        for id in ids {
            preparing.remove(id);
        }
    }

    fn horizon(&self) -> DateTime<Utc> {
        *self
            .horizon
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn extend_horizon(&self, to: DateTime<Utc>) {
        let mut horizon = self
            .horizon
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *horizon = (*horizon).max(to);
    }

    /// Runs until `shutdown`: follows the change notices through `broker`, catches up, reads
    /// ahead every minute, fires the window's timers and runs the periodic checks; then lets
    /// the publishes in progress finish.
    pub async fn run(
        self,
        broker: Broker,
        topology: Topology,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        // Subscribed before the first read, so that nothing changed meanwhile is missed.
        let notices = notices::Subscription::open(&broker, &topology).await?;
        let following = tokio::spawn(notices.follow(self.clone(), shutdown.clone()));
        self.until_done("catching up", &shutdown, || self.catch_up())
            .await;
        self.until_done("catching up change notices", &shutdown, || {
            self.change_mail.catch_up(self.clock.now())
        })
        .await;
        self.until_done("reading ahead", &shutdown, || self.read_ahead())
            .await;
        let mut jobs = self.periodic_jobs().await?;
        jobs.start().await?;
        self.started.send_replace(true);
        // Each prepared group waits for its reminders' times on its own, so that what falls
        // due meanwhile is prepared on time too.
        let publishing = TaskTracker::new();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                due = self.window.due() => {
                    self.preparing().extend(due.iter().map(|(id, _)| *id));
                    let due = due.into_iter().map(|(_, reminder)| reminder).collect();
                    self.publish_on_time(due, &publishing).await;
                }
                notices = self.change_mail.due() => {
                    let (mail, horizon) = (self.change_mail.clone(), self.horizon());
                    publishing.spawn(async move { mail.mail_all(notices, horizon).await });
                }
            }
        }
        jobs.shutdown().await?;
        following.await??;
        // Wait for the publishes and any check in progress: their claims must be marked.
        publishing.close();
        let finished = async {
            publishing.wait().await;
            self.checking.lock().await
        };
        let _idle = tokio::time::timeout(Duration::from_secs(30), finished).await;
        Ok(())
    }

    /// The read-ahead at a fixed second of every minute, the lease checks every few seconds,
    /// and the pruning of old claims.
    async fn periodic_jobs(&self) -> anyhow::Result<JobScheduler> {
        let jobs = JobScheduler::new().await?;
        let second = self.config.read_ahead_at_second.min(59);
        let scheduler = self.clone();
        jobs.add(Job::new_async(format!("{second} * * * * *").as_str(), move |_, _| {
            let scheduler = scheduler.clone();
            Box::pin(async move {
                if let Err(err) = scheduler.read_ahead().await {
                    tracing::warn!(error = ?err, "reading ahead failed; the next minute's read tries again");
                }
            })
        })?)
        .await?;
        // tokio-cron-scheduler counts repeat intervals in whole seconds; less than one never
        // repeats.
        let every = Duration::from_secs(self.config.check_every.as_secs().max(1));
        let scheduler = self.clone();
        jobs.add(Job::new_repeated_async(every, move |_, _| {
            let scheduler = scheduler.clone();
            Box::pin(async move {
                match scheduler.check_leases().await {
                    Ok(Some(pass)) if pass.due > 0 => tracing::info!(?pass, "stuck reminders published again"),
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = ?err, "checking leases failed; the next check retries"),
                }
            })
        })?)
        .await?;
        let store = self.store.clone();
        let clock = self.clock.clone();
        jobs.add(Job::new_repeated_async(PRUNE_EVERY, move |_, _| {
            let (store, before) = (store.clone(), clock.now() - CLAIM_RETENTION);
            Box::pin(async move {
                match store.prune_claims(before).await {
                    Ok(pruned) => tracing::debug!(pruned, "old claims pruned"),
                    Err(err) => {
                        tracing::warn!(error = ?err, "pruning claims failed; the next run retries")
                    }
                }
            })
        })?)
        .await?;
        Ok(jobs)
    }

    /// Runs `step` until it succeeds or `shutdown`.
    async fn until_done<T, F, Fut>(&self, what: &str, shutdown: &CancellationToken, step: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        while !shutdown.is_cancelled() {
            match step().await {
                Ok(_) => return,
                Err(err) => {
                    tracing::warn!(error = ?err, what, "a scheduler start-up step failed; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(RETRY) => {}
                    }
                }
            }
        }
    }
}
