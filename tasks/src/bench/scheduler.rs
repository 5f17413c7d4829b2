//! How fast a scheduler process drains a burst of due reminders.

use std::time::Duration;

use anyhow::Context;

use super::services::{SCHEDULER_PORT, fresh_database, start};

/// Due reminders the scheduler drains.
pub const BURST: usize = 1000;

/// Seconds a scheduler process takes to claim and publish [`BURST`] reminders that are all due.
pub async fn drain() -> anyhow::Result<f64> {
    let db = fresh_database("bench_notifications").await?;
    let reminders = db.collection::<mongodb::bson::Document>("reminders");
    let due = mongodb::bson::DateTime::from_millis(
        mongodb::bson::DateTime::now().timestamp_millis() - 1000,
    );
    // Stored as the service stores them: the owner and the event's id as hex, the event's id
    // as an ObjectId.
    let (owner, event) = (
        mongodb::bson::oid::ObjectId::new(),
        mongodb::bson::oid::ObjectId::new(),
    );
    let burst: Vec<mongodb::bson::Document> = (0..BURST)
        .map(|i| {
            mongodb::bson::doc! {
                "user_id": owner.to_hex(), "event_id": event,
                "event": { "id": event.to_hex(), "title": format!("Bench {i}"), "starts_at": "2030-01-01T00:00:00Z",
                           "ends_at": null, "timezone": "Europe/Madrid", "place": "Granada" },
                "event_version": 1_i64, "to_email": format!("bench{i}@example.com"),
                "subject": null, "content": null, "send_at": due, "remind_before_minutes": null,
                "status": "scheduled", "attempts": 0_i64, "lease_until": null, "sent_at": null,
                "last_error": null, "created_at": due, "updated_at": due,
            }
        })
        .collect();
    reminders.insert_many(burst).await?;
    let started = std::time::Instant::now();
    let mut scheduler = start(
        "notifications",
        &[
            ("EVENTPOST_NOTIFICATIONS__ROLE", "scheduler".into()),
            (
                "EVENTPOST_NOTIFICATIONS__HTTP__PORT",
                SCHEDULER_PORT.to_string(),
            ),
            (
                "EVENTPOST_NOTIFICATIONS__MONGO__DATABASE",
                "bench_notifications".into(),
            ),
            ("EVENTPOST_NOTIFICATIONS__AMQP__PREFIX", "bench.".into()),
        ],
    )?;
    // A reminder is published once the broker's confirm is recorded on its claim.
    let claims = db.collection::<mongodb::bson::Document>("claims");
    let mut drained = None;
    for _ in 0..1200 {
        let published = claims
            .count_documents(mongodb::bson::doc! { "published": true })
            .await?;
        if published as usize == BURST {
            drained = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _already_gone = scheduler.kill().await;
    let drained = drained.context("the scheduler did not publish the burst within 2 minutes")?;
    common::testing::RabbitAdmin::local()
        .delete_prefixed("bench.")
        .await?;
    db.client().clone().shutdown().await;
    println!(
        "\nscheduler: {BURST} due reminders claimed and published in {:.1} s from process start ({:.0}/s)",
        drained.as_secs_f64(),
        BURST as f64 / drained.as_secs_f64()
    );
    Ok(drained.as_secs_f64())
}
