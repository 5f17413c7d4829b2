use common::messages::{self, UserPrimaryEmailChangedV1};
use serde_json::{Value, json};

use crate::helpers::{fields, problem, spawn_app, unique_email};

fn addresses(profile: &Value) -> Vec<(String, bool, bool)> {
    profile["emails"]
        .as_array()
        .expect("emails")
        .iter()
        .map(|e| {
            (
                e["email"].as_str().unwrap_or_default().to_owned(),
                e["verified"] == true,
                e["primary"] == true,
            )
        })
        .collect()
}

#[tokio::test]
async fn a_secondary_address_is_added_verified_made_primary_and_the_old_one_removed()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    let primaries = app
        .listen_to_domain_events(messages::USER_PRIMARY_EMAIL_CHANGED_V1)
        .await?;
    let first = unique_email("first");
    let second = unique_email("second");
    let tokens = app.signed_up(&first).await?;
    let token = tokens.access_token.as_str();

    let added = app
        .post(
            "/api/v1/users/me/emails",
            &json!({ "email": second.to_uppercase() }),
            Some(token),
        )
        .await?;
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await?;
    assert_eq!(
        added,
        json!({ "email": second, "verified": false, "primary": false })
    );

    // Not verified yet: it cannot become primary.
    let early = app
        .client
        .put(app.url("/api/v1/users/me/emails/primary"))
        .bearer_auth(token)
        .json(&json!({ "email": second }))
        .send()
        .await?;
    problem(early, 409).await?;

    let verify_token = app.next_verification_token(&second).await?;
    let verified = app
        .post(
            "/api/v1/users/me/emails/verify",
            &json!({ "token": verify_token }),
            None,
        )
        .await?;
    assert_eq!(verified.status(), 204);
    // Single use.
    let again = app
        .post(
            "/api/v1/users/me/emails/verify",
            &json!({ "token": verify_token }),
            None,
        )
        .await?;
    assert_eq!(fields(&problem(again, 422).await?), ["token"]);

    let primary = app
        .client
        .put(app.url("/api/v1/users/me/emails/primary"))
        .bearer_auth(token)
        .json(&json!({ "email": second }))
        .send()
        .await?;
    assert_eq!(primary.status(), 200);
    let profile: Value = primary.json().await?;
    assert_eq!(profile["email"], second.as_str());
    assert_eq!(
        addresses(&profile),
        [(first.clone(), false, false), (second.clone(), true, true)]
    );
    // Only a verified primary is announced: the unverified first never was.
    let announced: UserPrimaryEmailChangedV1 =
        serde_json::from_slice(&app.next_message(&primaries).await?)?;
    assert_eq!(
        announced.user_id.to_string(),
        profile["id"].as_str().unwrap()
    );
    assert_eq!(announced.email.as_str(), second);

    let removed = app
        .client
        .delete(app.url(&format!("/api/v1/users/me/emails/{first}")))
        .bearer_auth(token)
        .send()
        .await?;
    assert_eq!(removed.status(), 204);
    let profile: Value = app
        .get("/api/v1/users/me", Some(token))
        .await?
        .json()
        .await?;
    assert_eq!(addresses(&profile), [(second.clone(), true, true)]);
    // The removed address is free again.
    assert_eq!(app.register(&first).await?.status(), 201);
    app.cleanup().await
}

#[tokio::test]
async fn the_primary_address_is_verified_with_the_token_mailed_at_registration()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    let primaries = app
        .listen_to_domain_events(messages::USER_PRIMARY_EMAIL_CHANGED_V1)
        .await?;
    let email = unique_email("ada");
    let tokens = app.signed_up(&email).await?;

    let token = app.next_verification_token(&email).await?;
    let verified = app
        .post(
            "/api/v1/users/me/emails/verify",
            &json!({ "token": token }),
            None,
        )
        .await?;

    assert_eq!(verified.status(), 204);
    let profile: Value = app
        .get("/api/v1/users/me", Some(&tokens.access_token))
        .await?
        .json()
        .await?;
    assert_eq!(addresses(&profile), [(email.clone(), true, true)]);
    let announced: UserPrimaryEmailChangedV1 =
        serde_json::from_slice(&app.next_message(&primaries).await?)?;
    assert_eq!(
        announced.user_id.to_string(),
        profile["id"].as_str().unwrap()
    );
    assert_eq!(announced.email.as_str(), email);
    app.cleanup().await
}

#[tokio::test]
async fn an_address_of_another_account_cannot_be_added() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let taken = unique_email("taken");
    assert_eq!(app.register(&taken).await?.status(), 201);
    let tokens = app.signed_up(&unique_email("other")).await?;

    let response = app
        .post(
            "/api/v1/users/me/emails",
            &json!({ "email": taken }),
            Some(&tokens.access_token),
        )
        .await?;

    problem(response, 409).await?;
    app.cleanup().await
}

#[tokio::test]
async fn the_primary_address_cannot_be_removed_and_unknown_ones_are_404() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let email = unique_email("only");
    let tokens = app.signed_up(&email).await?;
    let delete = |address: String| {
        app.client
            .delete(app.url(&format!("/api/v1/users/me/emails/{address}")))
            .bearer_auth(&tokens.access_token)
            .send()
    };

    problem(delete(email.clone()).await?, 409).await?;
    problem(delete(unique_email("never-added")).await?, 404).await?;
    // What cannot be an address is not one of this account's either.
    let malformed = problem(delete("not-an-address".into()).await?, 404).await?;
    assert_eq!(malformed["detail"], "no such address on this account");
    app.cleanup().await
}

#[tokio::test]
async fn a_made_up_verification_token_is_refused() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let response = app
        .post(
            "/api/v1/users/me/emails/verify",
            &json!({ "token": "made-up" }),
            None,
        )
        .await?;
    assert_eq!(fields(&problem(response, 422).await?), ["token"]);
    app.cleanup().await
}
