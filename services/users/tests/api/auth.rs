use common::client_address::TrustedProxies;
use serde_json::json;

use crate::helpers::{PASSWORD, Tokens, problem, spawn_app, spawn_with, unique_email};

#[tokio::test]
async fn logging_in_returns_a_token_pair_that_opens_the_profile() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let email = unique_email("ada");
    let tokens = app.signed_up(&email).await?;

    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 15 * 60);
    let me = app
        .get("/api/v1/users/me", Some(&tokens.access_token))
        .await?;
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await?;
    assert_eq!(me["email"], email.as_str());
    app.cleanup().await
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_account_get_the_same_401() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let email = unique_email("grace");
    assert_eq!(app.register(&email).await?.status(), 201);

    let wrong_password = problem(app.login(&email, "not the password").await?, 401).await?;
    let unknown = problem(app.login(&unique_email("nobody"), PASSWORD).await?, 401).await?;

    assert_eq!(wrong_password["detail"], unknown["detail"]);
    assert_eq!(wrong_password["type"], unknown["type"]);
    app.cleanup().await
}

#[tokio::test]
async fn refreshing_rotates_the_pair_and_a_reused_token_ends_the_login() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let first = app.signed_up(&unique_email("ada")).await?;

    let second: Tokens = app.refresh(&first.refresh_token).await?.json().await?;
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(
        app.get("/api/v1/users/me", Some(&second.access_token))
            .await?
            .status(),
        200
    );

    // Replaying the spent token is treated as theft: the whole login ends.
    let replay = problem(app.refresh(&first.refresh_token).await?, 401).await?;
    assert!(
        replay["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already used"))
    );
    problem(app.refresh(&second.refresh_token).await?, 401).await?;
    app.cleanup().await
}

#[tokio::test]
async fn of_concurrent_refreshes_with_one_token_exactly_one_succeeds() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let tokens = app.signed_up(&unique_email("race")).await?;

    let attempts =
        futures::future::join_all((0..8).map(|_| app.refresh(&tokens.refresh_token))).await;

    let statuses: Vec<u16> = attempts
        .into_iter()
        .map(|r| r.map(|r| r.status().as_u16()))
        .collect::<Result<_, _>>()?;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 401].contains(s)),
        "{statuses:?}"
    );
    app.cleanup().await
}

#[tokio::test]
async fn logging_out_ends_the_login() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let tokens = app.signed_up(&unique_email("bye")).await?;
    let body = json!({ "refresh_token": tokens.refresh_token });

    let logout = app
        .post("/api/v1/auth/logout", &body, Some(&tokens.access_token))
        .await?;

    assert_eq!(logout.status(), 204);
    problem(app.refresh(&tokens.refresh_token).await?, 401).await?;
    app.cleanup().await
}

#[tokio::test]
async fn logging_out_needs_an_access_token() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let response = app
        .post(
            "/api/v1/auth/logout",
            &json!({ "refresh_token": "x" }),
            None,
        )
        .await?;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    problem(response, 401).await?;
    app.cleanup().await
}

#[tokio::test]
async fn too_many_login_attempts_for_one_account_are_refused_with_retry_after() -> anyhow::Result<()>
{
    let app = spawn_with(|config| config.login_attempts_per_account = 3).await?;
    let email = unique_email("target");
    assert_eq!(app.register(&email).await?.status(), 201);

    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.login(&email, "guessing wrong").await?.status().as_u16());
    }
    let limited = app.login(&email, PASSWORD).await?;

    assert_eq!(statuses, [401, 401, 401, 429]);
    let retry_after: u64 = limited.headers()["retry-after"].to_str()?.parse()?;
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    problem(limited, 429).await?;
    // Another account from the same client is not held back by this one's limit.
    let other = unique_email("bystander");
    assert_eq!(app.register(&other).await?.status(), 201);
    assert_eq!(app.login(&other, PASSWORD).await?.status(), 200);
    app.cleanup().await
}

#[tokio::test]
async fn behind_the_gateway_the_login_limit_counts_the_client_address_it_names()
-> anyhow::Result<()> {
    let app = spawn_with(|config| config.login_attempts_per_client = 2).await?;
    let attempt = |client: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/token"))
            // What the gateway (on loopback, trusted by default) sends: the client it found.
            .header("x-client-address", client)
            .header("x-forwarded-for", format!("203.0.113.9, {client}"))
            .json(&json!({ "email": unique_email("x"), "password": "wrong password" }))
            .send()
    };

    assert_eq!(attempt("198.51.100.1").await?.status(), 401);
    assert_eq!(attempt("198.51.100.1").await?.status(), 401);
    assert_eq!(attempt("198.51.100.1").await?.status(), 429);
    assert_eq!(
        attempt("198.51.100.2").await?.status(),
        401,
        "another client is not limited"
    );
    app.cleanup().await
}

#[tokio::test]
async fn a_client_address_claimed_by_an_untrusted_peer_is_not_believed() -> anyhow::Result<()> {
    let app = spawn_with(|config| {
        config.login_attempts_per_client = 2;
        config.trusted_proxies = TrustedProxies::none();
    })
    .await?;
    // A client reaching the service directly names a new address each time to dodge the
    // limit; every attempt still counts against its own (loopback) address.
    let statuses = {
        let mut statuses = Vec::new();
        for client in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
            let response = app
                .client
                .post(app.url("/api/v1/auth/token"))
                .header("x-client-address", client)
                .header("x-forwarded-for", client)
                .json(&json!({ "email": unique_email("x"), "password": "wrong password" }))
                .send()
                .await?;
            statuses.push(response.status().as_u16());
        }
        statuses
    };
    assert_eq!(statuses, [401, 401, 429]);
    app.cleanup().await
}
