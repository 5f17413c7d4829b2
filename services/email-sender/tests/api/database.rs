use std::time::Duration;

use common::testing::{self, Mailpit, PausableProxy};

use crate::helpers::{spawn_with, unique_address, welcome};

#[tokio::test]
async fn mail_requested_while_the_database_is_paused_goes_out_once_it_answers() -> anyhow::Result<()>
{
    let database = PausableProxy::to_local_mongo().await?;
    let app = spawn_with(|config| {
        config.mongo = database.mongo_config(config.mongo.clone(), Duration::from_secs(1));
    })
    .await?;
    let to = unique_address("patient");

    database.pause();
    testing::eventually(
        Duration::from_secs(10),
        "readiness to see the pause",
        || async {
            let ready = reqwest::get(format!("{}/readyz", app.address)).await?;
            Ok((ready.status() == 503).then_some(()))
        },
    )
    .await?;
    // The worker cannot tell whether it mailed this before, so it puts it back, every deadline.
    let message_id = uuid::Uuid::new_v4().to_string();
    app.request(&message_id, &welcome(&to, None)).await?;
    assert!(Mailpit::local().messages_to(&to).await?.is_empty());

    database.resume();
    let mailpit = Mailpit::local();
    mailpit.wait_for(&to, 1).await?;
    assert_eq!(mailpit.messages_to(&to).await?.len(), 1);
    app.cleanup().await
}
