//! The scheduler: claiming once, under concurrency, after a dead scheduler or a lost result;
//! and how reminders follow what other services say.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use common::{
    clock::ManualClock,
    domain::{EventId, ReminderId, TimeZone, UserId},
    messages,
    request_id::RequestId,
    testing,
    topology::{Queue, Topology},
};
use lapin::options::BasicGetOptions;
use mongodb::bson::{self, doc};
use notifications::{
    config::SchedulerConfig,
    domain::{Minute, Status, Transition},
    store::{ClaimOutcome, ReminderDoc, due_shard},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ClockedScheduler, Options, Platform, open_store, spawn_platform};

/// `count` reminders due a minute ago, written directly (the API refuses past times).
pub async fn due_reminders(platform: &Platform, count: usize) -> anyhow::Result<Vec<ReminderId>> {
    let now = Utc::now();
    let event_id = EventId::new();
    let mut addresses = Vec::with_capacity(count);
    for i in 0..count {
        addresses.push(common::domain::EmailAddress::parse(&format!(
            "burst{i}@example.com"
        ))?);
    }
    let reminders: Vec<ReminderDoc> = addresses
        .into_iter()
        .enumerate()
        .map(|(i, to_email)| {
            let id = ReminderId::new();
            ReminderDoc {
                id,
                user_id: UserId::new(),
                event_id,
                event: messages::EventSummary {
                    id: event_id,
                    title: format!("Burst {i}"),
                    starts_at: now + Duration::hours(1),
                    ends_at: None,
                    timezone: TimeZone::parse("Europe/Madrid").unwrap_or(TimeZone::UTC),
                    place: "Granada".into(),
                    version: 1,
                },
                event_version: 1,
                to_email,
                subject: None,
                content: None,
                send_at: bson::DateTime::from_chrono(now - Duration::minutes(1)),
                due_minute: Minute::to_look_in(now - Duration::minutes(1), now).number(),
                due_shard: Some(due_shard(id)),
                remind_before_minutes: None,
                wall_clock: None,
                status: Status::Scheduled,
                attempts: 0,
                lease_until: None,
                queued_in: None,
                sent_at: None,
                last_error: None,
                created_at: bson::DateTime::now(),
                updated_at: bson::DateTime::now(),
            }
        })
        .collect();
    let ids = reminders.iter().map(|r| r.id).collect();
    platform
        .notifications
        .db
        .collection::<ReminderDoc>("reminders")
        .insert_many(&reminders)
        .await?;
    Ok(ids)
}

#[tokio::test]
async fn an_unreadable_reminder_does_not_hold_up_the_others() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    // Due before the good one, so it comes first in the scheduler's read.
    let unreadable = doc! {
        "_id": bson::oid::ObjectId::new(),
        "status": "scheduled",
        "send_at": bson::DateTime::from_chrono(Utc::now() - Duration::hours(1)),
        "to_email": "not an address",
    };
    platform
        .notifications
        .db
        .collection::<bson::Document>("reminders")
        .insert_one(unreadable)
        .await?;
    let ids = due_reminders(&platform, 1).await?;

    let scheduler = platform
        .scheduler_at(&ManualClock::at(Utc::now()), SchedulerConfig::default())
        .await?;
    assert_eq!(scheduler.catch_up().await?.published, 1);
    let mails = platform.take_mail_ids().await?;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].starts_with(&format!("reminder-{}-", ids[0])),
        "{mails:?}"
    );
    platform.cleanup().await
}

#[tokio::test]
async fn a_due_reminder_is_claimed_and_published_once() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let event = platform
        .event("Claimed", Utc::now() + Duration::days(1))
        .await?;
    let send_at = Utc::now() + Duration::minutes(5);
    let id = &platform.remind(&me, &event, send_at).await?;

    let clock = ManualClock::at(Utc::now());
    let scheduler = platform
        .scheduler_at(&clock, SchedulerConfig::default())
        .await?;
    assert_eq!(scheduler.catch_up().await?.published, 0, "not due yet");
    clock.set(send_at + Duration::seconds(1));
    assert_eq!(scheduler.catch_up().await?.published, 1);
    assert_eq!(scheduler.catch_up().await?.published, 0, "already queued");

    let ids = platform.take_mail_ids().await?;
    assert_eq!(
        ids,
        [format!("reminder-{id}-{}", send_at.timestamp_millis())]
    );
    let queued = platform.reminder(&me, id).await?;
    assert_eq!(
        (queued["status"].as_str(), queued["attempts"].as_i64()),
        (Some("queued"), Some(1))
    );
    let late = platform
        .reminders(
            Method::PATCH,
            &format!("/{id}"),
            &me,
            Some(&json!({ "subject": "x" })),
        )
        .await?;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    platform.cleanup().await
}

