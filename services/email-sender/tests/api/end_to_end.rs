//! The users service and the email-sender together: registering mails a welcome and a
//! verification code, and the code from the mail verifies the address.

use common::{
    config::{HttpConfig, Secret},
    testing::{self, Mailpit},
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::{spawn_with, unique_address};

#[tokio::test]
async fn registering_mails_a_welcome_and_a_link_that_verifies_the_address() -> anyhow::Result<()> {
    let sender = spawn_with(|_| {}).await?;
    let users_config = users::config::Config {
        http: HttpConfig::ephemeral(),
        mongo: testing::mongo_config("e2e_users"),
        amqp: common::config::AmqpConfig {
            prefix: sender.prefix.clone(),
            ..testing::amqp_config("e2e")
        },
        tokens: users::tokens::TokenConfig {
            signing_key: Some(Secret::new(common::testing::TEST_SIGNING_KEY)),
            ..Default::default()
        },
        ..users::config::Config::default()
    };
    let users_app = users::Application::build(users_config).await?;
    let users_url = format!("http://127.0.0.1:{}", users_app.port());
    let users_db = users_app.db().clone();
    let stop_users = CancellationToken::new();
    tokio::spawn(users_app.run_until_stopped(stop_users.clone()));
    let http = reqwest::Client::new();
    let email = unique_address("newcomer");

    let registered = http
        .post(format!("{users_url}/api/v1/users"))
        .json(
            &json!({ "email": email, "password": "correct horse battery", "display_name": "Nia" }),
        )
        .send()
        .await?;
    assert_eq!(registered.status(), 201);

    let mailpit = Mailpit::local();
    let received = mailpit.wait_for(&email, 2).await?;
    let mut subjects: Vec<_> = received.iter().map(|m| m.subject.clone()).collect();
    subjects.sort();
    assert_eq!(
        subjects,
        ["Confirm your email address", "Welcome to eventpost"]
    );
    let verification = received
        .iter()
        .find(|m| m.subject == "Confirm your email address")
        .expect("a verification mail");
    let text = mailpit.message(&verification.id).await?.text;
    // The mail links to the web app's page, which sends the token back with one click.
    let link = text
        .lines()
        .map(str::trim)
        .find(|line| line.contains("/verify?token="))
        .unwrap_or_else(|| panic!("no link in:\n{text}"));
    let token = url::Url::parse(link)?
        .query_pairs()
        .find(|(name, _)| name == "token")
        .map(|(_, token)| token.into_owned())
        .unwrap_or_else(|| panic!("no token in {link}"));

    let verified = http
        .post(format!("{users_url}/api/v1/users/me/emails/verify"))
        .json(&json!({ "token": token }))
        .send()
        .await?;
    assert_eq!(verified.status(), 204);

    stop_users.cancel();
    users_db.drop().await?;
    sender.cleanup().await
}
