//! Reminders written straight into the notifications database, as the API would store them:
//! the many waiting over the coming year, and those the measurements watch fall due.

use chrono::{DateTime, Duration, Utc};
use common::{
    domain::{EmailAddress, EventId, ReminderId, TimeZone, UserId},
    messages::EventSummary,
};
use futures::{StreamExt, TryStreamExt};
use mongodb::{Collection, Database, bson};
use notifications::{
    domain::{Minute, Status},
    store::{self, ReminderDoc},
};

/// Reminders written per insert.
const BATCH: usize = 5_000;

/// A scheduled reminder due at `send_at`, to `to`.
pub fn reminder(
    to: &str,
    send_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<ReminderDoc> {
    let event_id = EventId::new();
    let id = ReminderId::new();
    let written = bson::DateTime::from_chrono(now);
    Ok(ReminderDoc {
        id,
        user_id: UserId::new(),
        event_id,
        event: EventSummary {
            id: event_id,
            title: "Bench night".into(),
            starts_at: send_at + Duration::hours(1),
            ends_at: None,
            timezone: TimeZone::parse("Europe/Madrid")?,
            place: "Granada".into(),
            version: 1,
        },
        event_version: 1,
        to_email: EmailAddress::parse(to)?,
        subject: None,
        content: None,
        send_at: bson::DateTime::from_chrono(send_at),
        due_minute: Minute::to_look_in(send_at, now).number(),
        due_shard: Some(store::due_shard(id)),
        remind_before_minutes: None,
        wall_clock: None,
        status: Status::Scheduled,
        attempts: 0,
        lease_until: None,
        queued_in: None,
        sent_at: None,
        last_error: None,
        created_at: written,
        updated_at: written,
    })
}

/// Writes `count` reminders spread evenly from an hour to a year after `now`; returns the
/// seconds it took.
pub async fn fill(db: &Database, count: usize, now: DateTime<Utc>) -> anyhow::Result<f64> {
    let started = std::time::Instant::now();
    let reminders: Collection<ReminderDoc> = db.collection("reminders");
    let span = Duration::days(365) - Duration::hours(1);
    let step = span / i32::try_from(count.max(1)).unwrap_or(i32::MAX);
    futures::stream::iter((0..count).step_by(BATCH))
        .map(|first| {
            let reminders = reminders.clone();
            async move {
                let batch = (first..(first + BATCH).min(count))
                    .map(|i| {
                        let at = now + Duration::hours(1) + step * i32::try_from(i).unwrap_or(0);
                        reminder(&format!("waiting{i}@bench.example.com"), at, now)
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                reminders.insert_many(batch).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(2)
        .try_collect::<()>()
        .await?;
    Ok(started.elapsed().as_secs_f64())
}

/// Writes `reminders` at once.
pub async fn write(db: &Database, reminders: Vec<ReminderDoc>) -> anyhow::Result<()> {
    let collection: Collection<ReminderDoc> = db.collection("reminders");
    for batch in reminders.chunks(BATCH) {
        collection.insert_many(batch).await?;
    }
    Ok(())
}
