//! Creating, reading, replacing and deleting events; who may; versions and what is announced.

use std::time::Duration;

use common::testing;
use mongodb::bson::doc;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{GRANADA, MADRID, TestApp, event_at, fields, instant, problem, spawn_app};

#[tokio::test]
async fn an_admin_creates_an_event_that_anyone_can_read_with_an_etag() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let response = app
        .post_event(&event_at("Jazz night", 3, GRANADA, &["jazz"]), &app.admin)
        .await?;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str()?.to_owned();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let created: serde_json::Value = response.json().await?;
    assert_eq!(
        location,
        format!("/api/v1/events/{}", created["id"].as_str().unwrap())
    );
    assert_eq!(created["version"], 1);
    assert_eq!(created["topics"], json!(["jazz"]));
    assert_eq!(created["place"]["lat"], GRANADA.0);
    assert!(created["starts_at"].as_str().unwrap().ends_with('Z'));

    let read = app.send(Method::GET, &location, None, None, &[]).await?;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.headers()["etag"], "\"1\"");
    let read: serde_json::Value = read.json().await?;
    assert_eq!(read["title"], "Jazz night");
    assert_eq!(read["description"], created["description"]);
    app.cleanup().await
}

#[tokio::test]
async fn a_user_may_not_change_the_catalogue_and_nobody_may_without_a_token() -> anyhow::Result<()>
{
    let app = spawn_app().await?;
    let (_, user) = app.user(&[])?;
    let body = event_at("Not allowed", 3, GRANADA, &[]);
    let forbidden = problem(app.post_event(&body, &user).await?, StatusCode::FORBIDDEN).await?;
    assert!(
        forbidden["detail"]
            .as_str()
            .unwrap()
            .contains("administrators")
    );
    let anonymous = app
        .send(Method::POST, "/api/v1/events", None, Some(&body), &[])
        .await?;
    assert_eq!(
        anonymous.headers()["www-authenticate"]
            .to_str()?
            .to_lowercase(),
        "bearer"
    );
    problem(anonymous, StatusCode::UNAUTHORIZED).await?;

    let event = app.create_event(&body).await?;
    let id = event["id"].as_str().unwrap();
    let path = format!("/api/v1/events/{id}");
    let put = app
        .send(Method::PUT, &path, Some(&user), Some(&body), &[])
        .await?;
    problem(put, StatusCode::FORBIDDEN).await?;
    let delete = app
        .send(Method::DELETE, &path, Some(&user), None, &[])
        .await?;
    problem(delete, StatusCode::FORBIDDEN).await?;
    assert_eq!(app.get_event(id, &[]).await?.status(), StatusCode::OK);
    app.cleanup().await
}

#[tokio::test]
async fn invalid_events_are_refused_naming_every_bad_field() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let mut body = event_at("x", 3, GRANADA, &["Not A Slug"]);
    body["title"] = json!("   ");
    body["ends_at"] = body["starts_at"].clone();
    body["timezone"] = json!("Mars/Olympus");
    body["place"]["lat"] = json!(91.0);
    let refused = problem(
        app.post_event(&body, &app.admin).await?,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await?;
    assert_eq!(
        fields(&refused),
        ["title", "ends_at", "timezone", "place.lat", "topics[0]"]
    );

    let mut wrong_type = event_at("Typed", 3, GRANADA, &[]);
    wrong_type["place"]["lon"] = json!("west");
    let malformed = problem(
        app.post_event(&wrong_type, &app.admin).await?,
        StatusCode::BAD_REQUEST,
    )
    .await?;
    assert_eq!(fields(&malformed), ["place.lon"]);

    let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    let mut too_many = event_at("Topics", 3, GRANADA, &[]);
    too_many["topics"] = json!(eleven);
    let refused = app.post_event(&too_many, &app.admin).await?;
    let refused = problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await?;
    assert_eq!(fields(&refused), ["topics"]);
    assert_eq!(
        refused["errors"][0]["message"],
        "must have at most 10 items"
    );

    let (page, _) = app.search_titles("").await?;
    assert!(page.is_empty(), "nothing was stored: {page:?}");
    app.cleanup().await
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_not_found() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    for id in ["65f1c0ffee0000000000abcd", "not-an-id"] {
        let missing = problem(app.get_event(id, &[]).await?, StatusCode::NOT_FOUND).await?;
        assert_eq!(missing["detail"], "no such event");
        let body = event_at("Ghost", 3, GRANADA, &[]);
        problem(app.put_event(id, &body, None).await?, StatusCode::NOT_FOUND).await?;
        problem(app.delete_event(id).await?, StatusCode::NOT_FOUND).await?;
    }
    app.cleanup().await
}

