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
async fn identity_headers_a_client_sets_never_reach_a_service() -> anyhow::Result<()> {
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

    for forwarded in [&public, &private] {
        assert!(
            forwarded["headers"].get("x-user-id").is_none(),
            "{forwarded}"
        );
        assert!(
            forwarded["headers"].get("x-user-roles").is_none(),
            "{forwarded}"
        );
    }
    assert!(
        private["headers"]["authorization"].as_str().is_some(),
        "services verify again"
    );
    gateway.stop();
    users.cleanup().await
}

#[tokio::test]
async fn an_expired_token_or_one_signed_by_another_key_is_a_401() -> anyhow::Result<()> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};

    let users = Users::start().await?;
    let notifications = Echo::start("notifications").await?;
    let gateway = spawn_gateway(|c| {
        trust(c, &users);
        c.upstreams.notifications = vec![notifications.url.clone()];
    })
    .await?;
    let jwks: Value = gateway.get("/.well-known/jwks.json").await?.json().await?;
    let kid = jwks["keys"][0]["kid"].as_str().expect("a kid").to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let claims = |exp: i64| {
        serde_json::json!({
            "sub": "65f1c0ffee0000000000abcd", "roles": ["user"], "iat": now - 7200, "exp": exp,
            "iss": "eventpost", "aud": "eventpost-api", "jti": "x",
        })
    };
    let sign = |pem: &str, exp: i64| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        encode(
            &header,
            &claims(exp),
            &EncodingKey::from_ed_pem(pem.as_bytes()).expect("key"),
        )
    };
    let ours = common::testing::TEST_SIGNING_KEY;
    let foreign = common::testing::OTHER_TEST_SIGNING_KEY;

    for (what, token) in [
        ("expired", sign(ours, now - 3600)?),
        ("foreign", sign(foreign, now + 600)?),
    ] {
        let response = gateway
            .client
            .get(gateway.url("/api/v1/notifications"))
            .bearer_auth(token)
            .send()
            .await?;
        assert_eq!(response.status(), 401, "{what}");
        problem(response, 401).await?;
    }
    let valid = sign(ours, now + 600)?;
    let accepted = gateway
        .client
        .get(gateway.url("/api/v1/notifications"))
        .bearer_auth(valid)
        .send()
        .await?;
    assert_eq!(
        accepted.status(),
        200,
        "the same key and claims, unexpired, pass"
    );
    assert_eq!(notifications.hits(), 1);
    gateway.stop();
    users.cleanup().await
}

#[tokio::test]
async fn a_calendar_feed_is_read_without_a_token_and_its_address_is_managed_with_one()
-> anyhow::Result<()> {
    let users = Users::start().await?;
    let notifications = Echo::start("notifications").await?;
    let gateway = spawn_gateway(|c| {
        trust(c, &users);
        c.upstreams.notifications = vec![notifications.url.clone()];
    })
    .await?;

    // Calendar apps send no token: the address is the key.
    let feed = gateway.get("/feeds/some-token.ics").await?;
    assert_eq!(feed.status(), 200);
    let seen: Value = feed.json().await?;
    assert_eq!(seen["path"], "/feeds/some-token.ics");
    problem(gateway.get("/api/v1/notifications/feed").await?, 401).await?;
    assert_eq!(notifications.hits(), 1, "only the feed reached the service");
    gateway.stop();
    users.cleanup().await
}
