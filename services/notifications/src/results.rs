//! The recorder of the email-sender's results: each is journalled at once (the message is then
//! acknowledged) and recorded over its reminder a moment later, together with whatever else
//! was journalled meanwhile (see [`crate::store::JournalledResult`] for why).
//!
//! Each recorder records what it journalled, and takes over what another journalled and left
//! for longer than [`TAKEN_OVER_AFTER`]: that recorder stopped (or died) before recording it.
//! Recording twice is harmless, as a result is recorded only over a reminder still queued for
//! it, but counting it twice is not, so recorders keep to their own while both are alive.

use std::{sync::Arc, time::Duration};

use common::{domain::ReminderId, group_commit::GroupCommit, store::StoreResult};
use mongodb::bson::oid::ObjectId;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    domain::{Status, Transition},
    metrics::SchedulerMetrics,
    store::{JournalledResult, MailResult, ReminderDoc, Store},
};

/// How long the recorder gathers results after the first one arrives: at 200 reminders a
/// minute, three or four per write rather than one.
const GATHERED_FOR: Duration = Duration::from_secs(1);

/// How often the recorder looks for results that another recorder left.
const LOOKED_FOR_EVERY: Duration = Duration::from_secs(10);

/// How old another recorder's result is before this one records it.
const TAKEN_OVER_AFTER: chrono::Duration = chrono::Duration::seconds(10);

/// How many results one insert journals at most.
const JOURNALLED_TOGETHER: usize = 256;

/// Journals results and records them; clones share one recorder.
#[derive(Clone)]
pub struct Results {
    store: Store,
    metrics: SchedulerMetrics,
    /// Names this recorder in the entries it journals.
    name: Arc<str>,
    journal: GroupCommit<JournalledResult, StoreResult<()>>,
    journalled: Arc<Notify>,
}

impl Results {
    pub fn new(store: Store, metrics: SchedulerMetrics) -> Self {
        let writer = store.clone();
        let journal = GroupCommit::spawn(JOURNALLED_TOGETHER, move |entries| {
            let store = writer.clone();
            async move { store.journal_results(entries).await }
        });
        Self {
            store,
            metrics,
            name: ObjectId::new().to_hex().into(),
            journal,
            journalled: Arc::new(Notify::new()),
        }
    }

    /// Journals `result`, for [`Results::run`] to record shortly.
    pub async fn hand_in(&self, result: MailResult) -> anyhow::Result<()> {
        let Some(entry) = JournalledResult::new(&result, &self.name) else {
            return Ok(());
        };
        self.journal.write(entry).await??;
        self.journalled.notify_one();
        Ok(())
    }