#[tokio::test]
async fn cancelling_a_queued_reminder_tells_the_email_sender_not_to_mail_it() -> anyhow::Result<()>
{
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let event = platform
        .event("Changed my mind", Utc::now() + Duration::days(1))
        .await?;
    let send_at = Utc::now() + Duration::minutes(5);
    let id = platform.remind(&me, &event, send_at).await?;
    let clock = ManualClock::at(send_at + Duration::seconds(1));
    let scheduler = platform
        .scheduler_at(&clock, SchedulerConfig::default())
        .await?;
    assert_eq!(scheduler.catch_up().await?.published, 1);
    assert_eq!(platform.reminder(&me, &id).await?["status"], "queued");

    let cancel = platform
        .reminders(Method::DELETE, &format!("/{id}"), &me, None)
        .await?;
    assert_eq!(cancel.status(), StatusCode::NO_CONTENT);
    assert_eq!(platform.reminder(&me, &id).await?["status"], "cancelled");

    let channel = platform.amqp.channel().await?;
    let queue = Topology::new(&platform.prefix).queue(Queue::EmailCancellations);
    let message = channel
        .basic_get(queue.as_str().into(), BasicGetOptions::default())
        .await?
        .expect("the cancellation waits for the email-sender");
    let cancelled: messages::ReminderCancelledV1 = serde_json::from_slice(&message.delivery.data)?;
    assert_eq!(cancelled.reminder_id.to_string(), id);
    assert_eq!(
        cancelled.message_id,
        format!("reminder-{id}-{}", send_at.timestamp_millis()),
        "the mail request that was queued"
    );
    platform.cleanup().await
}

#[tokio::test]
async fn two_schedulers_publish_each_of_a_thousand_due_reminders_exactly_once() -> anyhow::Result<()>
{
    let platform = spawn_platform().await?;
    let ids = due_reminders(&platform, 1000).await?;
    let config = SchedulerConfig {
        batch: 200,
        ..SchedulerConfig::default()
    };
    // Both catch up on them at start and hold them in their windows too.
    let now = Utc::now();
    let (first, second) = tokio::try_join!(
        ClockedScheduler::start(&platform, now, config.clone()),
        ClockedScheduler::start(&platform, now, config),
    )?;
    let reminders = platform
        .notifications
        .db
        .collection::<ReminderDoc>("reminders");
    testing::eventually(StdDuration::from_secs(60), "all queued", || async {
        let queued = reminders
            .count_documents(doc! { "status": "queued" })
            .await?;
        Ok((queued == ids.len() as u64).then_some(()))
    })
    .await?;
    tokio::try_join!(first.stop(), second.stop())?;
    let mut published = platform.take_mail_ids().await?;
    assert_eq!(published.len(), 1000);
    published.sort();
    published.dedup();
    assert_eq!(published.len(), 1000, "no reminder twice");
    let queued = reminders
        .count_documents(doc! { "status": "queued", "attempts": 1 })
        .await?;
    assert_eq!(queued, ids.len() as u64);
    platform.cleanup().await
}

/// The stored reminder `id`.
async fn stored(platform: &Platform, id: ReminderId) -> anyhow::Result<ReminderDoc> {
    platform
        .notifications
        .db
        .collection::<ReminderDoc>("reminders")
        .find_one(doc! { "_id": id })
        .await?
        .ok_or_else(|| anyhow::anyhow!("reminder {id} is not stored"))
}

/// How many claims are stored.
async fn claims(platform: &Platform) -> anyhow::Result<u64> {
    Ok(platform
        .notifications
        .db
        .collection::<bson::Document>("claims")
        .count_documents(doc! {})
        .await?)
}