#[tokio::test]
async fn a_conditional_get_of_an_unchanged_event_is_304() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let event = app
        .create_event(&event_at("Cached", 3, GRANADA, &[]))
        .await?;
    let id = event["id"].as_str().unwrap();
    let unchanged = app.get_event(id, &[("if-none-match", "\"1\"")]).await?;
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.headers()["etag"], "\"1\"");
    assert!(unchanged.bytes().await?.is_empty());

    let moved = app
        .put_event(
            id,
            &event_at("Cached, moved", 4, MADRID, &[]),
            Some("\"1\""),
        )
        .await?;
    assert_eq!(moved.headers()["etag"], "\"2\"");
    let changed = app.get_event(id, &[("if-none-match", "\"1\"")]).await?;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(changed.headers()["etag"], "\"2\"");
    let changed: serde_json::Value = changed.json().await?;
    assert_eq!(changed["title"], "Cached, moved");
    assert_eq!(changed["created_at"], event["created_at"]);
    app.cleanup().await
}

#[tokio::test]
async fn a_replace_with_a_stale_if_match_is_412_and_changes_nothing() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let event = app
        .create_event(&event_at("Original", 3, GRANADA, &[]))
        .await?;
    let id = event["id"].as_str().unwrap();
    let first = app
        .put_event(id, &event_at("First edit", 3, GRANADA, &[]), Some("\"1\""))
        .await?;
    assert_eq!(first.status(), StatusCode::OK);
    let stale = app
        .put_event(id, &event_at("Lost edit", 3, GRANADA, &[]), Some("\"1\""))
        .await?;
    let refused = problem(stale, StatusCode::PRECONDITION_FAILED).await?;
    assert!(refused["detail"].as_str().unwrap().contains("version 2"));
    let now: serde_json::Value = app.get_event(id, &[]).await?.json().await?;
    assert_eq!(
        (now["title"].as_str(), now["version"].as_i64()),
        (Some("First edit"), Some(2))
    );
    app.cleanup().await
}

/// Two replaces of event `id` at once, both from `if_match`; their statuses, sorted.
async fn race_two_replaces(
    app: &TestApp,
    id: &str,
    if_match: &str,
) -> anyhow::Result<[StatusCode; 2]> {
    let (left, right) = (
        event_at("Left", 3, GRANADA, &[]),
        event_at("Right", 3, GRANADA, &[]),
    );
    let (left, right) = tokio::join!(
        app.put_event(id, &left, Some(if_match)),
        app.put_event(id, &right, Some(if_match)),
    );
    let mut statuses = [left?.status(), right?.status()];
    statuses.sort();
    Ok(statuses)
}

#[tokio::test]
async fn of_two_concurrent_replaces_from_one_version_exactly_one_wins() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    for round in 0..5 {
        let event = app
            .create_event(&event_at(&format!("Race {round}"), 3, GRANADA, &[]))
            .await?;
        let id = event["id"].as_str().unwrap();
        assert_eq!(
            race_two_replaces(&app, id, "\"1\"").await?,
            [StatusCode::OK, StatusCode::PRECONDITION_FAILED],
            "round {round}"
        );
        let now: serde_json::Value = app.get_event(id, &[]).await?.json().await?;
        assert_eq!(now["version"], 2);
    }
    app.cleanup().await
}

#[tokio::test]
async fn replacing_announces_the_old_and_new_start_and_deleting_announces_the_deletion()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    let observer = app.observe_changes().await?;
    let event = app
        .create_event(&event_at("Moving", 3, GRANADA, &[]))
        .await?;
    let id = event["id"].as_str().unwrap();
    let moved: serde_json::Value = app
        .put_event(id, &event_at("Moving", 5, GRANADA, &[]), Some("\"1\""))
        .await?
        .json()
        .await?;

    let (key, updated) = observer.next().await?;
    assert_eq!(key, "event.updated.v1");
    assert_eq!(updated["event"]["id"], id);
    assert_eq!(updated["event"]["title"], "Moving");
    assert_eq!(updated["event"]["place"], "Plaza, Calle Mayor 1");
    assert_eq!(updated["version"], 2);
    assert_eq!(
        instant(&updated["previous_starts_at"]),
        instant(&event["starts_at"])
    );
    assert_eq!(
        instant(&updated["event"]["starts_at"]),
        instant(&moved["starts_at"])
    );

    assert_eq!(app.delete_event(id).await?.status(), StatusCode::NO_CONTENT);
    let (key, deleted) = observer.next().await?;
    assert_eq!(key, "event.deleted.v1");
    assert_eq!(deleted["event_id"], id);
    problem(app.get_event(id, &[]).await?, StatusCode::NOT_FOUND).await?;
    app.cleanup().await
}

