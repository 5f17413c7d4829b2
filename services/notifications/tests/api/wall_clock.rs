//! Reminders at a time on their owner's clock: worked out in the profile's zone, across a change
//! of the clock, and again when the event moves or the owner's zone changes.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use common::testing;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Platform, spawn_platform};

fn at(raw: &str) -> DateTime<Utc> {
    raw.parse().unwrap_or_default()
}

/// Waits until reminder `id` goes out at `expected`; returns it.
async fn send_at_becomes(
    platform: &Platform,
    token: &str,
    id: &str,
    expected: DateTime<Utc>,
) -> anyhow::Result<Value> {
    testing::eventually(
        StdDuration::from_secs(10),
        "the reminder to be worked out again",
        || async {
            let reminder = platform.reminder(token, id).await?;
            let send_at: DateTime<Utc> =
                reminder["send_at"].as_str().unwrap_or_default().parse()?;
            Ok((send_at == expected).then_some(reminder))
        },
    )
    .await
}

#[tokio::test]
async fn the_evening_before_on_my_clock_crosses_a_clock_change_and_follows_the_event_and_my_zone()
-> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    platform.set_timezone(&me, "Europe/Madrid").await?;
    // 29 March 2027, 18:00 in Madrid (summer time since the 28th).
    let event = platform
        .event("After the change", at("2027-03-29T16:00:00Z"))
        .await?;

    let reminder = platform
        .create_reminder(
            &me,
            &json!({ "event_id": event, "wall_clock": { "days_before": 2, "at": "18:00" } }),
        )
        .await?;
    // 27 March, 18:00 winter time.
    assert_eq!(
        at(reminder["send_at"].as_str().unwrap()),
        at("2027-03-27T17:00:00Z")
    );
    assert_eq!(
        reminder["wall_clock"],
        json!({ "days_before": 2, "at": "18:00", "timezone": "Europe/Madrid" })
    );
    assert!(reminder["remind_before_minutes"].is_null());
    let id = reminder["id"].as_str().unwrap();

    // A week later: 3 April, 18:00 summer time.
    platform
        .move_event(&event, "After the change", at("2027-04-05T16:00:00Z"))
        .await?;
    send_at_becomes(&platform, &me, id, at("2027-04-03T16:00:00Z")).await?;

    // The owner moves to New York: 3 April, 18:00 there.
    platform.set_timezone(&me, "America/New_York").await?;
    let moved = send_at_becomes(&platform, &me, id, at("2027-04-03T22:00:00Z")).await?;
    assert_eq!(moved["wall_clock"]["timezone"], "America/New_York");
    assert_eq!(moved["status"], "scheduled");
    platform.cleanup().await
}

#[tokio::test]
async fn a_reminder_changed_to_or_from_my_clock_keeps_one_rule() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    platform.set_timezone(&me, "Asia/Tokyo").await?;
    let starts_at = Utc::now() + Duration::days(10);
    let event = platform.event("Rules", starts_at).await?;
    let created = platform
        .create_reminder(
            &me,
            &json!({ "event_id": event, "remind_before_minutes": 60 }),
        )
        .await?;
    let path = format!("/{}", created["id"].as_str().unwrap());

    let on_the_clock: Value = platform
        .reminders(
            Method::PATCH,
            &path,
            &me,
            Some(&json!({ "wall_clock": { "days_before": 1, "at": "09:00" } })),
        )
        .await?
        .json()
        .await?;
    assert!(
        on_the_clock["remind_before_minutes"].is_null(),
        "{on_the_clock}"
    );
    assert_eq!(on_the_clock["wall_clock"]["timezone"], "Asia/Tokyo");
    let tokyo = chrono_tz::Asia::Tokyo;
    let local = at(on_the_clock["send_at"].as_str().unwrap()).with_timezone(&tokyo);
    assert_eq!(local.format("%H:%M").to_string(), "09:00");
    assert_eq!(
        local.date_naive(),
        starts_at.with_timezone(&tokyo).date_naive() - chrono::Days::new(1)
    );

    let snoozed: Value = platform
        .reminders(
            Method::POST,
            &format!("{path}/snooze"),
            &me,
            Some(&json!({ "minutes": 30 })),
        )
        .await?
        .json()
        .await?;
    assert!(
        snoozed["wall_clock"].is_null(),
        "a snooze fixes the time: {snoozed}"
    );
    assert!(snoozed["remind_before_minutes"].is_null());
    platform.cleanup().await
}

#[tokio::test]
async fn bad_wall_clock_times_are_refused_naming_the_field() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let soon = platform
        .event("Soon", Utc::now() + Duration::hours(2))
        .await?;
    let later = (Utc::now() + Duration::minutes(10)).to_rfc3339();
    let cases = [
        (
            json!({ "event_id": soon, "wall_clock": { "days_before": 400, "at": "24:00" } }),
            vec!["wall_clock.days_before", "wall_clock.at"],
        ),
        (
            json!({ "event_id": soon, "wall_clock": { "days_before": 1, "at": "18:00" } }),
            vec!["wall_clock"],
        ),
        (
            json!({ "event_id": soon, "send_at": later, "wall_clock": { "days_before": 0, "at": "18:00" } }),
            vec!["send_at"],
        ),
    ];
    platform.assert_creation_refused(&me, &cases).await?;
    let unknown_field = platform
        .reminders(
            Method::POST,
            "",
            &me,
            Some(&json!({ "event_id": soon, "wall_clock": { "days_before": 0, "at": "18:00", "zone": "UTC" } })),
        )
        .await?;
    assert_eq!(unknown_field.status(), StatusCode::BAD_REQUEST);
    let listed: Value = platform
        .reminders(Method::GET, "", &me, None)
        .await?
        .json()
        .await?;
    assert_eq!(listed["items"], json!([]), "nothing was stored");
    platform.cleanup().await
}