#[tokio::test]
async fn a_reminder_whose_result_never_came_is_published_again_under_the_same_id()
-> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let ids = due_reminders(&platform, 1).await?;
    let now = Utc::now();
    let clock = ManualClock::at(now);
    let scheduler = platform
        .scheduler_at(
            &clock,
            SchedulerConfig {
                lease: StdDuration::from_secs(30),
                result_timeout: StdDuration::from_secs(600),
                ..SchedulerConfig::default()
            },
        )
        .await?;
    assert_eq!(scheduler.catch_up().await?.published, 1);
    let check_at = |seconds| {
        clock.set(now + Duration::seconds(seconds));
        scheduler.check_leases()
    };
    assert_eq!(
        check_at(31).await?.expect("idle").published,
        0,
        "the broker confirmed it: it waits for its result, not for its claim's lease"
    );
    assert_eq!(
        check_at(601).await?.expect("idle").published,
        1,
        "no result within the timeout"
    );
    let published = platform.take_mail_ids().await?;
    assert_eq!(published.len(), 2);
    assert_eq!(published[0], published[1], "the email-sender sees one mail");
    let reminder = stored(&platform, ids[0]).await?;
    assert_eq!((reminder.status, reminder.attempts), (Status::Queued, 2));
    platform.cleanup().await
}

#[tokio::test]
async fn a_reminder_whose_scheduler_died_before_the_broker_confirmed_it_is_published_by_another()
-> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let ids = due_reminders(&platform, 1).await?;
    let config = SchedulerConfig {
        lease: StdDuration::from_secs(30),
        ..SchedulerConfig::default()
    };
    let now = Utc::now();
    // The dying scheduler claims and marks the reminder queued, then never publishes.
    let store = open_store(&platform.notifications.db).await?;
    let reminder = stored(&platform, ids[0]).await?;
    let ClaimOutcome::Won { attempt } = store.claim(&reminder, now, Duration::seconds(30)).await?
    else {
        anyhow::bail!("the only scheduler lost its claim");
    };
    let queued = Transition::Queue {
        attempt,
        result_due: now + Duration::hours(6),
        pass: RequestId::generate(),
    };
    assert!(store.record(&reminder, &queued).await?);

    let clock = ManualClock::at(now);
    let survivor = platform.scheduler_at(&clock, config).await?;
    let check_at = |seconds| {
        clock.set(now + Duration::seconds(seconds));
        survivor.check_leases()
    };
    assert_eq!(
        check_at(10).await?.expect("idle").published,
        0,
        "lease still runs"
    );
    assert_eq!(
        check_at(31).await?.expect("idle").published,
        1,
        "lease ran out"
    );
    assert_eq!(
        check_at(32).await?.expect("idle").published,
        0,
        "handled once"
    );
    assert_eq!(platform.take_mail_ids().await?.len(), 1);
    let reminder = stored(&platform, ids[0]).await?;
    assert_eq!((reminder.status, reminder.attempts), (Status::Queued, 2));

    assert_eq!(claims(&platform).await?, 1, "the dead claim is gone");
    let lease_end = now + Duration::seconds(31 + 30);
    assert_eq!(
        store.prune_claims(lease_end).await?,
        0,
        "kept while its lease runs"
    );
    assert_eq!(
        store.prune_claims(lease_end + Duration::seconds(1)).await?,
        1
    );
    assert_eq!(claims(&platform).await?, 0);
    platform.cleanup().await
}

