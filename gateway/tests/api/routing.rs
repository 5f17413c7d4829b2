use serde_json::Value;

use crate::helpers::{Echo, Users, problem, spawn_gateway, trust, unreachable, until};

#[tokio::test]
async fn requests_reach_the_service_their_path_belongs_to_with_everything_intact()
-> anyhow::Result<()> {
    let events = Echo::start("events-a").await?;
    let gateway = spawn_gateway(|c| c.upstreams.events = vec![events.url.clone()]).await?;

    let response = gateway
        .client
        .get(gateway.url("/api/v1/events?topic=jazz&topic=rust"))
        .header("x-request-id", "trace-me-1")
        .header("accept-language", "es")
        .send()
        .await?;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "trace-me-1");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let seen: Value = response.json().await?;
    assert_eq!(seen["path"], "/api/v1/events");
    assert_eq!(seen["query"], "topic=jazz&topic=rust");
    assert_eq!(seen["headers"]["x-request-id"], "trace-me-1");
    assert_eq!(seen["headers"]["accept-language"], "es");
    assert_eq!(seen["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen["headers"]["x-forwarded-proto"], "http");
    gateway.stop();
    Ok(())
}

#[tokio::test]
async fn requests_are_spread_over_instances_and_a_stopped_one_is_taken_out() -> anyhow::Result<()> {
    let (a, b) = (Echo::start("a").await?, Echo::start("b").await?);
    let gateway =
        spawn_gateway(|c| c.upstreams.events = vec![a.url.clone(), b.url.clone()]).await?;

    for _ in 0..10 {
        assert_eq!(gateway.get("/api/v1/events").await?.status(), 200);
    }
    assert_eq!((a.hits(), b.hits()), (5, 5), "round robin");

    b.stop();
    // Every request still succeeds: a refused connection ejects b and is retried on a.
    for _ in 0..10 {
        assert_eq!(gateway.get("/api/v1/events").await?.status(), 200);
    }
    assert_eq!(a.hits(), 15);
    let metrics = gateway.get("/metrics").await?.text().await?;
    let forwarded = metrics
        .lines()
        .find(|l| {
            l.starts_with("eventpost_gateway_upstream_requests_total") && l.contains(a.url.as_str())
        })
        .unwrap_or_default();
    assert!(
        forwarded.contains("status=\"200\"") && forwarded.ends_with(" 15"),
        "{metrics}"
    );
    gateway.stop();
    Ok(())
}

#[tokio::test]
async fn a_service_with_no_healthy_instance_is_a_503_and_readiness_says_so() -> anyhow::Result<()> {
    let gateway = spawn_gateway(|c| c.upstreams.events = vec![unreachable()]).await?;

    let response = gateway.get("/api/v1/events").await?;

    let body = problem(response, 503).await?;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("events")),
        "{body}"
    );
    until("readiness to fail", async || {
        gateway
            .get("/readyz")
            .await
            .is_ok_and(|r| r.status() == 503)
    })
    .await?;
    gateway.stop();
    Ok(())
}

#[tokio::test]
async fn a_slow_upstream_is_a_504() -> anyhow::Result<()> {
    let events = Echo::start("slow").await?;
    let gateway = spawn_gateway(|c| {
        c.upstreams.events = vec![events.url.clone()];
        c.limits.upstream_timeout = std::time::Duration::from_millis(200);
    })
    .await?;

    problem(gateway.get("/api/v1/events/slow").await?, 504).await?;
    gateway.stop();
    Ok(())
}

#[tokio::test]
async fn paths_that_could_escape_a_route_are_refused() -> anyhow::Result<()> {
    let events = Echo::start("events").await?;
    let gateway = spawn_gateway(|c| c.upstreams.events = vec![events.url.clone()]).await?;

    for path in [
        "/api/v1/events/../users/me",
        "/api/v1/events/%2e%2e/users/me",
        "/api/v1/events%2Fsaved",
        "/api/v1/events/a%5Cb",
    ] {
        assert_eq!(gateway.raw_get_status(path).await?, 400, "{path}");
    }
    problem(gateway.get("/api/v2/anything").await?, 404).await?;
    assert_eq!(events.hits(), 0);
    gateway.stop();
    Ok(())
}

#[tokio::test]
async fn the_users_service_is_reachable_through_the_gateway() -> anyhow::Result<()> {
    let users = Users::start().await?;
    let gateway = spawn_gateway(|c| trust(c, &users)).await?;

    let token = gateway.sign_up().await?;
    let me = gateway
        .client
        .get(gateway.url("/api/v1/users/me"))
        .bearer_auth(&token)
        .send()
        .await?;

    assert_eq!(me.status(), 200);
    let me: Value = me.json().await?;
    assert_eq!(me["roles"], serde_json::json!(["user"]));
    gateway.stop();
    users.cleanup().await
}

#[tokio::test]
async fn the_gateway_serves_health_readiness_problems_and_metrics() -> anyhow::Result<()> {
    let (users, events, notifications) = (
        Echo::start("u").await?,
        Echo::start("e").await?,
        Echo::start("n").await?,
    );
    let gateway = spawn_gateway(|c| {
        c.upstreams.users = vec![users.url.clone()];
        c.upstreams.events = vec![events.url.clone()];
        c.upstreams.notifications = vec![notifications.url.clone()];
    })
    .await?;
    common::testing::assert_serves_health(&gateway.address, "gateway", &["upstreams"]).await?;
    gateway.stop();
    Ok(())
}

#[tokio::test]
async fn an_upstream_that_answers_garbage_is_a_502() -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = url::Url::parse(&format!("http://{}/", listener.local_addr()?))?;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 1024];
            let read = socket.read(&mut request).await.unwrap_or(0);
            // Healthy to the poller, so the gateway keeps choosing it.
            let answer: &[u8] = if request[..read].starts_with(b"GET /readyz") {
                b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
            } else {
                b"this is not HTTP\r\n\r\n"
            };
            let _written = socket.write_all(answer).await;
        }
    });
    let gateway = spawn_gateway(|c| c.upstreams.events = vec![url]).await?;

    problem(gateway.get("/api/v1/events").await?, 502).await?;
    gateway.stop();
    Ok(())
}

#[tokio::test]
async fn a_service_whose_only_instance_fails_its_health_poll_is_still_tried() -> anyhow::Result<()>
{
    // An overloaded instance answers its readiness poll late or with 503, yet serves requests:
    // refusing them all would turn slowness into an outage.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = url::Url::parse(&format!("http://{}/", listener.local_addr()?))?;
    let app = poem::Route::new()
        .at(
            "/readyz",
            poem::get(poem::endpoint::make_sync(|_| {
                poem::http::StatusCode::SERVICE_UNAVAILABLE
            })),
        )
        .at("/*path", poem::endpoint::make_sync(|_| "served anyway"));
    tokio::spawn(
        poem::Server::new_with_acceptor(poem::listener::TcpAcceptor::from_tokio(listener)?)
            .run(app),
    );
    let gateway = spawn_gateway(|c| c.upstreams.events = vec![url]).await?;
    until("the instance to be marked unhealthy", async || {
        gateway
            .get("/readyz")
            .await
            .is_ok_and(|r| r.status() == 503)
    })
    .await?;

    let response = gateway.get("/api/v1/events").await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await?, "served anyway");
    gateway.stop();
    Ok(())
}