    /// Records what is journalled until `shutdown`, then once more.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let stopping = tokio::select! {
                () = shutdown.cancelled() => true,
                () = self.journalled.notified() => {
                    tokio::select! {
                        () = shutdown.cancelled() => true,
                        () = tokio::time::sleep(GATHERED_FOR) => false,
                    }
                }
                () = tokio::time::sleep(LOOKED_FOR_EVERY) => false,
            };
            if let Err(err) = self.record_journalled().await {
                tracing::warn!(error = ?err, "recording results failed; they stay journalled and are tried again");
            }
            if stopping {
                return;
            }
        }
    }

    /// `reminder` with the results journalled for it recorded now: one read as `queued` may
    /// have been mailed already, and whoever asks for it (the owner snoozing it from the mail
    /// that just arrived) should find it `sent`, not wait for the recorder.
    pub async fn settle(&self, reminder: ReminderDoc) -> StoreResult<ReminderDoc> {
        if reminder.status != Status::Queued {
            return Ok(reminder);
        }
        let entries = self.store.journalled_results_of(reminder.id).await?;
        if entries.is_empty() {
            return Ok(reminder);
        }
        self.record(entries).await?;
        Ok(self.store.reminder(reminder.id).await?.unwrap_or(reminder))
    }

    /// Records this recorder's journalled results and those another left, and forgets them
    /// unless recording failed.
    async fn record_journalled(&self) -> StoreResult<()> {
        let now = chrono::Utc::now();
        let entries: Vec<JournalledResult> = self
            .store
            .journalled_results()
            .await?
            .into_iter()
            .filter(|entry| ours_to_record(entry, &self.name, now))
            .collect();
        self.record(entries).await
    }

    /// Records `entries` over their reminders, and forgets those recorded (or found to need
    /// no record). A result recorded by [`Results::settle`] and the recorder at once is
    /// recorded and counted once: only one of them finds its reminder still queued for it.
    async fn record(&self, entries: Vec<JournalledResult>) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let results: Vec<MailResult> = entries.iter().map(JournalledResult::result).collect();
        let answers = self.store.record_results(results.clone()).await;
        let mut done = Vec::with_capacity(entries.len());
        for ((entry, result), answer) in entries.iter().zip(results).zip(answers) {
            let settled = match answer {
                Ok(true) => {
                    self.counted(&result);
                    Ok(())
                }
                Ok(false) => self.not_queued_for(result).await,
                Err(err) => Err(err),
            };
            match settled {
                Ok(()) => done.push(entry.id),
                Err(err) => {
                    tracing::warn!(reminder_id = %entry.reminder_id, error = ?err, "recording a result failed; it stays journalled");
                }
            }
        }
        self.store.forget_results(done).await
    }

    /// Settles `result` for a reminder that was not queued for it: cancelled meanwhile, a
    /// replayed dead letter, a copy recorded already, or stale.
    async fn not_queued_for(&self, result: MailResult) -> StoreResult<()> {
        let Transition::Sent { at } = result.transition else {
            return Ok(());
        };
        let Some(reminder) = self.current(result.id, &result.message_id).await? else {
            return Ok(());
        };
        if reminder.status == Status::Cancelled {
            let late = Transition::SentAfterCancelling { at };
            self.store.record(&reminder, &late).await?;
        } else if self.store.record(&reminder, &result.transition).await? {
            self.counted(&result);
        }
        Ok(())
    }

    /// The reminder a result is about, if the result is about its current scheduling (a result
    /// for a time it was since snoozed from is stale).
    async fn current(&self, id: ReminderId, message_id: &str) -> StoreResult<Option<ReminderDoc>> {
        Ok(self
            .store
            .reminder(id)
            .await?
            .filter(|reminder| reminder.message_id() == message_id))
    }

    /// Counts a result recorded for the first time; a sent one with how late its mail was.
    fn counted(&self, result: &MailResult) {
        match &result.transition {
            Transition::Sent { at } => {
                self.metrics.sent.inc();
                if let Some(due) = ReminderDoc::scheduled_at(&result.message_id) {
                    let late_ms = (*at - due.to_chrono()).num_milliseconds().max(0);
                    self.metrics.smtp_lateness.observe(late_ms as f64 / 1000.0);
                }
                tracing::info!(reminder_id = %result.id, "reminder sent");
            }
            Transition::Failed { error } => {
                self.metrics.failed.inc();
                tracing::warn!(reminder_id = %result.id, error = %error, "reminder failed");
            }
            _ => {}
        }
    }
}

/// Whether recorder `name` records `entry` at `now`: its own, or one another left.
fn ours_to_record(
    entry: &JournalledResult,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    entry.recorder == name || entry.journalled_at.to_chrono() < now - TAKEN_OVER_AFTER
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use mongodb::bson;

    use super::*;

    #[test]
    fn a_recorder_keeps_to_its_own_results_until_another_leaves_one_for_long() {
        let result = MailResult {
            id: ReminderId::new(),
            message_id: "reminder-1".to_owned(),
            transition: Transition::Failed {
                error: "refused".to_owned(),
            },
            pass: None,
        };
        let now = Utc::now();
        let journalled = |by: &str, ago: chrono::Duration| {
            let mut entry = JournalledResult::new(&result, by).expect("a result");
            entry.journalled_at = bson::DateTime::from_chrono(now - ago);
            entry
        };
        let moment = chrono::Duration::seconds(1);
        assert!(ours_to_record(&journalled("me", moment), "me", now));
        assert!(!ours_to_record(&journalled("other", moment), "me", now));
        assert!(ours_to_record(
            &journalled("other", TAKEN_OVER_AFTER + moment),
            "me",
            now
        ));
    }
}
