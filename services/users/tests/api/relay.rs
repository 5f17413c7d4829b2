use std::time::Duration;

use common::{config::MongoConfig, testing};
use mongodb::bson::{self, doc, oid::ObjectId};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, unique_email};

impl TestApp {
    /// Takes mail requests off the queue until one to `to` arrives.
    async fn mail_to(&self, to: &str) -> anyhow::Result<common::messages::EmailRequestedV1> {
        loop {
            let mail = self.next_email().await?;
            if mail.to.as_str() == to {
                return Ok(mail);
            }
        }
    }

    async fn outbox_entry(&self, id: &str) -> anyhow::Result<Option<mongodb::bson::Document>> {
        Ok(self
            .db
            .collection::<mongodb::bson::Document>("outbox")
            .find_one(doc! { "_id": id })
            .await?)
    }
}

#[tokio::test]
async fn a_mail_the_relay_publishes_carries_the_id_of_the_request_that_queued_it()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    let email = unique_email("traced");
    let registered = app
        .client
        .post(app.url("/api/v1/users"))
        .header("x-request-id", "trace-registration-1")
        .json(&serde_json::json!({ "email": email, "password": crate::helpers::PASSWORD }))
        .send()
        .await?;
    assert_eq!(registered.status(), 201);

    let queue = app.topology().queue(common::topology::Queue::Emails);
    let delivery = app.next_delivery(&queue).await?;
    let mail: common::messages::EmailRequestedV1 = serde_json::from_slice(&delivery.data)?;
    assert_eq!(mail.to.as_str(), email);
    let request_id = delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get("x-request-id").cloned());
    assert_eq!(
        request_id,
        Some(lapin::types::AMQPValue::LongString(
            "trace-registration-1".into()
        ))
    );
    app.cleanup().await
}

#[tokio::test]
async fn a_message_that_cannot_be_published_is_parked_counted_and_replayable() -> anyhow::Result<()>
{
    let app = spawn_app().await?;
    let first = unique_email("first");
    let registered: Value = app.register(&first).await?.json().await?;
    let user_id = ObjectId::parse_str(registered["id"].as_str().unwrap_or_default())?;
    app.mail_to(&first).await?;
    // What an older writer or a bug could have left: a body that is not JSON.
    app.db
        .collection::<mongodb::bson::Document>("outbox")
        .insert_one(doc! {
            "_id": "broken", "user_id": user_id, "exchange": "email",
            "routing_key": "email.requested.v1", "body": "{not json",
            "created_at": bson::DateTime::now(),
        })
        .await?;

    let second = unique_email("second");
    assert_eq!(app.register(&second).await?.status(), 201);
    app.mail_to(&second).await?;
    let parked = testing::eventually(Duration::from_secs(10), "the entry parked", || async {
        Ok(app
            .outbox_entry("broken")
            .await?
            .filter(|entry| entry.get_bool("parked").unwrap_or(false)))
    })
    .await?;
    assert!(
        parked.get_str("park_reason")?.contains("not JSON"),
        "{parked}"
    );
    let metrics = app.get("/metrics", None).await?.text().await?;
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("eventpost_relay_parked_total") && line.ends_with(" 1")),
        "{metrics}"
    );

    // Once the cause is fixed, a replay publishes it.
    let fixed = serde_json::json!({
        "to": first, "content": { "kind": "welcome", "display_name": null },
        "requested_at": "2026-12-01T10:00:00Z",
    });
    app.db
        .collection::<mongodb::bson::Document>("outbox")
        .update_one(
            doc! { "_id": "broken" },
            doc! { "$set": { "body": fixed.to_string() } },
        )
        .await?;
    let store = users::store::Store::open(&app.db, MongoConfig::local("-").deadline()).await?;
    assert_eq!(store.unpark_messages().await?, 1);
    app.mail_to(&first).await?;
    testing::eventually(Duration::from_secs(10), "the entry published", || async {
        Ok(app.outbox_entry("broken").await?.is_none().then_some(()))
    })
    .await?;
    app.cleanup().await
}
