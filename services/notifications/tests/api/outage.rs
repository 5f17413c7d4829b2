use std::time::Duration;

use chrono::Utc;
use common::testing;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Options, Platform};

/// Longest a request may take while the database hangs: its one-second deadline and margin.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn requests_while_the_database_is_paused_are_503s_and_served_again_after()
-> anyhow::Result<()> {
    let platform = Platform::start(Options {
        pausable_db: true,
        ..Options::default()
    })
    .await?;
    let token = platform.user().await?;
    let event_id = platform
        .event("Paused", Utc::now() + chrono::Duration::days(2))
        .await?;
    let body = json!({ "event_id": event_id, "remind_before_minutes": 60 });
    let reminder = platform.create_reminder(&token, &body).await?;
    let path = format!("/{}", reminder["id"].as_str().unwrap_or_default());
    let database = platform.database.as_ref().expect("asked for a proxy");

    database.pause();
    let read = platform.reminders(Method::GET, &path, &token, None);
    testing::assert_database_unavailable(tokio::time::timeout(ANSWER_WITHIN, read).await??).await?;
    let write = platform.reminders(Method::POST, "", &token, Some(&body));
    testing::assert_database_unavailable(tokio::time::timeout(ANSWER_WITHIN, write).await??)
        .await?;

    database.resume();
    testing::eventually(ANSWER_WITHIN, "the reminder served again", || async {
        let read = platform.reminders(Method::GET, &path, &token, None).await?;
        Ok((read.status() == 200).then_some(()))
    })
    .await?;
    platform.cleanup().await
}

#[tokio::test]
async fn a_creation_refused_while_the_database_hangs_can_be_retried_with_its_key_at_once()
-> anyhow::Result<()> {
    let platform = Platform::start(Options {
        pausable_db: true,
        ..Options::default()
    })
    .await?;
    let token = platform.user().await?;
    let event_id = platform
        .event("Paused", Utc::now() + chrono::Duration::days(2))
        .await?;
    let body = json!({ "event_id": event_id, "remind_before_minutes": 60 });
    let create = || {
        platform
            .client
            .post(format!(
                "{}/api/v1/notifications",
                platform.notifications.address
            ))
            .bearer_auth(&token)
            .header("Idempotency-Key", "hung-1")
            .json(&body)
            .send()
    };
    let database = platform.database.as_ref().expect("asked for a proxy");

    // The key's reservation reaches the database only after the request gave up on it.
    database.pause();
    testing::assert_database_unavailable(tokio::time::timeout(ANSWER_WITHIN, create()).await??)
        .await?;
    database.resume();

    // Not held for a minute by an attempt that ended: the retry creates the reminder, once.
    let created = testing::eventually(ANSWER_WITHIN, "the retry to create", || async {
        let answer = create().await?;
        Ok((answer.status() == 201).then_some(answer))
    })
    .await?;
    let created: serde_json::Value = created.json().await?;
    assert_eq!(
        platform
            .reminder_ids(&token, &format!("?event_id={event_id}"))
            .await?,
        [created["id"].as_str().unwrap_or_default()]
    );
    platform.cleanup().await
}