#[tokio::test]
async fn reminders_follow_their_event_and_go_when_it_or_their_owner_goes() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let starts_at = Utc::now() + Duration::days(1);
    let event = platform.event("Moving concert", starts_at).await?;
    let absolute_at = Utc::now() + Duration::hours(2);
    let relative = platform
        .create_reminder(
            &me,
            &json!({ "event_id": event, "remind_before_minutes": 60 }),
        )
        .await?;
    let absolute = platform
        .create_reminder(
            &me,
            &json!({ "event_id": event, "send_at": absolute_at.to_rfc3339() }),
        )
        .await?;
    let (relative, absolute) = (
        relative["id"].as_str().unwrap(),
        absolute["id"].as_str().unwrap(),
    );

    let moved_to = starts_at + Duration::hours(3);
    platform
        .move_event(&event, "Moved concert", moved_to)
        .await?;
    let expected = (moved_to - Duration::minutes(60)).timestamp();
    let followed = testing::eventually(
        StdDuration::from_secs(10),
        "the relative reminder to move",
        || async {
            let reminder = platform.reminder(&me, relative).await?;
            let at = chrono::DateTime::parse_from_rfc3339(
                reminder["send_at"].as_str().unwrap_or_default(),
            )?;
            Ok((at.timestamp() == expected).then_some(reminder))
        },
    )
    .await?;
    assert_eq!(
        followed["subject"], "Reminder: Moved concert",
        "the text follows the event too"
    );
    let stayed = platform.reminder(&me, absolute).await?;
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(stayed["send_at"].as_str().unwrap())?.timestamp(),
        absolute_at.timestamp()
    );

    platform.delete_event(&event).await?;
    platform.wait_for_status(&me, relative, "cancelled").await?;
    platform.wait_for_status(&me, absolute, "cancelled").await?;

    let other_event = platform
        .event("Kept", Utc::now() + Duration::days(2))
        .await?;
    platform
        .create_reminder(
            &me,
            &json!({ "event_id": other_event, "remind_before_minutes": 5 }),
        )
        .await?;
    let deleted = platform
        .send(
            Method::DELETE,
            &format!("{}/api/v1/users/me", platform.users.address),
            Some(&me),
            Some(&json!({ "password": crate::helpers::PASSWORD })),
        )
        .await?;
    assert!(deleted.status().is_success(), "{:?}", deleted.text().await);
    let reminders = platform.notifications.db.collection::<Value>("reminders");
    testing::eventually(
        StdDuration::from_secs(10),
        "the deleted user's reminders gone",
        || async { Ok((reminders.count_documents(doc! {}).await? == 0).then_some(())) },
    )
    .await?;
    platform.cleanup().await
}

#[tokio::test]
async fn a_scheduler_started_after_reminders_fell_due_sends_them_oldest_first() -> anyhow::Result<()>
{
    // One at a time, so that the order taken is the order published.
    let platform = Platform::start(Options {
        scheduler: SchedulerConfig {
            concurrency: 1,
            ..SchedulerConfig::default()
        },
        ..Options::default()
    })
    .await?;
    // Fell due while no scheduler ran: an hour, a minute and a second ago, written newest
    // first.
    let now = Utc::now();
    let mut ids = due_reminders(&platform, 3).await?;
    let reminders = platform
        .notifications
        .db
        .collection::<ReminderDoc>("reminders");
    for (id, ago) in ids.iter().zip([
        Duration::seconds(1),
        Duration::minutes(1),
        Duration::hours(1),
    ]) {
        let send_at = bson::DateTime::from_chrono(now - ago);
        reminders
            .update_one(doc! { "_id": id }, doc! { "$set": { "send_at": send_at } })
            .await?;
    }
    ids.reverse();

    let scheduler = platform.start_scheduler_process().await?;
    testing::eventually(
        StdDuration::from_secs(10),
        "due reminders queued",
        || async {
            let queued = reminders
                .count_documents(doc! { "status": "queued" })
                .await?;
            Ok((queued == ids.len() as u64).then_some(()))
        },
    )
    .await?;
    let mails = platform.take_mail_ids().await?;
    let order: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let mailed: Vec<String> = mails
        .iter()
        .filter_map(|mail| mail.split('-').nth(1).map(str::to_owned))
        .collect();
    assert_eq!(mailed, order, "oldest first");
    // Counted once the broker confirmed each publish, a moment after it was marked queued.
    let metrics_url = format!("{}/metrics", scheduler.address);
    testing::eventually(
        StdDuration::from_secs(10),
        "three publishes counted",
        || async {
            let metrics = reqwest::get(&metrics_url).await?.text().await?;
            let counted = metrics
                .contains("eventpost_reminders_published_total{service=\"notifications\"} 3")
                && metrics.contains(
                    "eventpost_reminder_lateness_seconds_count{service=\"notifications\"} 3",
                );
            Ok(counted.then_some(()))
        },
    )
    .await?;
    scheduler.stop().await?;
    platform.cleanup().await
}
