use std::time::Duration;

use common::testing;

use crate::helpers::{spawn_app_with_pausable_db, unique_email};

/// Longest a request may take while the database hangs: its one-second deadline and margin.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn requests_while_the_database_is_paused_are_503s_and_served_again_after()
-> anyhow::Result<()> {
    let (app, database) = spawn_app_with_pausable_db().await?;
    let email = unique_email("paused");
    let tokens = app.signed_up(&email).await?;

    database.pause();
    let profile = tokio::time::timeout(
        ANSWER_WITHIN,
        app.get("/api/v1/users/me", Some(&tokens.access_token)),
    )
    .await??;
    testing::assert_database_unavailable(profile).await?;
    let registering =
        tokio::time::timeout(ANSWER_WITHIN, app.register(&unique_email("late"))).await??;
    testing::assert_database_unavailable(registering).await?;

    database.resume();
    testing::eventually(ANSWER_WITHIN, "the profile served again", || async {
        let profile = app
            .get("/api/v1/users/me", Some(&tokens.access_token))
            .await?;
        Ok((profile.status() == 200).then_some(()))
    })
    .await?;
    app.cleanup().await
}
