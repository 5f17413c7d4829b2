//! Saving events, listing them, recommendations, and forgetting deleted users and events.

use std::time::Duration;

use chrono::Utc;
use common::{
    amqp::Publisher,
    messages::{self, UserDeletedV1},
    testing,
    topology::{Exchange, Topology},
};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{GRANADA, TestApp, event_at, fields, problem, spawn_app, titles};

impl TestApp {
    async fn save(&self, token: &str, id: &str) -> anyhow::Result<StatusCode> {
        let path = format!("/api/v1/events/{id}/saved");
        Ok(self
            .send(Method::PUT, &path, Some(token), None, &[])
            .await?
            .status())
    }

    async fn unsave(&self, token: &str, id: &str) -> anyhow::Result<StatusCode> {
        let path = format!("/api/v1/events/{id}/saved");
        Ok(self
            .send(Method::DELETE, &path, Some(token), None, &[])
            .await?
            .status())
    }

    async fn list(&self, token: &str, what: &str, query: &str) -> anyhow::Result<Value> {
        let path = format!("/api/v1/events/{what}?{query}");
        let response = self
            .send(Method::GET, &path, Some(token), None, &[])
            .await?;
        assert_eq!(response.status(), StatusCode::OK);
        Ok(response.json().await?)
    }

    async fn id_of(&self, title: &str, days: i64, topics: &[&str]) -> anyhow::Result<String> {
        let event = self
            .create_event(&event_at(title, days, GRANADA, topics))
            .await?;
        Ok(event["id"].as_str().unwrap_or_default().to_owned())
    }
}

#[tokio::test]
async fn saving_is_idempotent_and_lists_latest_first_page_by_page() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (_, me) = app.user(&[])?;
    let (_, someone_else) = app.user(&[])?;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(app.id_of(&format!("Saved {i}"), 1 + i, &[]).await?);
    }
    for id in &ids {
        assert_eq!(app.save(&me, id).await?, StatusCode::NO_CONTENT);
    }
    assert_eq!(
        app.save(&me, &ids[0]).await?,
        StatusCode::NO_CONTENT,
        "again"
    );

    let first = app.list(&me, "saved", "limit=2").await?;
    assert_eq!(titles(&first), ["Saved 2", "Saved 1"]);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = app
        .list(&me, "saved", &format!("limit=2&cursor={cursor}"))
        .await?;
    assert_eq!(titles(&second), ["Saved 0"]);
    assert!(second["next_cursor"].is_null());
    assert!(titles(&app.list(&someone_else, "saved", "").await?).is_empty());

    assert_eq!(app.unsave(&me, &ids[1]).await?, StatusCode::NO_CONTENT);
    assert_eq!(
        app.unsave(&me, &ids[1]).await?,
        StatusCode::NO_CONTENT,
        "again"
    );
    assert_eq!(
        titles(&app.list(&me, "saved", "").await?),
        ["Saved 2", "Saved 0"]
    );
    app.cleanup().await
}

#[tokio::test]
async fn saving_needs_a_token_and_an_existing_event() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (_, me) = app.user(&[])?;
    assert_eq!(
        app.save(&me, "65f1c0ffee0000000000abcd").await?,
        StatusCode::NOT_FOUND
    );
    let anonymous = app
        .send(Method::GET, "/api/v1/events/saved", None, None, &[])
        .await?;
    problem(anonymous, StatusCode::UNAUTHORIZED).await?;
    let bad_cursor = app
        .send(
            Method::GET,
            "/api/v1/events/saved?cursor=xyz",
            Some(&me),
            None,
            &[],
        )
        .await?;
    assert_eq!(
        fields(&problem(bad_cursor, StatusCode::BAD_REQUEST).await?),
        ["cursor"]
    );
    app.cleanup().await
}

