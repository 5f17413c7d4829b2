use std::time::Duration;

use common::testing;
use reqwest::StatusCode;

use crate::helpers::{GRANADA, event_at, spawn_app_with_pausable_db};

/// Longest a request may take while the database hangs: its one-second deadline and margin.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn requests_while_the_database_is_paused_are_503s_and_served_again_after()
-> anyhow::Result<()> {
    let (app, database) = spawn_app_with_pausable_db().await?;
    let event = app
        .create_event(&event_at("Paused", 3, GRANADA, &[]))
        .await?;
    let id = event["id"].as_str().unwrap_or_default().to_owned();

    database.pause();
    let read = tokio::time::timeout(ANSWER_WITHIN, app.get_event(&id, &[])).await??;
    testing::assert_database_unavailable(read).await?;
    let write = tokio::time::timeout(
        ANSWER_WITHIN,
        app.post_event(&event_at("Lost?", 3, GRANADA, &[]), &app.admin),
    )
    .await??;
    testing::assert_database_unavailable(write).await?;

    database.resume();
    testing::eventually(ANSWER_WITHIN, "the event served again", || async {
        Ok((app.get_event(&id, &[]).await?.status() == StatusCode::OK).then_some(()))
    })
    .await?;
    app.cleanup().await
}
