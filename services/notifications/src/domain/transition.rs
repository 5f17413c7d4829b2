//! How a reminder moves through its life: every change of its state is a [`Transition`], which
//! names the states it may start from and the one it ends in. The store records a transition
//! only over a reminder still in one of those states, so two writers racing each other cannot
//! both move it.

use chrono::{DateTime, Utc};
use common::{domain::EmailAddress, request_id::RequestId};

use super::{Content, Follows, Status, Subject};

/// A change of a reminder, as the store records it.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// scheduled → queued: claimed and published as `attempt` by the scheduling pass `pass`;
    /// its result is awaited until `result_due`. queued → queued: published again, its result
    /// overdue or its publisher dead before the broker confirmed it.
    Queue {
        attempt: i64,
        result_due: DateTime<Utc>,
        pass: RequestId,
    },
    /// queued → sent, or failed → sent (a replayed dead letter was mailed).
    Sent { at: DateTime<Utc> },
    /// queued → failed: refused for good or out of retries.
    Failed { error: String },
    /// scheduled → scheduled, or sent → scheduled (snoozed after it went out): later, no
    /// longer following its event's start.
    Snooze { send_at: DateTime<Utc> },
    /// scheduled → scheduled: what its owner changed.
    Edit(Edit),
    /// scheduled | queued → cancelled: by its owner, or because its event was deleted.
    Cancel,
    /// cancelled → cancelled: its mail went out before the cancellation reached the
    /// email-sender. Recorded, not revived.
    SentAfterCancelling { at: DateTime<Utc> },
}

/// What an owner may change in a scheduled reminder; `None` leaves it as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Edit {
    /// When it goes out, and what that time follows.
    pub timing: Option<(DateTime<Utc>, Follows)>,
    pub subject: Option<Subject>,
    pub content: Option<Content>,
    pub to_email: Option<EmailAddress>,
}

impl Edit {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Transition {
    /// The states it may start from.
    pub fn from(&self) -> &'static [Status] {
        match self {
            Self::Queue { .. } => &[Status::Scheduled, Status::Queued],
            Self::Edit(_) => &[Status::Scheduled],
            Self::Sent { .. } => &[Status::Queued, Status::Failed],
            Self::Failed { .. } => &[Status::Queued],
            Self::Snooze { .. } => &[Status::Scheduled, Status::Sent],
            Self::Cancel => &[Status::Scheduled, Status::Queued],
            Self::SentAfterCancelling { .. } => &[Status::Cancelled],
        }
    }

    /// The state it ends in.
    pub fn to(&self) -> Status {
        match self {
            Self::Queue { .. } => Status::Queued,
            Self::Sent { .. } => Status::Sent,
            Self::Failed { .. } => Status::Failed,
            Self::Snooze { .. } | Self::Edit(_) => Status::Scheduled,
            Self::Cancel | Self::SentAfterCancelling { .. } => Status::Cancelled,
        }
    }

    /// Whether a reminder in `status` may take it.
    pub fn allowed_from(&self, status: Status) -> bool {
        self.from().contains(&status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent() -> Transition {
        Transition::Sent { at: Utc::now() }
    }

    #[test]
    fn each_transition_starts_only_where_the_life_cycle_allows() {
        let queue = Transition::Queue {
            attempt: 1,
            result_due: Utc::now(),
            pass: RequestId::generate(),
        };
        assert!(queue.allowed_from(Status::Scheduled));
        assert!(
            !queue.allowed_from(Status::Cancelled),
            "a cancelled one never goes out"
        );
        assert!(
            sent().allowed_from(Status::Failed),
            "a replayed dead letter"
        );
        assert!(
            !sent().allowed_from(Status::Cancelled),
            "a late result does not revive it"
        );
        assert!(!Transition::Cancel.allowed_from(Status::Sent));
        let snooze = Transition::Snooze {
            send_at: Utc::now(),
        };
        assert!(snooze.allowed_from(Status::Sent));
        assert!(
            !snooze.allowed_from(Status::Queued),
            "its mail may be going out"
        );
        assert!(!Transition::Edit(Edit::default()).allowed_from(Status::Queued));
    }

    #[test]
    fn a_mail_sent_before_its_cancellation_arrived_leaves_it_cancelled() {
        let late = Transition::SentAfterCancelling { at: Utc::now() };
        assert_eq!(late.to(), Status::Cancelled);
        assert!(late.allowed_from(Status::Cancelled));
    }
}