#[tokio::test]
async fn recommendations_follow_profile_interests_and_saved_topics() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let liked = app.id_of("Liked flamenco", 1, &["flamenco"]).await?;
    app.id_of("Another flamenco", 2, &["flamenco"]).await?;
    app.id_of("A jazz jam", 3, &["jazz"]).await?;
    app.id_of("A rust meetup", 4, &["rust"]).await?;
    app.id_of("Past jazz", -3, &["jazz"]).await?;

    let (_, newcomer) = app.user(&[])?;
    assert!(titles(&app.list(&newcomer, "recommended", "").await?).is_empty());

    let (_, me) = app.user(&["jazz"])?;
    assert_eq!(
        titles(&app.list(&me, "recommended", "").await?),
        ["A jazz jam"]
    );
    app.save(&me, &liked).await?;
    let page = app.list(&me, "recommended", "limit=1").await?;
    assert_eq!(
        titles(&page),
        ["Another flamenco"],
        "saved topics count; saved events do not"
    );
    let cursor = page["next_cursor"].as_str().expect("more");
    let rest = app
        .list(&me, "recommended", &format!("cursor={cursor}"))
        .await?;
    assert_eq!(titles(&rest), ["A jazz jam"]);
    app.cleanup().await
}

#[tokio::test]
async fn a_deleted_user_and_a_deleted_event_leave_no_saves_behind() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (me_id, me) = app.user(&[])?;
    let (_, other) = app.user(&[])?;
    let kept = app.id_of("Kept", 1, &[]).await?;
    let doomed = app.id_of("Doomed", 2, &[]).await?;
    for token in [&me, &other] {
        app.save(token, &kept).await?;
        app.save(token, &doomed).await?;
    }

    assert_eq!(
        app.delete_event(&doomed).await?.status(),
        StatusCode::NO_CONTENT
    );
    testing::eventually(
        Duration::from_secs(10),
        "saves of the deleted event gone",
        || async {
            let saved: u64 = app
                .db
                .collection::<Value>("saved")
                .count_documents(mongodb::bson::doc! {})
                .await?;
            Ok((saved == 2).then_some(()))
        },
    )
    .await?;
    assert_eq!(titles(&app.list(&other, "saved", "").await?), ["Kept"]);

    let domain = Topology::new(&app.prefix).exchange(Exchange::Domain);
    let publisher = Publisher::new(&app.amqp, &domain, Duration::from_secs(5)).await?;
    let deleted = UserDeletedV1 {
        user_id: common::domain::UserId::parse(&me_id)?,
        deleted_at: Utc::now(),
    };
    publisher
        .publish(
            messages::USER_DELETED_V1,
            &format!("user-deleted-{me_id}"),
            &deleted,
        )
        .await?;
    testing::eventually(
        Duration::from_secs(10),
        "the deleted user's saves gone",
        || async {
            let mine = app
                .db
                .collection::<Value>("saved")
                .count_documents(mongodb::bson::doc! { "user_id": &me_id })
                .await?;
            Ok((mine == 0).then_some(()))
        },
    )
    .await?;
    assert_eq!(titles(&app.list(&other, "saved", "").await?), ["Kept"]);
    app.cleanup().await
}

#[tokio::test]
async fn saving_and_unsaving_are_announced_once_each_with_the_event() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let observer = app.observe_changes().await?;
    let (user_id, token) = app.user(&[])?;
    let event = app.id_of("Announced", 5, &["jazz"]).await?;

    assert_eq!(app.save(&token, &event).await?, StatusCode::NO_CONTENT);
    assert_eq!(app.save(&token, &event).await?, StatusCode::NO_CONTENT);
    let (key, saved) = observer.next().await?;
    assert_eq!(key, messages::EVENT_SAVE_CHANGED_V1);
    let saved: messages::EventSaveChangedV1 = serde_json::from_value(saved)?;
    assert_eq!(
        (
            saved.user_id.to_string(),
            saved.event_id.to_string(),
            saved.saved
        ),
        (user_id.clone(), event.clone(), true)
    );
    assert_eq!(saved.event.map(|e| e.title).as_deref(), Some("Announced"));

    assert_eq!(app.unsave(&token, &event).await?, StatusCode::NO_CONTENT);
    let (key, unsaved) = observer.next().await?;
    assert_eq!(key, messages::EVENT_SAVE_CHANGED_V1);
    let unsaved: messages::EventSaveChangedV1 = serde_json::from_value(unsaved)?;
    assert!(!unsaved.saved && unsaved.event.is_none(), "{unsaved:?}");
    assert!(unsaved.changed_at > saved.changed_at);
    assert!(
        observer.is_empty().await?,
        "saving twice was announced once"
    );
    let listed = app.list(&token, "saved", "").await?;
    assert!(titles(&listed).is_empty(), "{listed}");
    app.cleanup().await
}
