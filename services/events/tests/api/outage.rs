use std::time::Duration;

use common::testing;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{GRANADA, event_at, spawn_app_with_pausable_db, titles};

/// Longest a request may take while the database hangs: its one-second deadline and margin.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn with_the_database_paused_reads_answer_from_memory_and_writes_are_503s()
-> anyhow::Result<()> {
    let (app, database) = spawn_app_with_pausable_db().await?;
    let event = app
        .create_event(&event_at("Paused", 3, GRANADA, &[]))
        .await?;
    let id = event["id"].as_str().unwrap_or_default().to_owned();

    database.pause();
    let read = tokio::time::timeout(ANSWER_WITHIN, app.get_event(&id, &[])).await??;
    assert_eq!(read.status(), StatusCode::OK);
    let search = tokio::time::timeout(ANSWER_WITHIN, app.search("")).await??;
    assert_eq!(titles(&search.json().await?), ["Paused"]);
    let write = tokio::time::timeout(
        ANSWER_WITHIN,
        app.post_event(&event_at("Lost?", 3, GRANADA, &[]), &app.admin),
    )
    .await??;
    testing::assert_database_unavailable(write).await?;
    // Still ready, so the gateway keeps routing reads here; the body says what is down.
    let ready = tokio::time::timeout(
        ANSWER_WITHIN,
        reqwest::get(format!("{}/readyz", app.address)),
    )
    .await??;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await?;
    let mongodb = ready["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|check| check["name"] == "mongodb")
        .cloned()
        .unwrap_or_default();
    assert_eq!(mongodb["ok"], false, "{ready}");

    database.resume();
    testing::eventually(ANSWER_WITHIN, "writes accepted again", || async {
        let created = app
            .post_event(&event_at("Back", 4, GRANADA, &[]), &app.admin)
            .await?;
        Ok((created.status() == StatusCode::CREATED).then_some(()))
    })
    .await?;
    app.cleanup().await
}