#[tokio::test]
async fn a_change_whose_writer_died_before_applying_it_is_rolled_forward() -> anyhow::Result<()> {
    use events::store::{Change, VersionDoc};
    let app = spawn_app().await?;
    let observer = app.observe_changes().await?;
    let event = app
        .create_event(&event_at("Half done", 3, GRANADA, &[]))
        .await?;
    let id = common::domain::EventId::parse(event["id"].as_str().unwrap())?;
    let current = app.store.event(id).await?.expect("just created");
    let mut next = current.clone();
    next.version = 2;
    next.starts_at =
        mongodb::bson::DateTime::from_millis(current.starts_at.timestamp_millis() + 3_600_000);
    // The version is recorded, as a writer that then crashed would have left it, long enough ago.
    let mut version = VersionDoc::new(Change::Updated, id, 2, Some(next), Some(current.starts_at));
    version.at = mongodb::bson::DateTime::from_millis(version.at.timestamp_millis() - 60_000);
    app.db
        .collection::<VersionDoc>("event_versions")
        .insert_one(&version)
        .await?;

    let (key, updated) = observer.next().await?;
    assert_eq!(
        (key.as_str(), updated["version"].as_i64()),
        ("event.updated.v1", Some(2))
    );
    // Every instance hears of it too (v2), this one included.
    testing::eventually(Duration::from_secs(10), "version 2 served", || async {
        let now: serde_json::Value = app.get_event(&id.to_string(), &[]).await?.json().await?;
        Ok((now["version"] == 2).then_some(()))
    })
    .await?;
    app.cleanup().await
}

#[tokio::test]
async fn pruning_announced_versions_keeps_concurrent_replaces_apart() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let observer = app.observe_changes().await?;
    let event = app
        .create_event(&event_at("Pruned", 3, GRANADA, &[]))
        .await?;
    let id = event["id"].as_str().unwrap();
    let edited = app
        .put_event(
            id,
            &event_at("Pruned, edited", 3, GRANADA, &[]),
            Some("\"1\""),
        )
        .await?;
    assert_eq!(edited.status(), StatusCode::OK);
    observer.next().await?;

    let versions = app
        .db
        .collection::<mongodb::bson::Document>("event_versions");
    common::testing::eventually(
        Duration::from_secs(10),
        "both versions announced",
        || async {
            let announced = versions.count_documents(doc! { "relayed": true }).await?;
            Ok((announced == 2).then_some(()))
        },
    )
    .await?;
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    assert_eq!(app.store.prune_versions(later).await?, 2);
    assert_eq!(versions.count_documents(doc! {}).await?, 0);

    let stale = app
        .put_event(id, &event_at("Stale", 3, GRANADA, &[]), Some("\"1\""))
        .await?;
    problem(stale, StatusCode::PRECONDITION_FAILED).await?;
    assert_eq!(
        race_two_replaces(&app, id, "\"2\"").await?,
        [StatusCode::OK, StatusCode::PRECONDITION_FAILED]
    );
    let now: serde_json::Value = app.get_event(id, &[]).await?.json().await?;
    assert_eq!(now["version"], 3);
    app.cleanup().await
}

#[tokio::test]
async fn a_change_the_relay_announces_carries_the_id_of_the_request_that_made_it()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    let observer = app.observe_changes().await?;
    let event = app
        .create_event(&event_at("Traced", 3, GRANADA, &[]))
        .await?;
    let id = event["id"].as_str().unwrap_or_default();
    let deleted = app
        .send(
            Method::DELETE,
            &format!("/api/v1/events/{id}"),
            Some(&app.admin),
            None,
            &[("x-request-id", "trace-deletion-1")],
        )
        .await?;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let (key, body, request_id) = observer.next_traced().await?;
    assert_eq!(key, "event.deleted.v1");
    assert_eq!(body["event_id"], id);
    assert_eq!(request_id.as_deref(), Some("trace-deletion-1"));
    app.cleanup().await
}

#[tokio::test]
async fn an_event_created_again_with_its_idempotency_key_is_the_first_one() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let body = event_at("Once only", 3, GRANADA, &[]);
    let key = [("Idempotency-Key", "event-1")];
    let post = || {
        app.send(
            Method::POST,
            "/api/v1/events",
            Some(&app.admin),
            Some(&body),
            &key,
        )
    };
    let first: serde_json::Value = post().await?.json().await?;
    let replayed = post().await?;
    assert_eq!(replayed.status(), StatusCode::CREATED);
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(replayed.headers()["etag"], "\"1\"");
    assert_eq!(replayed.json::<serde_json::Value>().await?, first);

    // The first answer lost to a 503 after the event was stored: the key keeps its reserved id
    // and no answer, and the retry finds the event rather than adding a second.
    common::idempotency::forget_answers(&app.db, chrono::Utc::now()).await?;
    let rerun = post().await?;
    assert_eq!(rerun.status(), StatusCode::CREATED);
    assert!(rerun.headers().get("idempotent-replayed").is_none());
    assert_eq!(rerun.json::<serde_json::Value>().await?["id"], first["id"]);
    let (titles, _) = app.search_titles("").await?;
    assert_eq!(titles, ["Once only"]);
    app.cleanup().await
}
