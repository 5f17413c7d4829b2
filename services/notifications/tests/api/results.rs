//! The email-sender's results, many recorded with one write: each is recorded only over a
//! reminder still queued for that mail request, and answers for itself, whether the results
//! name the scheduling pass that queued their reminders or only their due time.

use chrono::{Duration, DurationRound, Utc};
use common::request_id::RequestId;
use mongodb::bson::{self, doc};
use notifications::{
    domain::{Status, Transition},
    store::{MailResult, ReminderDoc},
};

use crate::{
    helpers::{open_store, spawn_platform},
    scheduling::due_reminders,
};

#[tokio::test]
async fn results_handed_in_together_are_each_recorded_only_over_a_reminder_queued_for_them()
-> anyhow::Result<()> {
    results_recorded_together(None).await
}

#[tokio::test]
async fn results_of_one_scheduling_pass_are_each_recorded_only_over_a_reminder_it_queued()
-> anyhow::Result<()> {
    results_recorded_together(Some(RequestId::generate())).await
}

/// Five reminders queued (by `pass`, if any), one of them cancelled since, and six results
/// handed in at once: three good, one twice, one for the cancelled reminder, one stale.
async fn results_recorded_together(pass: Option<RequestId>) -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let ids = due_reminders(&platform, 5).await?;
    let reminders = platform
        .notifications
        .db
        .collection::<ReminderDoc>("reminders");
    reminders
        .update_many(
            doc! {},
            doc! { "$set": {
                "status": "queued",
                "attempts": 1,
                "queued_in": pass.as_ref().map(RequestId::as_str),
            } },
        )
        .await?;
    let cancelled = ids[3];
    reminders
        .update_one(
            doc! { "_id": cancelled },
            doc! { "$set": { "status": "cancelled" } },
        )
        .await?;
    let mut queued = Vec::new();
    for id in &ids {
        queued.push(
            reminders
                .find_one(doc! { "_id": id })
                .await?
                .ok_or_else(|| anyhow::anyhow!("{id} stored"))?,
        );
    }

    let second = Utc::now().duration_trunc(Duration::seconds(1))?;
    let sent = |index: usize, millis: i64| MailResult {
        id: ids[index],
        message_id: queued[index].message_id(),
        transition: Transition::Sent {
            at: second + Duration::milliseconds(millis),
        },
        pass: pass.clone(),
    };
    // Of an earlier scheduling of the reminder: another time, queued by another pass.
    let stale = MailResult {
        message_id: format!("reminder-{}-{}", ids[4], second.timestamp_millis()),
        pass: pass.as_ref().map(|_| RequestId::generate()),
        ..sent(4, 0)
    };
    let results = vec![
        sent(0, 100),
        sent(1, 900),
        sent(2, 500),
        sent(2, 500), // the same result twice
        sent(3, 200), // its reminder was cancelled
        stale,        // for a time the reminder is not due at
    ];
    let store = open_store(&platform.notifications.db).await?;
    let answers: Vec<bool> = store
        .record_results(results)
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    assert_eq!(answers, [true, true, true, false, false, false]);

    for (index, status) in [
        (0, Status::Sent),
        (1, Status::Sent),
        (2, Status::Sent),
        (3, Status::Cancelled),
        (4, Status::Queued),
    ] {
        let now = reminders
            .find_one(doc! { "_id": ids[index] })
            .await?
            .ok_or_else(|| anyhow::anyhow!("stored"))?;
        assert_eq!(now.status, status, "reminder {index}");
        let expected_sent_at =
            (index < 3).then(|| bson::DateTime::from_chrono(second + Duration::milliseconds(900)));
        assert_eq!(
            now.sent_at, expected_sent_at,
            "sent within one second, recorded at the latest of them"
        );
    }
    platform.cleanup().await
}
