//! The client's address: the peer with nothing trusted in front of the gateway, the first
//! untrusted hop of `X-Forwarded-For` behind trusted proxies, and in either case handed to the
//! service in a header no client can set; and whether the client came over TLS, believed from
//! a trusted proxy alone.

use common::client_address::TrustedProxies;
use serde_json::Value;

use crate::helpers::{Echo, problem, spawn_gateway};

#[tokio::test]
async fn with_nothing_trusted_in_front_the_peer_is_the_client_whatever_it_claims()
-> anyhow::Result<()> {
    let events = Echo::start("events").await?;
    let gateway = spawn_gateway(|c| c.upstreams.events = vec![events.url.clone()]).await?;

    let seen: Value = gateway
        .client
        .get(gateway.url("/api/v1/events"))
        .header("x-forwarded-for", "203.0.113.66")
        .header("x-client-address", "203.0.113.77")
        .send()
        .await?
        .json()
        .await?;

    assert_eq!(seen["headers"]["x-client-address"], "127.0.0.1");
    assert_eq!(
        seen["headers"]["x-forwarded-for"],
        "203.0.113.66, 127.0.0.1"
    );
    gateway.stop();
    Ok(())
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_it_forwards_for_has_its_own_login_limit()
-> anyhow::Result<()> {
    let users = Echo::start("users").await?;
    let gateway = spawn_gateway(|c| {
        c.upstreams.users = vec![users.url.clone()];
        c.limits.token_per_client_per_minute = 1;
        // The tests' requests come from loopback: it stands for a load balancer here.
        c.trusted_proxies = TrustedProxies::loopback();
    })
    .await?;
    let login_from = |forwarded_for: &'static str| {
        gateway
            .client
            .post(gateway.url("/api/v1/auth/token"))
            .header("x-forwarded-for", forwarded_for)
            .json(&serde_json::json!({ "email": "a@example.com", "password": "whatever!" }))
            .send()
    };

    // What the client wrote first is not believed: the balancer appended what it saw.
    let first: Value = login_from("203.0.113.66, 198.51.100.7")
        .await?
        .json()
        .await?;
    assert_eq!(first["headers"]["x-client-address"], "198.51.100.7");
    let other: Value = login_from("198.51.100.8").await?.json().await?;
    assert_eq!(other["headers"]["x-client-address"], "198.51.100.8");
    // The first client again, however it disguises the start of the header: limited.
    problem(login_from("192.0.2.1, 198.51.100.7").await?, 429).await?;
    assert_eq!(users.hits(), 2);
    gateway.stop();
    Ok(())
}

#[tokio::test]
async fn https_is_believed_from_a_trusted_proxy_alone_and_answered_with_hsts() -> anyhow::Result<()>
{
    let events = Echo::start("events").await?;
    for (trusted, over_tls) in [(true, true), (false, false)] {
        let gateway = spawn_gateway(|c| {
            c.upstreams.events = vec![events.url.clone()];
            if trusted {
                c.trusted_proxies = TrustedProxies::loopback();
            }
        })
        .await?;
        let asked_over = |proto: Option<&'static str>| {
            let mut request = gateway.client.get(gateway.url("/api/v1/events"));
            if let Some(proto) = proto {
                request = request.header("x-forwarded-proto", proto);
            }
            request.send()
        };

        let answer = asked_over(Some("https")).await?;
        let hsts = answer
            .headers()
            .get("strict-transport-security")
            .map(|value| value.to_str().unwrap_or_default().to_owned());
        let seen: Value = answer.json().await?;
        if over_tls {
            assert_eq!(hsts.as_deref(), Some("max-age=63072000; includeSubDomains"));
            assert_eq!(seen["headers"]["x-forwarded-proto"], "https");
        } else {
            assert_eq!(hsts, None, "a client's word is not taken");
            assert_eq!(seen["headers"]["x-forwarded-proto"], "http");
        }

        // Plain HTTP, even from the proxy: no HSTS (browsers ignore it there anyway).
        let plain = asked_over(None).await?;
        assert!(plain.headers().get("strict-transport-security").is_none());
        let seen: Value = plain.json().await?;
        assert_eq!(seen["headers"]["x-forwarded-proto"], "http");
        gateway.stop();
    }
    Ok(())
}
