//! `Idempotency-Key` on creating a reminder: a retry answers as the first request did and
//! schedules nothing more, whether the first got its answer through or ended in a 5xx.

use chrono::{Duration, Utc};
use common::idempotency;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Platform, spawn_platform};

async fn create(
    platform: &Platform,
    token: &str,
    key: &str,
    body: &Value,
) -> anyhow::Result<Response> {
    let url = format!("{}/api/v1/notifications", platform.notifications.address);
    Ok(reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await?)
}

#[tokio::test]
async fn the_same_key_and_body_answer_the_first_reminder_and_another_body_is_refused()
-> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let (me, someone) = (platform.user().await?, platform.user().await?);
    let event = platform
        .event("Retried", Utc::now() + Duration::days(2))
        .await?;
    let body = json!({ "event_id": event, "remind_before_minutes": 60 });

    let first = create(&platform, &me, "retry-1", &body).await?;
    assert_eq!(first.status(), StatusCode::CREATED);
    let location = first.headers()["location"].clone();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await?;

    let again = create(&platform, &me, "retry-1", &body).await?;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await?, first);

    let other_body = json!({ "event_id": event, "remind_before_minutes": 30 });
    let refused = create(&platform, &me, "retry-1", &other_body).await?;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = refused.json().await?;
    assert_eq!(
        problem["errors"][0]["field"], "Idempotency-Key",
        "{problem}"
    );
    assert_eq!(
        platform
            .reminder_ids(&me, &format!("?event_id={event}"))
            .await?,
        [first["id"].as_str().unwrap()]
    );

    // Keys are the caller's: another user's same key is a request of their own.
    let theirs: Value = create(&platform, &someone, "retry-1", &body)
        .await?
        .json()
        .await?;
    assert_ne!(theirs["id"], first["id"]);
    assert_eq!(
        platform
            .reminder_ids(&someone, &format!("?event_id={event}"))
            .await?
            .len(),
        1
    );

    let too_long = create(&platform, &me, &"k".repeat(256), &body).await?;
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
    let problem: Value = too_long.json().await?;
    assert_eq!(
        problem["errors"][0]["field"], "Idempotency-Key",
        "{problem}"
    );
    assert_eq!(
        platform
            .reminder_ids(&me, &format!("?event_id={event}"))
            .await?
            .len(),
        1
    );
    platform.cleanup().await
}

#[tokio::test]
async fn a_retry_after_an_unknown_outcome_answers_what_the_first_attempt_created()
-> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let event = platform
        .event("Timed out", Utc::now() + Duration::days(2))
        .await?;
    let body = json!({ "event_id": event, "remind_before_minutes": 60 });
    let first: Value = create(&platform, &me, "unknown-1", &body)
        .await?
        .json()
        .await?;

    // What a first attempt that stored the reminder but answered 503 leaves: the key with its
    // reserved id, no answer, released.
    let db = &platform.notifications.db;
    idempotency::forget_answers(db, Utc::now() - Duration::seconds(1)).await?;
    let retried = create(&platform, &me, "unknown-1", &body).await?;
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert!(retried.headers().get("idempotent-replayed").is_none());
    let retried: Value = retried.json().await?;
    assert_eq!(retried["id"], first["id"]);
    assert_eq!(
        platform
            .reminder_ids(&me, &format!("?event_id={event}"))
            .await?,
        [first["id"].as_str().unwrap()]
    );

    // While an attempt holds the key, a retry is told to wait.
    idempotency::forget_answers(db, Utc::now() + Duration::seconds(60)).await?;
    let busy = create(&platform, &me, "unknown-1", &body).await?;
    assert_eq!(busy.status(), StatusCode::CONFLICT);
    assert_eq!(busy.headers()["retry-after"], "1");
    assert_eq!(
        platform
            .reminder_ids(&me, &format!("?event_id={event}"))
            .await?
            .len(),
        1
    );
    platform.cleanup().await
}
