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

#[tokio::test]
async fn more_than_twenty_interests_are_refused_and_the_profile_kept() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let tokens = app.signed_up(&unique_email("keen")).await?;
    let many: Vec<String> = (0..21).map(|i| format!("topic-{i}")).collect();
    let response = app
        .patch(
            "/api/v1/users/me",
            &json!({ "interests": many }),
            &tokens.access_token,
        )
        .await?;
    let refused = problem(response, 422).await?;
    assert_eq!(fields(&refused), ["interests"]);
    assert_eq!(refused["errors"][0]["message"], "at most 20 topics");
    let read: serde_json::Value = app
        .get("/api/v1/users/me", Some(&tokens.access_token))
        .await?
        .json()
        .await?;
    assert_eq!(read["interests"], json!([]));
    // Twenty is fine.
    let twenty: Vec<String> = (0..20).map(|i| format!("topic-{i}")).collect();
    let response = app
        .patch(
            "/api/v1/users/me",
            &json!({ "interests": twenty }),
            &tokens.access_token,
        )
        .await?;
    assert_eq!(response.status(), 200);
    app.cleanup().await
}

#[tokio::test]
async fn the_profile_zone_is_utc_until_chosen_and_a_change_is_announced() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let changes = app
        .listen_to_domain_events(common::messages::USER_TIMEZONE_CHANGED_V1)
        .await?;
    let tokens = app.signed_up(&unique_email("zoned")).await?;
    let me: serde_json::Value = app
        .get("/api/v1/users/me", Some(&tokens.access_token))
        .await?
        .json()
        .await?;
    assert_eq!(me["timezone"], "UTC");

    let moved = app
        .patch(
            "/api/v1/users/me",
            &json!({ "timezone": "America/New_York" }),
            &tokens.access_token,
        )
        .await?;
    assert_eq!(moved.status(), 200);
    let moved: serde_json::Value = moved.json().await?;
    assert_eq!(moved["timezone"], "America/New_York");
    let message: common::messages::UserTimezoneChangedV1 =
        serde_json::from_slice(&app.next_message(&changes).await?)?;
    assert_eq!(message.user_id.to_string(), me["id"].as_str().unwrap());
    assert_eq!(message.timezone.name(), "America/New_York");
    app.cleanup().await
}

#[tokio::test]
async fn a_zone_that_is_not_iana_is_refused_naming_it_at_registration_and_after()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    let email = unique_email("nowhere");
    let with_zone = |zone: &str| json!({ "email": email, "password": "correct horse battery", "timezone": zone });
    let register = app
        .post("/api/v1/users", &with_zone("Mars/Olympus"), None)
        .await?;
    assert_eq!(fields(&problem(register, 422).await?), ["timezone"]);

    let registered = app
        .post("/api/v1/users", &with_zone("Asia/Tokyo"), None)
        .await?;
    assert_eq!(registered.status(), 201);
    let registered: serde_json::Value = registered.json().await?;
    assert_eq!(registered["timezone"], "Asia/Tokyo");
    let tokens = app.login(&email, "correct horse battery").await?;
    let tokens: serde_json::Value = tokens.json().await?;
    let token = tokens["access_token"].as_str().unwrap();
    let refused = app
        .patch(
            "/api/v1/users/me",
            &json!({ "timezone": "EST5EDT " }),
            token,
        )
        .await?;
    assert_eq!(fields(&problem(refused, 422).await?), ["timezone"]);
    let me: serde_json::Value = app
        .get("/api/v1/users/me", Some(token))
        .await?
        .json()
        .await?;
    assert_eq!(me["timezone"], "Asia/Tokyo", "kept");
    app.cleanup().await
}
