use serde_json::Value;

use crate::helpers::{Echo, Users, problem, spawn_gateway, trust};

#[tokio::test]
async fn a_private_route_without_a_valid_token_is_refused_before_the_service() -> anyhow::Result<()>
{
    let users = Users::start().await?;
    let notifications = Echo::start("notifications").await?;
    let gateway = spawn_gateway(|c| {
        trust(c, &users);
        c.upstreams.notifications = vec![notifications.url.clone()];
    })
    .await?;

    let missing = gateway.get("/api/v1/notifications").await?;
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    problem(missing, 401).await?;
    let garbage = gateway
        .client
        .get(gateway.url("/api/v1/notifications"))
        .bearer_auth("not.a.token")
        .send()
        .await?;
    problem(garbage, 401).await?;

    assert_eq!(notifications.hits(), 0, "the service was never reached");
    gateway.stop();
    users.cleanup().await
}

#[tokio::test]
async fn the_verified_identity_replaces_whatever_the_client_claimed() -> anyhow::Result<()> {
    let users = Users::start().await?;
    let notifications = Echo::start("notifications").await?;
    let events = Echo::start("events").await?;
    let gateway = spawn_gateway(|c| {
        trust(c, &users);
        c.upstreams.notifications = vec![notifications.url.clone()];
        c.upstreams.events = vec![events.url.clone()];
    })
    .await?;
    let token = gateway.sign_up().await?;

    let public: Value = gateway
        .client
        .get(gateway.url("/api/v1/events"))
        .header("x-user-id", "65f1c0ffee0000000000abcd")
        .header("x-user-roles", "admin")
        .send()
        .await?
        .json()
        .await?;
    let private: Value = gateway
        .client
        .get(gateway.url("/api/v1/notifications"))
        .bearer_auth(&token)
        .header("x-user-id", "65f1c0ffee0000000000abcd")
        .header("x-user-roles", "admin")
        .send()
        .await?
        .json()
        .await?;

    assert!(public["headers"].get("x-user-id").is_none(), "{public}");
    assert!(public["headers"].get("x-user-roles").is_none(), "{public}");
    let forwarded_id = private["headers"]["x-user-id"].as_str().unwrap_or_default();
    assert_ne!(forwarded_id, "65f1c0ffee0000000000abcd");
    assert_eq!(forwarded_id.len(), 24);
    assert_eq!(private["headers"]["x-user-roles"], "user");
    assert!(
        private["headers"]["authorization"].as_str().is_some(),
        "services verify again"
    );
    gateway.stop();
    users.cleanup().await
}
