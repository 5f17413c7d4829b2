//! What the notifications service hears: results from the email-sender and facts from other
//! services, all on one queue bound to the domain exchange. Every handler is idempotent: a
//! message may arrive twice or late.

use common::{
    amqp::{self, Broker, Outcome},
    domain::ReminderId,
    messages::{
        self, EventDeletedV1, EventSaveChangedV1, EventUpdatedV1, ReminderFailedV1, ReminderSentV1,
        UserDeletedV1, UserEmailRemovedV1, UserPrimaryEmailChangedV1, UserTimezoneChangedV1,
    },
    request_id::RequestId,
    revocation::Tombstones,
    topology::{Queue, Topology},
};
use lapin::message::Delivery;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::{
    cancellation::Canceller,
    change_notices::{ChangeNotices, Follower, Followers},
    domain::{Follows, Status, Transition},
    results::Results,
    scheduler::notices::{Notices, ReminderChanged},
    store::{MailResult, ReminderDoc, SaveDoc, SavesOf, Store},
};

const BINDINGS: [&str; 9] = [
    messages::REMINDER_SENT_V1,
    messages::REMINDER_FAILED_V1,
    messages::EVENT_UPDATED_V1,
    messages::EVENT_DELETED_V1,
    messages::USER_DELETED_V1,
    messages::USER_EMAIL_REMOVED_V1,
    messages::USER_TIMEZONE_CHANGED_V1,
    messages::EVENT_SAVE_CHANGED_V1,
    messages::USER_PRIMARY_EMAIL_CHANGED_V1,
];

/// Declares the email topology (the scheduler publishes there) with the email-sender's queue
/// of cancellations (so that none is lost before it first starts), the domain exchange and this
/// service's queue on it; again on every connection made after losing the broker.
pub async fn declare(broker: &Broker, topology: &Topology) -> lapin::Result<()> {
    let topology = topology.clone();
    broker
        .declare(move |channel| {
            let topology = topology.clone();
            async move {
                topology.declare_email(&channel).await?;
                topology.declare_email_cancellations(&channel).await?;
                topology
                    .declare_domain_queue(&channel, Queue::NotificationsDomain, &BINDINGS)
                    .await
            }
        })
        .await
}

/// Handles domain messages until `shutdown`.
pub async fn consume(
    broker: Broker,
    topology: Topology,
    prefetch: u16,
    handler: Handler,
    shutdown: CancellationToken,
) -> lapin::Result<()> {
    let queue = topology.queue(Queue::NotificationsDomain);
    amqp::consume(&broker, &queue, prefetch, shutdown, move |delivery| {
        let handler = handler.clone();
        async move { handler.handle(&delivery).await }
    })
    .await
}

/// Applies domain messages to reminders.
#[derive(Clone)]
pub struct Handler {
    store: Store,
    tombstones: Tombstones,
    canceller: Canceller,
    notices: Notices,
    change_notices: ChangeNotices,
    /// Where the email-sender's results go.
    results: Results,
}

impl Handler {
    pub fn new(
        store: Store,
        tombstones: Tombstones,
        canceller: Canceller,
        notices: Notices,
        results: Results,
        change_notice_settle: std::time::Duration,
    ) -> Self {
        let change_notices = ChangeNotices {
            store: store.clone(),
            notices: notices.clone(),
            settle: chrono::Duration::from_std(change_notice_settle)
                .unwrap_or(chrono::Duration::MAX),
        };
        Self {
            store,
            tombstones,
            canceller,
            notices,
            change_notices,
            results,
        }
    }

    /// Hands the email-sender's result for mail request `message_id` of reminder `id` to the
    /// recorder, which records it if the reminder is still queued for that request.
    async fn hand_in(
        &self,
        id: ReminderId,
        message_id: String,
        transition: Transition,
    ) -> anyhow::Result<()> {
        self.results
            .hand_in(MailResult {
                id,
                message_id,
                transition,
                pass: RequestId::current(),
            })
            .await
    }

