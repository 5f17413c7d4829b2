//! Mailing change notices at their time: read ahead by due minute like reminders, held on
//! timers of their own, mailed once their event has settled.
//!
//! No claim is needed: a notice's message id is one per settled state, so when two schedulers
//! both mail it the email-sender sends it once. A notice changed again since it was read (its
//! event changed once more) is held anew at its later time; one mailed or forgotten meanwhile
//! is gone from the store and dropped.

use chrono::{DateTime, Utc};
use common::{
    amqp::Publisher,
    clock::SharedClock,
    messages::{self, EmailContent, EmailRequestedV1},
};
use url::Url;

use super::notices::ChangeNoticeDue;
use crate::{
    agenda::Agenda,
    domain::Minute,
    store::{ChangeNoticeDoc, Store},
};

/// A scheduler's change notices.
#[derive(Clone)]
pub struct ChangeMail {
    store: Store,
    email: Publisher,
    /// Where people reach the platform, for the unsubscribe links.
    public_url: Url,
    clock: SharedClock,
    held: Agenda<String, ChangeNoticeDoc>,
}

/// How long a notice whose mailing failed (the broker away) waits before it is tried again.
const RETRY_AFTER: chrono::Duration = chrono::Duration::seconds(30);

impl ChangeMail {
    pub fn new(store: Store, email: Publisher, public_url: Url, clock: SharedClock) -> Self {
        Self {
            store,
            email,
            public_url,
            held: Agenda::new(clock.clone()),
            clock,
        }
    }

    /// Holds the notices due in `minute` and the minutes either side (see the scheduler's own
    /// read-ahead for why the one behind).
    pub async fn read_ahead(&self, minute: Minute) -> anyhow::Result<()> {
        for minute in [minute.previous(), minute, minute.next()] {
            for notice in self.store.change_notices_due_within(minute).await? {
                self.hold(notice);
            }
        }
        Ok(())
    }

    /// Holds every notice already due, to go at once: for a scheduler starting.
    pub async fn catch_up(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let overdue = self.store.change_notices_overdue(now).await?;
        let count = overdue.len();
        for notice in overdue {
            self.hold(notice);
        }
        Ok(count)
    }

    /// Holds the notice `due` speaks of if it falls before `horizon` (the read-ahead finds
    /// the others).
    pub async fn heard(&self, due: &ChangeNoticeDue, horizon: DateTime<Utc>) -> anyhow::Result<()> {
        if due.due_at < horizon
            && let Some(notice) = self.store.change_notice(&due.id).await?
        {
            self.hold(notice);
        }
        Ok(())
    }

    /// The notices due now, once some are.
    pub async fn due(&self) -> Vec<ChangeNoticeDoc> {
        self.held
            .due()
            .await
            .into_iter()
            .map(|(_, notice)| notice)
            .collect()
    }

    /// Mails `held` if it is still as read, its recipient wants change notices and has a
    /// verified address; then it is done. One changed since is held anew if due before
    /// `horizon`.
    pub async fn mail(&self, held: ChangeNoticeDoc, horizon: DateTime<Utc>) -> anyhow::Result<()> {
        let Some(notice) = self.store.change_notice(&held.id).await? else {
            return Ok(());
        };
        if notice.changed_at != held.changed_at {
            if notice.due_at.to_chrono() < horizon {
                self.hold(notice);
            }
            return Ok(());
        }
        let choices = self.store.mail_choices(notice.user_id).await?;
        let address = self
            .store
            .primary_address(notice.user_id)
            .await?
            .or_else(|| notice.fallback_to.clone());
        match address.filter(|_| choices.change_notices) {
            Some(to) => {
                let unsubscribe_url = self
                    .public_url
                    .join(&format!(
                        "/api/v1/notifications/mail/unsubscribe/{}",
                        choices.token
                    ))?
                    .to_string();
                let request = EmailRequestedV1 {
                    to,
                    content: EmailContent::EventChanged {
                        event: notice.event.clone(),
                        deleted: notice.deleted,
                        unsubscribe_url,
                    },
                    requested_at: Utc::now(),
                };
                self.email
                    .publish(messages::EMAIL_REQUESTED_V1, &notice.message_id(), &request)
                    .await?;
                tracing::info!(user_id = %notice.user_id, event_id = %notice.event.id, deleted = notice.deleted, "change notice queued for mailing");
            }
            None => {
                tracing::info!(user_id = %notice.user_id, event_id = %notice.event.id, wants = choices.change_notices, "change notice not mailed: turned off, or no verified address");
            }
        }
        self.store.change_notice_done(&notice).await?;
        Ok(())
    }

    /// Mails each of `notices`, holding again for later those that could not be.
    pub async fn mail_all(&self, notices: Vec<ChangeNoticeDoc>, horizon: DateTime<Utc>) {
        for notice in notices {
            if let Err(err) = self.mail(notice.clone(), horizon).await {
                tracing::warn!(error = ?err, id = notice.id, "mailing a change notice failed; trying again shortly");
                let again = self.clock.now() + RETRY_AFTER;
                self.held
                    .change(|timers| timers.set(notice.id.clone(), again, notice));
            }
        }
    }

    /// Holds `notice` at its time unless a later state of it is held.
    fn hold(&self, notice: ChangeNoticeDoc) {
        self.held.change(|timers| {
            if let Some((_, held)) = timers.get(&notice.id)
                && held.changed_at > notice.changed_at
            {
                return;
            }
            timers.set(notice.id.clone(), notice.due_at.to_chrono(), notice);
        });
    }
}
