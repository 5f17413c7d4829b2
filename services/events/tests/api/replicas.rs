//! Several instances, each serving from its own catalogue: what one writes, the writer reads at
//! once and every other shows soon after; one started later loads everything before it serves.

use std::time::Duration;

use common::testing::{self, RabbitAdmin};
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

/// How many catch-ups `replica` made reading `from` (`log` or `reload`).
async fn catch_ups(replica: &Replica, from: &str) -> anyhow::Result<u64> {
    let metrics = replica.get("/metrics").await?.text().await?;
    let series = format!("eventpost_catalogue_catch_ups_total{{from=\"{from}\"");
    Ok(metrics
        .lines()
        .find(|line| line.starts_with(&series))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0))
}

#[tokio::test]
async fn after_losing_the_broker_an_instance_catches_up_from_the_version_log() -> anyhow::Result<()>
{
    use events::{
        api::EventIn,
        store::{Change, EventDoc, VersionDoc},
    };
    let app = spawn_app().await?;
    let replica = app.replica().await?;
    // A change whose message went out while the replica's queue was gone, as far as the
    // replica can tell: applied, announced (to nobody still listening), and in the log.
    let body: EventIn = serde_json::from_value(event_at("Missed", 3, GRANADA, &["jazz"]))?;
    let draft = body.parse().map_err(|err| anyhow::anyhow!("{err:?}"))?;
    let id = common::domain::EventId::new();
    let event = draft.into_doc(id, 1, mongodb::bson::DateTime::now());
    app.db
        .collection::<EventDoc>("events")
        .insert_one(&event)
        .await?;
    let mut version = VersionDoc::new(Change::Created, id, 1, Some(event), None);
    (version.relayed, version.relayed_at) = (true, Some(mongodb::bson::DateTime::now()));
    app.db
        .collection::<VersionDoc>("event_versions")
        .insert_one(&version)
        .await?;
    let path = format!("/api/v1/events/{id}");
    assert_eq!(
        replica.get(&path).await?.status(),
        StatusCode::NOT_FOUND,
        "no message told the replica"
    );

    // The broker lists a connection only once its statistics come in (every few seconds).
    let connection = format!("{}{}", app.prefix, events::SERVICE);
    let closed = std::sync::atomic::AtomicUsize::new(0);
    testing::eventually(
        Duration::from_secs(15),
        "both instances' connections closed",
        || async {
            let now = RabbitAdmin::local()
                .close_connections_named(&connection)
                .await?;
            let total = closed.fetch_add(now, std::sync::atomic::Ordering::SeqCst) + now;
            Ok((total >= 2).then_some(()))
        },
    )
    .await?;

    on_replica(
        &replica,
        &id.to_string(),
        "the missed creation",
        |status, _| status == StatusCode::OK,
    )
    .await?;
    assert_eq!(catch_ups(&replica, "log").await?, 1);
    assert_eq!(catch_ups(&replica, "reload").await?, 0, "no reload needed");
    replica.stop().await?;
    app.cleanup().await
}
