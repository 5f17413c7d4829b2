//! Changing a password with the current one, and resetting a forgotten one by mail.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, Tokens, problem, spawn_app, unique_email};

const NEW_PASSWORD: &str = "a brand new passphrase";

#[tokio::test]
async fn a_password_changed_with_the_current_one_ends_every_other_login() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let email = unique_email("changer");
    let first = app.signed_up(&email).await?;
    let second: Tokens = app.login(&email, PASSWORD).await?.json().await?;
    let change = |current: &str| {
        app.client
            .put(app.url("/api/v1/users/me/password"))
            .bearer_auth(&first.access_token)
            .json(&json!({ "current_password": current, "new_password": NEW_PASSWORD }))
            .send()
    };

    let wrong = problem(change("not the password").await?, 403).await?;
    assert_eq!(wrong["detail"], "the current password is wrong");
    assert_eq!(app.login(&email, PASSWORD).await?.status(), 200);

    let changed = change(PASSWORD).await?;
    assert_eq!(changed.status(), 200);
    let fresh: Tokens = changed.json().await?;
    assert_eq!(app.login(&email, PASSWORD).await?.status(), 401);
    assert_eq!(app.login(&email, NEW_PASSWORD).await?.status(), 200);
    for ended in [&first, &second] {
        let refused = problem(app.refresh(&ended.refresh_token).await?, 401).await?;
        assert_eq!(
            refused["detail"],
            "the refresh token belongs to a login that has ended"
        );
    }
    assert_eq!(app.refresh(&fresh.refresh_token).await?.status(), 200);
    app.cleanup().await
}

#[tokio::test]
async fn a_new_password_that_breaks_the_rules_is_refused_naming_it() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let email = unique_email("short");
    let tokens = app.signed_up(&email).await?;
    let response = app
        .client
        .put(app.url("/api/v1/users/me/password"))
        .bearer_auth(&tokens.access_token)
        .json(&json!({ "current_password": PASSWORD, "new_password": "short" }))
        .send()
        .await?;
    let refused = problem(response, 422).await?;
    assert_eq!(refused["errors"][0]["field"], "new_password");
    assert_eq!(app.login(&email, PASSWORD).await?.status(), 200);
    app.cleanup().await
}

#[tokio::test]
async fn a_reset_by_mail_works_once_and_ends_every_login() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let email = unique_email("forgetful");
    let tokens = app.signed_up(&email).await?;

    // An address without an account gets the same answer and no mail: the next reset mail on
    // the queue is the one asked for after it.
    let unknown = request_reset(&app, &unique_email("nobody")).await?;
    assert_eq!(unknown.status(), 202);
    assert_eq!(unknown.text().await?, "");
    assert_eq!(
        request_reset(&app, &email.to_uppercase()).await?.status(),
        202
    );
    let token = app.next_reset_token(&email).await?;

    assert_eq!(
        confirm_reset(&app, &token, NEW_PASSWORD).await?.status(),
        204
    );
    let again = problem(
        confirm_reset(&app, &token, "yet another passphrase").await?,
        422,
    )
    .await?;
    assert_eq!(again["errors"][0]["field"], "token");
    let made_up = problem(
        confirm_reset(&app, "made-up", "yet another passphrase").await?,
        422,
    )
    .await?;
    assert_eq!(made_up["errors"][0]["field"], "token");

    assert_eq!(app.login(&email, PASSWORD).await?.status(), 401);
    assert_eq!(app.login(&email, NEW_PASSWORD).await?.status(), 200);
    assert_eq!(app.refresh(&tokens.refresh_token).await?.status(), 401);
    app.cleanup().await
}

#[tokio::test]
async fn resets_are_limited_per_address_like_logins() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let email = unique_email("hammered");
    app.signed_up(&email).await?;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let answer = request_reset(&app, &email).await?;
        statuses.push(answer.status().as_u16());
        if answer.status() == 429 {
            let problem: Value = answer.json().await?;
            assert_eq!(problem["status"], 429);
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    app.cleanup().await
}

async fn request_reset(app: &TestApp, address: &str) -> anyhow::Result<reqwest::Response> {
    let body = json!({ "email": address });
    app.post("/api/v1/auth/password-reset", &body, None).await
}

async fn confirm_reset(
    app: &TestApp,
    token: &str,
    password: &str,
) -> anyhow::Result<reqwest::Response> {
    let body = json!({ "token": token, "password": password });
    app.post("/api/v1/auth/password-reset/confirm", &body, None)
        .await
}
