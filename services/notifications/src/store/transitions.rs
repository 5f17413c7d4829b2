//! Recording a reminder's transitions: the only place that knows which stored fields each one
//! writes.

use common::{messages::EventSummary, store::StoreResult};
use mongodb::bson::{self, Document, doc};

use super::{ReminderDoc, Store, reminders::due_fields};
use crate::domain::{Edit, Transition};

impl Store {
    /// Records `transition` of `reminder` (as read) if its state allows it and it is still in
    /// that state; returns whether it did.
    pub async fn record(
        &self,
        reminder: &ReminderDoc,
        transition: &Transition,
    ) -> StoreResult<bool> {
        if !transition.allowed_from(reminder.status) {
            return Ok(false);
        }
        if matches!(transition, Transition::Edit(edit) if edit.is_empty()) {
            return Ok(true);
        }
        self.update_if_unchanged(reminder, changes_of(transition))
            .await
    }

    /// Records what `reminder` (scheduled or queued, as read) now knows of its event at
    /// `version`, and for one that follows the event's start, its new time.
    pub async fn follow_event(
        &self,
        reminder: &ReminderDoc,
        event: &EventSummary,
        version: i64,
        send_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> StoreResult<bool> {
        let mut changes = doc! {
            "event": bson::to_bson(event).map_err(|err| common::store::StoreError::Other(err.into()))?,
            "event_version": version,
        };
        if let Some(send_at) = send_at {
            changes.extend(due_fields(send_at));
        }
        self.update_if_unchanged(reminder, changes).await
    }
}

/// The stored fields `transition` sets, its resulting state among them.
fn changes_of(transition: &Transition) -> Document {
    let at = bson::DateTime::from_chrono;
    let mut changes = match transition {
        Transition::Queue {
            attempt,
            result_due,
        } => doc! { "attempts": attempt, "lease_until": at(*result_due) },
        Transition::Sent { at: sent_at } | Transition::SentAfterCancelling { at: sent_at } => {
            doc! { "sent_at": at(*sent_at), "lease_until": null }
        }
        Transition::Failed { error } => doc! { "last_error": error, "lease_until": null },
        Transition::Snooze { send_at } => {
            let mut changes = due_fields(*send_at);
            changes.insert("remind_before_minutes", bson::Bson::Null);
            changes
        }
        Transition::Edit(edit) => edited(edit),
        Transition::Cancel => Document::new(),
    };
    changes.insert("status", transition.to().as_str());
    changes
}

fn edited(edit: &Edit) -> Document {
    let mut changes = Document::new();
    if let Some((send_at, remind_before_minutes)) = edit.timing {
        changes.extend(due_fields(send_at));
        changes.insert("remind_before_minutes", remind_before_minutes);
    }
    if let Some(subject) = &edit.subject {
        changes.insert("subject", subject.clone().into_inner());
    }
    if let Some(content) = &edit.content {
        changes.insert("content", String::from(content.clone()));
    }
    if let Some(to_email) = &edit.to_email {
        changes.insert("to_email", to_email.as_str());
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transition_writes_its_resulting_state_and_its_own_fields() {
        let cancel = changes_of(&Transition::Cancel);
        assert_eq!(cancel.get_str("status").ok(), Some("cancelled"));
        let late = changes_of(&Transition::SentAfterCancelling {
            at: chrono::Utc::now(),
        });
        assert_eq!(late.get_str("status").ok(), Some("cancelled"), "{late}");
        assert!(late.get("sent_at").is_some());
        let snooze = changes_of(&Transition::Snooze {
            send_at: chrono::Utc::now(),
        });
        assert_eq!(snooze.get_str("status").ok(), Some("scheduled"));
        assert_eq!(snooze.get("remind_before_minutes"), Some(&bson::Bson::Null));
        assert!(
            snooze.get_i64("due_minute").is_ok(),
            "a new time is a new minute to read ahead by"
        );
    }
}
