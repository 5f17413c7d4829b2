use common::messages::{USER_DELETED_V1, UserDeletedV1};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, problem, spawn_app, spawn_with, unique_email};

#[tokio::test]
async fn deleting_the_account_ends_its_logins_frees_its_address_and_announces_it()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    let deletions = app.listen_to_domain_events(USER_DELETED_V1).await?;
    let email = unique_email("leaving");
    let tokens = app.signed_up(&email).await?;
    let me: Value = app
        .get("/api/v1/users/me", Some(&tokens.access_token))
        .await?
        .json()
        .await?;

    let wrong = app
        .client
        .delete(app.url("/api/v1/users/me"))
        .bearer_auth(&tokens.access_token)
        .json(&json!({ "password": "not my password" }))
        .send()
        .await?;
    problem(wrong, 403).await?;

    let deleted = app
        .client
        .delete(app.url("/api/v1/users/me"))
        .bearer_auth(&tokens.access_token)
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await?;
    assert_eq!(deleted.status(), 204);

    let announced: UserDeletedV1 = serde_json::from_slice(&app.next_message(&deletions).await?)?;
    assert_eq!(
        announced.user_id.to_string(),
        me["id"].as_str().expect("an id")
    );
    problem(app.refresh(&tokens.refresh_token).await?, 401).await?;
    let refused = problem(
        app.get("/api/v1/users/me", Some(&tokens.access_token))
            .await?,
        401,
    )
    .await?;
    assert_eq!(refused["detail"], "the token's account is deleted");
    problem(app.login(&email, PASSWORD).await?, 401).await?;
    assert_eq!(
        app.register(&email).await?.status(),
        201,
        "the address is free again"
    );
    app.cleanup().await
}

#[tokio::test]
async fn an_admin_grants_and_revokes_admin_and_others_may_not() -> anyhow::Result<()> {
    let admin_email = unique_email("root");
    let parsed = common::domain::EmailAddress::parse(&admin_email)?;
    let app = spawn_with(|config| config.admin_emails = vec![parsed]).await?;
    let admin = app.signed_up(&admin_email).await?;
    let member = app.signed_up(&unique_email("member")).await?;
    let member_id = {
        let me: Value = app
            .get("/api/v1/users/me", Some(&member.access_token))
            .await?
            .json()
            .await?;
        me["id"].as_str().expect("an id").to_owned()
    };
    let put_roles = |token: String, id: String, roles: Value| {
        app.client
            .put(app.url(&format!("/api/v1/users/{id}/roles")))
            .bearer_auth(token)
            .json(&json!({ "roles": roles }))
            .send()
    };

    let refused = put_roles(
        member.access_token.clone(),
        member_id.clone(),
        json!(["admin"]),
    )
    .await?;
    problem(refused, 403).await?;

    let granted = put_roles(
        admin.access_token.clone(),
        member_id.clone(),
        json!(["admin"]),
    )
    .await?;
    assert_eq!(granted.status(), 200);
    let granted: Value = granted.json().await?;
    assert_eq!(granted["roles"], json!(["user", "admin"]));

    let revoked: Value = put_roles(admin.access_token.clone(), member_id.clone(), json!([]))
        .await?
        .json()
        .await?;
    assert_eq!(revoked["roles"], json!(["user"]));

    let unknown = put_roles(
        admin.access_token.clone(),
        "65f1c0ffee0000000000abcd".into(),
        json!([]),
    )
    .await?;
    problem(unknown, 404).await?;
    let bad_role = put_roles(admin.access_token, member_id, json!(["owner"])).await?;
    problem(bad_role, 400).await?;
    app.cleanup().await
}
