//! The look-ahead scheduler on a clock the tests move: reminders go when the clock reaches
//! them, whether they were in the window when it was read, created or changed inside it, a
//! year ahead, or due while no scheduler ran.

use chrono::{DateTime, Duration, DurationRound, Utc};
use common::testing;
use notifications::config::SchedulerConfig;
use serde_json::{Value, json};
use std::time::Duration as StdDuration;

use crate::helpers::{ClockedScheduler, Platform, spawn_platform};

/// A moment `from_now` ahead, to the millisecond (what the store keeps).
fn in_(from_now: Duration) -> DateTime<Utc> {
    let at = Utc::now() + from_now;
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

fn mail_id(id: &str, send_at: DateTime<Utc>) -> String {
    format!("reminder-{id}-{}", send_at.timestamp_millis())
}

impl Platform {
    /// A reminder of a new event for `token`'s owner, due at `send_at`; returns its id.
    async fn reminder_at(&self, token: &str, send_at: DateTime<Utc>) -> anyhow::Result<String> {
        let event = self
            .event("Look-ahead", Utc::now() + Duration::days(400))
            .await?;
        self.remind(token, &event, send_at).await
    }
}

#[tokio::test]
async fn a_reminder_created_inside_the_window_goes_at_its_time() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let scheduler =
        ClockedScheduler::start(&platform, Utc::now(), SchedulerConfig::default()).await?;
    // The window reaches past the next minute's end, so this is inside it.
    let send_at = in_(Duration::seconds(30));
    let id = platform.reminder_at(&me, send_at).await?;

    scheduler
        .holds("the new reminder, heard of at once", |held| {
            held == [(id.clone(), send_at)]
        })
        .await?;

    // Claimed and queued a moment before its time, so that only the publish is left for it.
    let ahead = chrono::Duration::from_std(SchedulerConfig::default().prepare_ahead)?;
    scheduler.clock.set(send_at - ahead / 2);
    let status = |reminder: Value| reminder["status"].as_str().map(str::to_owned);
    testing::eventually(StdDuration::from_secs(20), "queued ahead", || async {
        let reminder = platform
            .reminders(reqwest::Method::GET, &format!("/{id}"), &me, None)
            .await?
            .json::<Value>()
            .await?;
        Ok((status(reminder).as_deref() == Some("queued")).then_some(()))
    })
    .await?;
    assert!(
        platform.take_mail_ids().await?.is_empty(),
        "queued, but not mailed before its time"
    );
    scheduler.clock.set(send_at);
    assert_eq!(platform.wait_for_mails(1).await?, [mail_id(&id, send_at)]);
    scheduler.stop().await?;
    platform.cleanup().await
}

#[tokio::test]
async fn a_reminder_snoozed_or_cancelled_inside_the_window_does_not_go_at_its_old_time()
-> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let scheduler =
        ClockedScheduler::start(&platform, Utc::now(), SchedulerConfig::default()).await?;
    let send_at = in_(Duration::seconds(40));
    let snoozed = platform.reminder_at(&me, send_at).await?;
    let cancelled = platform.reminder_at(&me, send_at).await?;
    scheduler
        .holds("both reminders", |held| held.len() == 2)
        .await?;

    let snooze = platform
        .reminders(
            reqwest::Method::POST,
            &format!("/{snoozed}/snooze"),
            &me,
            Some(&json!({ "minutes": 10 })),
        )
        .await?;
    assert_eq!(snooze.status(), reqwest::StatusCode::OK);
    let cancel = platform
        .reminders(reqwest::Method::DELETE, &format!("/{cancelled}"), &me, None)
        .await?;
    assert_eq!(cancel.status(), reqwest::StatusCode::NO_CONTENT);
    // Snoozed out of the window, cancelled: neither is held at the old time.
    scheduler.holds("neither any more", <[_]>::is_empty).await?;

    scheduler.clock.set(send_at + Duration::seconds(1));
    scheduler.scheduler.read_ahead().await?;
    let later = send_at + Duration::minutes(10);
    scheduler.clock.set(later - Duration::seconds(10));
    scheduler.scheduler.read_ahead().await?;
    scheduler.clock.set(later);
    assert_eq!(
        platform.wait_for_mails(1).await?,
        [mail_id(&snoozed, later)],
        "only the snoozed one, at its new time"
    );
    scheduler.stop().await?;
    assert!(platform.take_mail_ids().await?.is_empty());
    platform.cleanup().await
}

#[tokio::test]
async fn a_reminder_a_year_ahead_goes_when_the_clock_reaches_it() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let scheduler =
        ClockedScheduler::start(&platform, Utc::now(), SchedulerConfig::default()).await?;
    let send_at = in_(Duration::days(364));
    let id = platform.reminder_at(&me, send_at).await?;

    // The periodic job's read at second 50 of the minute before the reminder's.
    let its_minute = send_at.duration_trunc(Duration::minutes(1))?;
    scheduler.clock.set(its_minute - Duration::seconds(10));
    scheduler.scheduler.read_ahead().await?;
    scheduler
        .holds("the reminder, read ahead", |held| {
            held == [(id.clone(), send_at)]
        })
        .await?;
    scheduler.clock.set(send_at);
    assert_eq!(platform.wait_for_mails(1).await?, [mail_id(&id, send_at)]);
    scheduler.stop().await?;
    platform.cleanup().await
}

#[tokio::test]
async fn a_scheduler_killed_holding_a_reminder_leaves_it_to_the_next_one() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let crashing =
        ClockedScheduler::start(&platform, Utc::now(), SchedulerConfig::default()).await?;
    let send_at = in_(Duration::seconds(30));
    let id = platform.reminder_at(&me, send_at).await?;
    crashing
        .holds("the reminder", |held| held.len() == 1)
        .await?;
    crashing.kill().await?;

    // Started when it was long due.
    let next = ClockedScheduler::start(
        &platform,
        send_at + Duration::minutes(5),
        SchedulerConfig::default(),
    )
    .await?;
    assert_eq!(platform.wait_for_mails(1).await?, [mail_id(&id, send_at)]);
    next.stop().await?;
    platform.cleanup().await
}
