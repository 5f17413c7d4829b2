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
    timing::{Needed, Timing},
};
use crate::{
    domain::{Content, Minute, Status, Subject},
    store::{ReminderDoc, due_shard},
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
    let timing = Timing::parse(
        body.send_at,
        body.remind_before_minutes,
        Needed::Always,
        &mut errors,
    );
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
    let send_at = match (&event, timing) {
        (Some(event), Some(timing)) => timing.send_at(event.starts_at.0, now, &mut errors),
        _ => None,
    };
    let addresses = ctx.services.addresses(token).await?;
    let to_email = caller::verified_address(&addresses, recipient, &mut errors);
    errors.result()?;
    let (Some(event_id), Some(event), Some(timing), Some(send_at), Some(to_email)) =
        (event_id, event, timing, send_at, to_email)
    else {
        return Err(anyhow::anyhow!("a parsed field went missing").into());
    };
    let now = bson::DateTime::now();
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
        remind_before_minutes: timing.minutes(),
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
