//! A new reminder from a request: every field parsed, the event looked up, the address checked
//! against the caller's verified ones, all errors reported at once.

use chrono::Utc;
use common::{
    ApiResult,
    domain::{EventId, ReminderId, UserId},
    problem::FieldErrors,
};
use mongodb::bson;

use super::{
    Ctx,
    bodies::ReminderIn,
    caller::{self, Recipient},
    timing::{Needed, Timing, When},
};
use crate::{
    domain::{Content, Minute, Status, Subject},
    store::{self, ReminderDoc, due_shard},
};

/// The reminder `body` asks for, to be stored as `id`, owned by `user_id` whose access token
/// is `token`.
pub async fn parse(
    ctx: &Ctx,
    id: ReminderId,
    user_id: UserId,
    token: &str,
    body: ReminderIn,
) -> ApiResult<ReminderDoc> {
    let now = Utc::now();
    let mut errors = FieldErrors::default();
    let event_id = errors.check("event_id", EventId::parse(&body.event_id));
    let when = When {
        send_at: body.send_at,
        remind_before_minutes: body.remind_before_minutes,
        wall_clock: body.wall_clock.as_ref(),
    };
    let timing = Timing::parse(when, Needed::Always, &mut errors);
    let recipient = Recipient::parse(body.to_email.as_deref(), &mut errors);
    let subject = body
        .subject
        .as_deref()
        .and_then(|raw| errors.check("subject", Subject::parse(raw)));
    let content = body
        .content
        .as_deref()
        .and_then(|raw| errors.check("content", Content::parse(raw)));
    let event = match event_id {
        Some(id) => ctx.services.event(id).await?,
        None => None,
    };
    if event_id.is_some() && event.is_none() {
        errors.add("event_id", "no such event");
    }
    let owner = ctx.services.owner(token).await?;
    let schedule = match (&event, timing) {
        (Some(event), Some(timing)) => {
            timing.schedule(event.starts_at.0, owner.zone, now, &mut errors)
        }
        _ => None,
    };
    let to_email = caller::verified_address(&owner.addresses, recipient, &mut errors);
    errors.result()?;
    let (Some(event_id), Some(event), Some((send_at, follows)), Some(to_email)) =
        (event_id, event, schedule, to_email)
    else {
        return Err(anyhow::anyhow!("a parsed field went missing").into());
    };
    let now = bson::DateTime::now();
    let (remind_before_minutes, wall_clock) = store::stored(follows, now);
    let reminder = ReminderDoc {
        id,
        user_id,
        event_id,
        event: event.summary(),
        event_version: event.version,
        to_email,
        subject: subject.map(Subject::into_inner),
        content: content.map(String::from),
        send_at: bson::DateTime::from_chrono(send_at),
        due_minute: Minute::to_look_in(send_at, now.to_chrono()).number(),
        due_shard: Some(due_shard(id)),
        remind_before_minutes,
        wall_clock,
        status: Status::Scheduled,
        attempts: 0,
        lease_until: None,
        queued_in: None,
        sent_at: None,
        last_error: None,
        created_at: now,
        updated_at: now,
    };
    Ok(reminder)
}
