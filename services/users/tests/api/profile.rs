use serde_json::json;

use crate::helpers::{fields, problem, spawn_app, unique_email};

#[tokio::test]
async fn the_profile_can_change_its_name_and_interests() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let tokens = app.signed_up(&unique_email("ada")).await?;
    let patch = json!({ "display_name": "Ada L.", "interests": ["live-music", "rust"] });

    let updated = app
        .patch("/api/v1/users/me", &patch, &tokens.access_token)
        .await?;

    assert_eq!(updated.status(), 200);
    let updated: serde_json::Value = updated.json().await?;
    assert_eq!(updated["display_name"], "Ada L.");
    assert_eq!(updated["interests"], json!(["live-music", "rust"]));
    let read: serde_json::Value = app
        .get("/api/v1/users/me", Some(&tokens.access_token))
        .await?
        .json()
        .await?;
    assert_eq!(read["interests"], json!(["live-music", "rust"]));
    // A field left out stays as it was.
    let rename = app
        .patch(
            "/api/v1/users/me",
            &json!({ "display_name": "Ada" }),
            &tokens.access_token,
        )
        .await?;
    let renamed: serde_json::Value = rename.json().await?;
    assert_eq!(renamed["interests"], json!(["live-music", "rust"]));
    app.cleanup().await
}

#[tokio::test]
async fn invalid_interests_are_named_by_position() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let tokens = app.signed_up(&unique_email("grace")).await?;
    let patch = json!({ "interests": ["jazz", "Live Music", "ok", "trailing-"] });

    let response = app
        .patch("/api/v1/users/me", &patch, &tokens.access_token)
        .await?;

    let problem = problem(response, 422).await?;
    assert_eq!(fields(&problem), ["interests[1]", "interests[3]"]);
    app.cleanup().await
}

#[tokio::test]
async fn the_profile_needs_a_token() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let response = app.get("/api/v1/users/me", None).await?;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    problem(response, 401).await?;
    app.cleanup().await
}