    async fn handle(&self, delivery: &Delivery) -> Outcome {
        macro_rules! with_body {
            ($handler:ident) => {
                match parse(delivery) {
                    Some(message) => self.$handler(message).await,
                    None => return Outcome::Reject,
                }
            };
        }
        let result = match delivery.routing_key.as_str() {
            messages::REMINDER_SENT_V1 => with_body!(sent),
            messages::REMINDER_FAILED_V1 => with_body!(failed),
            messages::EVENT_UPDATED_V1 => with_body!(event_updated),
            messages::EVENT_DELETED_V1 => with_body!(event_deleted),
            messages::USER_DELETED_V1 => with_body!(user_deleted),
            messages::USER_EMAIL_REMOVED_V1 => with_body!(email_removed),
            messages::USER_TIMEZONE_CHANGED_V1 => with_body!(timezone_changed),
            messages::EVENT_SAVE_CHANGED_V1 => with_body!(save_changed),
            messages::USER_PRIMARY_EMAIL_CHANGED_V1 => with_body!(primary_changed),
            other => {
                tracing::warn!(routing_key = other, "dropping a message nobody handles");
                return Outcome::Reject;
            }
        };
        match result {
            Ok(()) => Outcome::Ack,
            Err(err) => {
                tracing::warn!(error = ?err, "handling a message failed; it will be redelivered");
                Outcome::Requeue
            }
        }
    }

    async fn sent(&self, sent: ReminderSentV1) -> anyhow::Result<()> {
        let at = sent.sent_at;
        self.hand_in(sent.reminder_id, sent.message_id, Transition::Sent { at })
            .await
    }

    async fn failed(&self, failed: ReminderFailedV1) -> anyhow::Result<()> {
        let transition = Transition::Failed {
            error: failed.error,
        };
        self.hand_in(failed.reminder_id, failed.message_id, transition)
            .await
    }

    async fn event_updated(&self, updated: EventUpdatedV1) -> anyhow::Result<()> {
        let event_id = updated.event.id;
        let version = i64::from(updated.version);
        let saves = self.store.saves_of_event(event_id).await?;
        let pending = self.store.pending_for_event(event_id, version).await?;
        // Decided on the copies as they were before this change is written over them: a
        // redelivery after a crash decides the same, and the notices' writes are idempotent.
        let followers = followers(&saves, &pending);
        let told = self
            .change_notices
            .event_changed(&followers, &updated.event, updated.updated_at)
            .await?;
        if told > 0 {
            tracing::info!(%event_id, told, "followers to be told of a change");
        }
        self.store
            .follow_event_in_saves(&updated.event, version)
            .await?;
        for reminder in pending {
            let send_at = Some(reminder.follows())
                .filter(|_| reminder.status == Status::Scheduled)
                .and_then(|follows| follows.send_at(updated.event.starts_at));
            let moved = self
                .store
                .follow_event(&reminder, &updated.event, version, send_at)
                .await?;
            if moved && let Some(send_at) = send_at {
                let change = ReminderChanged {
                    reminder_id: reminder.id,
                    send_at: Some(send_at),
                };
                self.notices.tell(change).await;
            }
        }
        Ok(())
    }

    async fn save_changed(&self, changed: EventSaveChangedV1) -> anyhow::Result<()> {
        let recorded = self.store.record_save(&changed).await?;
        tracing::info!(user_id = %changed.user_id, event_id = %changed.event_id, saved = changed.saved, recorded, "a save changed");
        Ok(())
    }

    async fn event_deleted(&self, deleted: EventDeletedV1) -> anyhow::Result<()> {
        let event_id = deleted.event_id;
        let saves = self.store.saves_of_event(event_id).await?;
        let following = self.store.following_event(event_id).await?;
        let told = self
            .change_notices
            .event_deleted(&followers(&saves, &following), deleted.deleted_at)
            .await?;
        tracing::info!(%event_id, told, "followers to be told of a deletion");
        self.store.forget_saves(SavesOf::Event(event_id)).await?;
        let cancelled = self.canceller.cancel_for_event(event_id).await?;
        tracing::info!(%event_id, cancelled, "event deleted; its reminders cancelled");
        Ok(())
    }

