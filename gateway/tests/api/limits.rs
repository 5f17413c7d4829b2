use crate::helpers::{Echo, problem, spawn_gateway};

#[tokio::test]
async fn an_oversized_body_is_a_413_and_never_reaches_the_service() -> anyhow::Result<()> {
    let events = Echo::start("events").await?;
    let gateway = spawn_gateway(|c| {
        c.upstreams.events = vec![events.url.clone()];
        c.limits.max_body_bytes = 1024;
    })
    .await?;

    let response = gateway
        .client
        .post(gateway.url("/api/v1/users"))
        .header("content-type", "application/json")
        .body(vec![b' '; 4096])
        .send()
        .await?;

    problem(response, 413).await?;
    assert_eq!(events.hits(), 0);
    gateway.stop();
    Ok(())
}

#[tokio::test]
async fn an_oversized_body_sent_chunked_is_a_413_and_never_reaches_the_service()
-> anyhow::Result<()> {
    let users = Echo::start("users").await?;
    let gateway = spawn_gateway(|c| {
        c.upstreams.users = vec![users.url.clone()];
        c.limits.max_body_bytes = 1024;
    })
    .await?;
    // No Content-Length: the gateway learns the size only by reading.
    let post_chunked = |chunks: usize| {
        let chunks = (0..chunks).map(|_| Ok::<_, std::io::Error>(vec![b' '; 512]));
        gateway
            .client
            .post(gateway.url("/api/v1/users"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
    };

    problem(post_chunked(8).await?, 413).await?;
    assert_eq!(users.hits(), 0);

    let within = post_chunked(2).await?;
    assert_eq!(within.status(), 200);
    let echoed: serde_json::Value = within.json().await?;
    assert_eq!(echoed["body_len"], 1024, "{echoed}");
    gateway.stop();
    Ok(())
}

#[tokio::test]
async fn too_many_requests_from_one_client_are_a_429_with_retry_after() -> anyhow::Result<()> {
    let events = Echo::start("events").await?;
    let gateway = spawn_gateway(|c| {
        c.upstreams.events = vec![events.url.clone()];
        c.limits.per_client_per_minute = 3;
    })
    .await?;

    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(gateway.get("/api/v1/events").await?.status().as_u16());
    }
    let limited = gateway.get("/api/v1/events").await?;

    assert_eq!(statuses, [200, 200, 200, 429]);
    let retry_after: u64 = limited.headers()["retry-after"].to_str()?.parse()?;
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    problem(limited, 429).await?;
    assert_eq!(events.hits(), 3);
    gateway.stop();
    Ok(())
}

#[tokio::test]
async fn logging_in_is_limited_more_strictly() -> anyhow::Result<()> {
    let users = Echo::start("users").await?;
    let gateway = spawn_gateway(|c| {
        c.upstreams.users = vec![users.url.clone()];
        c.limits.token_per_client_per_minute = 2;
    })
    .await?;
    let login = || {
        gateway
            .client
            .post(gateway.url("/api/v1/auth/token"))
            .json(&serde_json::json!({ "email": "a@example.com", "password": "whatever!" }))
            .send()
    };

    assert_eq!(login().await?.status(), 200);
    assert_eq!(login().await?.status(), 200);
    problem(login().await?, 429).await?;
    // Other routes are not held back by the login limit.
    assert_eq!(gateway.get("/.well-known/jwks.json").await?.status(), 200);
    gateway.stop();
    Ok(())
}

#[tokio::test]
async fn one_signed_in_user_is_limited_across_addresses() -> anyhow::Result<()> {
    let users = crate::helpers::Users::start().await?;
    let notifications = Echo::start("notifications").await?;
    let gateway = spawn_gateway(|c| {
        crate::helpers::trust(c, &users);
        c.upstreams.notifications = vec![notifications.url.clone()];
        c.limits.per_user_per_minute = 2;
    })
    .await?;
    let token = gateway.sign_up().await?;
    let call = || {
        gateway
            .client
            .get(gateway.url("/api/v1/notifications"))
            .bearer_auth(&token)
            .send()
    };

    assert_eq!(call().await?.status(), 200);
    assert_eq!(call().await?.status(), 200);
    problem(call().await?, 429).await?;
    gateway.stop();
    users.cleanup().await
}

#[tokio::test]
async fn a_request_line_or_header_the_http_parser_rejects_is_a_400() -> anyhow::Result<()> {
    let gateway = spawn_gateway(|_| {}).await?;
    assert_eq!(gateway.raw_get_status("/api/v1/has space").await?, 400);
    let bad_header = gateway
        .raw_status("GET /api/v1/events HTTP/1.1", "Bad Header: x\r\n")
        .await?;
    assert_eq!(bad_header, 400);
    gateway.stop();
    Ok(())
}

#[tokio::test]
async fn browsers_from_allowed_origins_only_may_call_the_api() -> anyhow::Result<()> {
    let events = Echo::start("events").await?;
    let gateway = spawn_gateway(|c| {
        c.upstreams.events = vec![events.url.clone()];
        c.cors_origins = vec!["https://app.eventpost.test".into()];
    })
    .await?;
    let preflight = |origin: &'static str| {
        gateway
            .client
            .request(reqwest::Method::OPTIONS, gateway.url("/api/v1/events"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };

    let allowed = preflight("https://app.eventpost.test").await?;
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.eventpost.test"
    );
    let refused = preflight("https://evil.test").await?;
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(refused.status().is_client_error());
    gateway.stop();
    Ok(())
}
