//! Change notices: when an event someone saved or has a reminder for moves, changes place or
//! is deleted, they get one mail once its changes have settled (each change pushes the mail
//! back), with the event attached as it then is, or cancelled. Decided here, from what the
//! notifications service already keeps (saves and reminders, each with the event as last
//! heard); mailed by the schedulers (`scheduler::change_mail`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use common::{
    domain::{EmailAddress, UserId},
    messages::EventSummary,
    store::StoreResult,
};

use crate::{
    scheduler::notices::{ChangeNoticeDue, Notices},
    store::{ChangeNoticeDoc, Store},
};

/// Who follows an event.
pub type Followers = BTreeMap<UserId, Follower>;

/// One who follows an event.
#[derive(Debug, Clone)]
pub struct Follower {
    /// The event as they last heard of it.
    pub knew: EventSummary,
    /// A verified address of theirs a reminder of the event goes to: where the notice goes if
    /// the users service never announced their primary one (an account verified before it did).
    pub reminded_at: Option<EmailAddress>,
}

/// Records change notices and tells the schedulers of them.
#[derive(Clone)]
pub struct ChangeNotices {
    pub store: Store,
    pub notices: Notices,
    /// How long an event is left alone before its followers are told.
    pub settle: chrono::Duration,
}

/// Whether a follower who knew `before` is to be told of `after`: the event moved, changed its
/// end, its zone or its place. A new title or description alone is not worth a mail.
pub fn worth_telling(before: &EventSummary, after: &EventSummary) -> bool {
    before.version < after.version
        && (before.starts_at != after.starts_at
            || before.ends_at != after.ends_at
            || before.timezone != after.timezone
            || before.place != after.place)
}

impl ChangeNotices {
    /// Notices for the `followers` of an event changed into `after` at `changed_at`, for those
    /// to whom the change matters; returns how many were recorded.
    pub async fn event_changed(
        &self,
        followers: &Followers,
        after: &EventSummary,
        changed_at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let told = followers
            .iter()
            .filter(|(_, follower)| worth_telling(&follower.knew, after))
            .map(|(user, follower)| {
                ChangeNoticeDoc::new(*user, after, false, changed_at, self.settle)
                    .or_to(follower.reminded_at.clone())
            });
        self.record(told.collect()).await
    }

    /// Notices of an event deleted at `deleted_at` for all its `followers`, each attaching the
    /// event as they last heard of it.
    pub async fn event_deleted(
        &self,
        followers: &Followers,
        deleted_at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let told = followers.iter().map(|(user, follower)| {
            ChangeNoticeDoc::new(*user, &follower.knew, true, deleted_at, self.settle)
                .or_to(follower.reminded_at.clone())
        });
        self.record(told.collect()).await
    }

    async fn record(&self, notices: Vec<ChangeNoticeDoc>) -> StoreResult<usize> {
        let mut recorded = 0;
        for notice in notices {
            if self.store.settle_change(&notice).await? {
                recorded += 1;
                let due = ChangeNoticeDue {
                    id: notice.id.clone(),
                    due_at: notice.due_at.to_chrono(),
                };
                self.notices.tell_due(due).await;
            }
        }
        Ok(recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(version: i64) -> EventSummary {
        serde_json::from_value(serde_json::json!({
            "id": "65f1c0ffee0000000000abcd",
            "title": "Jazz night",
            "starts_at": "2027-03-01T18:00:00Z",
            "ends_at": null,
            "timezone": "Europe/Madrid",
            "place": "Café Central",
            "version": version,
        }))
        .unwrap()
    }

    #[test]
    fn a_move_or_a_new_place_is_told_a_new_title_or_an_old_version_is_not() {
        let before = event(1);
        let moved = EventSummary {
            starts_at: before.starts_at + chrono::Duration::hours(1),
            ..event(2)
        };
        let elsewhere = EventSummary {
            place: "Sala Clamores".into(),
            ..event(2)
        };
        let retitled = EventSummary {
            title: "Jazz night (sold out)".into(),
            ..event(2)
        };
        assert!(worth_telling(&before, &moved));
        assert!(worth_telling(&before, &elsewhere));
        assert!(!worth_telling(&before, &retitled));
        // Heard already: a redelivered or late message tells nothing again.
        assert!(!worth_telling(&moved, &moved));
    }
}