    async fn primary_changed(&self, changed: UserPrimaryEmailChangedV1) -> anyhow::Result<()> {
        let recorded = self.store.record_primary(&changed).await?;
        tracing::info!(user_id = %changed.user_id, recorded, "the primary address changed");
        Ok(())
    }

    async fn email_removed(&self, removed: UserEmailRemovedV1) -> anyhow::Result<()> {
        let moved = self
            .store
            .readdress(removed.user_id, &removed.removed, &removed.primary)
            .await?;
        tracing::info!(user_id = %removed.user_id, moved, "an address was removed; its reminders go to the primary address");
        Ok(())
    }

    async fn timezone_changed(&self, changed: UserTimezoneChangedV1) -> anyhow::Result<()> {
        self.store.record_zone(&changed).await?;
        let mut moved = 0;
        for reminder in self
            .store
            .scheduled_on_the_clock_of(changed.user_id)
            .await?
        {
            let (Follows::WallClock(wall_clock), Some(known)) =
                (reminder.follows(), &reminder.wall_clock)
            else {
                continue;
            };
            if known.zone_as_of.to_chrono() >= changed.changed_at {
                continue;
            }
            let wall_clock = wall_clock.in_zone(changed.timezone);
            let send_at = wall_clock.send_at(reminder.event.starts_at);
            if self
                .store
                .follow_zone(&reminder, wall_clock, changed.changed_at, send_at)
                .await?
            {
                moved += 1;
                let change = ReminderChanged {
                    reminder_id: reminder.id,
                    send_at: Some(send_at),
                };
                self.notices.tell(change).await;
            }
        }
        tracing::info!(user_id = %changed.user_id, zone = changed.timezone.name(), moved, "the owner's zone changed; wall-clock reminders moved");
        Ok(())
    }

    async fn user_deleted(&self, deleted: UserDeletedV1) -> anyhow::Result<()> {
        // Recorded first, so that an instance started later refuses the account's tokens too.
        self.tombstones
            .record(deleted.user_id, deleted.deleted_at)
            .await?;
        let removed = self.store.forget_user(deleted.user_id).await?;
        self.store.delete_feed(deleted.user_id).await?;
        self.store
            .forget_saves(SavesOf::User(deleted.user_id))
            .await?;
        self.store.forget_change_notices(deleted.user_id).await?;
        self.store.forget_recipient(deleted.user_id).await?;
        tracing::info!(user_id = %deleted.user_id, removed, "user deleted; their reminders removed");
        Ok(())
    }
}

/// Who follows an event, through `saves` and `reminders` of it, each with the event as they last
/// heard of it (a save's copy before a reminder's: both are kept current).
fn followers(saves: &[SaveDoc], reminders: &[ReminderDoc]) -> Followers {
    let mut followers = Followers::new();
    for save in saves {
        if let Some(event) = &save.event {
            followers.entry(save.user_id).or_insert_with(|| Follower {
                knew: event.clone(),
                reminded_at: None,
            });
        }
    }
    for reminder in reminders {
        let follower = followers
            .entry(reminder.user_id)
            .or_insert_with(|| Follower {
                knew: reminder.event.clone(),
                reminded_at: None,
            });
        follower
            .reminded_at
            .get_or_insert_with(|| reminder.to_email.clone());
    }
    followers
}

/// The body, or `None` for a message no version of us can read (it is dropped, logged).
fn parse<T: DeserializeOwned>(delivery: &Delivery) -> Option<T> {
    serde_json::from_slice(&delivery.data)
        .inspect_err(|err| {
            tracing::error!(error = %err, routing_key = %delivery.routing_key, "dropping an unreadable message");
        })
        .ok()
}
