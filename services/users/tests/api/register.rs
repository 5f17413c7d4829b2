use common::messages::EmailContent;
use serde_json::json;

use crate::helpers::{PASSWORD, fields, problem, spawn_app, spawn_with, unique_email};

#[tokio::test]
async fn registering_returns_the_profile_and_queues_a_welcome_email() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let email = unique_email("ada");
    let body =
        json!({ "email": email.to_uppercase(), "password": PASSWORD, "display_name": " Ada " });

    let response = app.post("/api/v1/users", &body, None).await?;

    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["location"], "/api/v1/users/me");
    let profile: serde_json::Value = response.json().await?;
    assert_eq!(
        profile["email"],
        email.as_str(),
        "addresses are stored lower-cased"
    );
    assert_eq!(profile["display_name"], "Ada");
    assert_eq!(profile["roles"], json!(["user"]));
    assert_eq!(
        profile["emails"],
        json!([{ "email": email, "verified": false, "primary": true }])
    );
    assert_eq!(profile["id"].as_str().map(str::len), Some(24));
    let created_at = profile["created_at"].as_str().unwrap_or_default();
    assert!(
        created_at.ends_with('Z'),
        "times are UTC with a Z: {created_at}"
    );
    assert!(profile.get("password").is_none() && profile.get("password_hash").is_none());

    let mail = app.next_email().await?;
    assert_eq!(mail.to.as_str(), email);
    assert_eq!(
        mail.content,
        EmailContent::Welcome {
            display_name: Some("Ada".into())
        }
    );
    app.cleanup().await
}

#[tokio::test]
async fn an_address_taken_in_any_case_is_a_409() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let email = unique_email("grace");
    assert_eq!(app.register(&email).await?.status(), 201);

    let again = app.register(&email.to_uppercase()).await?;

    let problem = problem(again, 409).await?;
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already exists"))
    );
    app.cleanup().await
}

#[tokio::test]
async fn every_invalid_field_is_named_in_one_422() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let body = json!({ "email": "not-an-address", "password": "short", "display_name": "" });

    let response = app.post("/api/v1/users", &body, None).await?;

    let problem = problem(response, 422).await?;
    assert_eq!(fields(&problem), ["email", "password", "display_name"]);
    app.cleanup().await
}

#[tokio::test]
async fn a_wrong_type_or_an_unknown_field_is_a_400_naming_it() -> anyhow::Result<()> {
    let app = spawn_app().await?;

    let wrong_type = app
        .post(
            "/api/v1/users",
            &json!({ "email": 42, "password": PASSWORD }),
            None,
        )
        .await?;
    let unknown = app
        .post(
            "/api/v1/users",
            &json!({ "email": unique_email("x"), "password": PASSWORD, "admin": true }),
            None,
        )
        .await?;

    assert_eq!(fields(&problem(wrong_type, 400).await?), ["email"]);
    let unknown = problem(unknown, 400).await?;
    assert!(
        unknown["detail"]
            .as_str()
            .is_some_and(|d| d.contains("admin")),
        "{unknown}"
    );
    app.cleanup().await
}

#[tokio::test]
async fn a_configured_admin_address_registers_as_admin() -> anyhow::Result<()> {
    let admin = unique_email("ops");
    let parsed = common::domain::EmailAddress::parse(&admin)?;
    let app = spawn_with(|config| config.admin_emails = vec![parsed]).await?;

    let profile: serde_json::Value = app.register(&admin).await?.json().await?;

    assert_eq!(profile["roles"], json!(["user", "admin"]));
    app.cleanup().await
}

#[tokio::test]
async fn a_registration_retried_with_its_key_answers_the_account_it_made() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let body = json!({ "email": unique_email("retry"), "password": PASSWORD });
    let client = reqwest::Client::new();
    let register = |key: Option<&str>| {
        let mut request = client.post(app.url("/api/v1/users")).json(&body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send()
    };
    let first = register(Some("signup-1")).await?;
    assert_eq!(first.status(), 201);
    let first: serde_json::Value = first.json().await?;
    let replayed = register(Some("signup-1")).await?;
    assert_eq!(replayed.status(), 201);
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(replayed.json::<serde_json::Value>().await?, first);

    // The first answer lost to a 503 after the account was stored: the retry answers with it
    // where a request without the key is told the address is taken.
    common::idempotency::forget_answers(&app.db, chrono::Utc::now()).await?;
    let rerun = register(Some("signup-1")).await?;
    assert_eq!(rerun.status(), 201);
    assert_eq!(rerun.json::<serde_json::Value>().await?["id"], first["id"]);
    problem(register(None).await?, 409).await?;
    app.cleanup().await
}
