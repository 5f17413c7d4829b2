//! Several instances, each serving from its own catalogue: what one writes, the writer reads at
//! once and every other shows soon after; one started later loads everything before it serves.

use std::time::Duration;

use common::testing;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{GRANADA, MADRID, Replica, event_at, spawn_app, titles};

/// How long another instance may take to show a change here (the target is 1 s at p99;
/// `cargo task bench` measures it, tests only need it to happen).
const PROPAGATES_WITHIN: Duration = Duration::from_secs(10);

/// The event `id` as `replica` serves it, once `ready` says it is what the test waits for.
async fn on_replica(
    replica: &Replica,
    id: &str,
    what: &str,
    ready: impl Fn(StatusCode, &Value) -> bool,
) -> anyhow::Result<Value> {
    testing::eventually(PROPAGATES_WITHIN, what, || async {
        let response = replica.get(&format!("/api/v1/events/{id}")).await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        Ok(ready(status, &body).then_some(body))
    })
    .await
}

#[tokio::test]
async fn a_write_shows_at_once_where_it_was_made_and_soon_on_every_other_instance()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    let replica = app.replica().await?;

    let created = app
        .create_event(&event_at("Everywhere", 3, GRANADA, &["jazz"]))
        .await?;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        app.get_event(&id, &[]).await?.status(),
        StatusCode::OK,
        "the writer reads its write"
    );
    on_replica(&replica, &id, "the creation on the replica", |status, _| {
        status == StatusCode::OK
    })
    .await?;

    let mut moved = event_at("Everywhere, moved", 4, MADRID, &["jazz"]);
    moved["description"] = "Moved to Madrid".into();
    let replaced = app.put_event(&id, &moved, Some("\"1\"")).await?;
    assert_eq!(replaced.status(), StatusCode::OK);
    let now: Value = app.get_event(&id, &[]).await?.json().await?;
    assert_eq!(now["version"], 2, "the writer reads its replacement");
    on_replica(
        &replica,
        &id,
        "the replacement on the replica",
        |_, body| body["version"] == 2 && body["title"] == "Everywhere, moved",
    )
    .await?;

    assert_eq!(
        app.delete_event(&id).await?.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_event(&id, &[]).await?.status(),
        StatusCode::NOT_FOUND
    );
    on_replica(&replica, &id, "the deletion on the replica", |status, _| {
        status == StatusCode::NOT_FOUND
    })
    .await?;
    replica.stop().await?;
    app.cleanup().await
}

#[tokio::test]
async fn an_instance_started_later_serves_the_whole_catalogue_from_its_first_request()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    for (title, days) in [("First", 1), ("Second", 2), ("Third", 3)] {
        app.create_event(&event_at(title, days, GRANADA, &[]))
            .await?;
    }

    let late = app.replica().await?;
    let page: Value = late.get("/api/v1/events").await?.json().await?;

    assert_eq!(titles(&page), ["First", "Second", "Third"]);
    late.stop().await?;
    app.cleanup().await
}
