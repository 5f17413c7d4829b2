//! The email-sender's results, many recorded with one write: each is recorded only over a
//! reminder still queued for that mail request, and answers for itself, whether the results
//! name the scheduling pass that queued their reminders or only their due time. A result
//! journalled by a recorder that stopped before recording it is recorded by another, and one
//! not recorded yet is recorded when its reminder is asked for.

use chrono::{Duration, DurationRound, Utc};
use common::{domain::ReminderId, request_id::RequestId, testing};
use mongodb::bson::{self, doc};
use notifications::{
    domain::{Status, Transition},
    store::{JournalledResult, MailResult, ReminderDoc},
};
use reqwest::{Method, StatusCode};
use serde_json::json;

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

#[tokio::test]
async fn a_result_another_recorder_journalled_and_left_is_recorded() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let ids = due_reminders(&platform, 1).await?;
    let db = &platform.notifications.db;
    let reminders = db.collection::<ReminderDoc>("reminders");
    reminders
        .update_many(
            doc! {},
            doc! { "$set": { "status": "queued", "attempts": 1 } },
        )
        .await?;
    let queued = reminders
        .find_one(doc! { "_id": ids[0] })
        .await?
        .ok_or_else(|| anyhow::anyhow!("stored"))?;
    let sent_at = Utc::now().duration_trunc(Duration::milliseconds(1))?;
    let result = MailResult {
        id: ids[0],
        message_id: queued.message_id(),
        transition: Transition::Sent { at: sent_at },
        pass: None,
    };
    let mut left = JournalledResult::new(&result, "a recorder that stopped")
        .ok_or_else(|| anyhow::anyhow!("a result"))?;
    left.journalled_at = bson::DateTime::from_chrono(Utc::now() - Duration::minutes(1));
    let journal = db.collection::<JournalledResult>("results");
    journal.insert_one(&left).await?;

    // Taken over at the recorder's next look for what others left.
    let recorded = testing::eventually(
        std::time::Duration::from_secs(30),
        "the left result recorded",
        || async {
            let now = reminders.find_one(doc! { "_id": ids[0] }).await?;
            Ok(now.filter(|now| now.status == Status::Sent))
        },
    )
    .await?;
    assert_eq!(recorded.sent_at, Some(bson::DateTime::from_chrono(sent_at)));
    testing::eventually(
        std::time::Duration::from_secs(10),
        "the recorded result forgotten",
        || async { Ok((journal.count_documents(doc! {}).await? == 0).then_some(())) },
    )
    .await?;
    platform.cleanup().await
}

#[tokio::test]
async fn a_reminder_asked_for_right_after_its_mail_was_accepted_is_sent_and_can_be_snoozed()
-> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let event = platform
        .event("Quiz night", Utc::now() + Duration::days(3))
        .await?;
    let id = platform
        .remind(&me, &event, Utc::now() + Duration::days(1))
        .await?;
    let db = &platform.notifications.db;
    let reminders = db.collection::<ReminderDoc>("reminders");
    let filter = doc! { "_id": ReminderId::parse(&id)? };
    reminders
        .update_one(
            filter.clone(),
            doc! { "$set": { "status": "queued", "attempts": 1 } },
        )
        .await?;
    let queued = reminders
        .find_one(filter)
        .await?
        .ok_or_else(|| anyhow::anyhow!("stored"))?;
    let result = MailResult {
        id: queued.id,
        message_id: queued.message_id(),
        transition: Transition::Sent { at: Utc::now() },
        pass: None,
    };
    // Journalled by a recorder that is alive: the platform's leaves it alone for 10 s.
    let entry = JournalledResult::new(&result, "a recorder gathering for a second")
        .ok_or_else(|| anyhow::anyhow!("a result"))?;
    let journal = db.collection::<JournalledResult>("results");
    journal.insert_one(&entry).await?;

    let read = platform.reminder(&me, &id).await?;
    assert_eq!(read["status"], "sent", "{read}");
    assert_eq!(journal.count_documents(doc! {}).await?, 0, "recorded once");
    let snoozed = platform
        .reminders(
            Method::POST,
            &format!("/{id}/snooze"),
            &me,
            Some(&json!({ "minutes": 60 })),
        )
        .await?;
    assert_eq!(snoozed.status(), StatusCode::OK);
    let snoozed: serde_json::Value = snoozed.json().await?;
    assert_eq!(snoozed["status"], "scheduled", "{snoozed}");
    platform.cleanup().await
}
