//! `/api/v1/notifications`: a user's reminders.

use chrono::Utc;
use common::{
    ApiError, ApiResult,
    auth::BearerAuth,
    domain::{EventId, ReminderId, TimeZone},
    idempotency::{NewId, idempotent},
    json::JsonBody,
    page::DEFAULT_LIMIT,
    problem::FieldErrors,
};
use mongodb::bson;
use poem::Request;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};

use super::{
    Ctx, Tag,
    bodies::{ReminderIn, ReminderPatchIn, SnoozeIn},
    caller::{self, Recipient},
    new_reminder,
    timing::{Needed, Timing, When},
    views::{ReminderOut, ReminderPage},
};
use crate::{
    domain::{Content, Edit, SnoozeMinutes, Status, Subject, Transition},
    scheduler::notices::ReminderChanged,
    store::{ListCursor, ListFilter, ReminderDoc},
};

/// The list tag of reminder cursors.
const REMINDER_LIST: char = 'r';

pub struct RemindersApi {
    pub ctx: Ctx,
}

#[derive(ApiResponse)]
enum Created {
    /// The reminder is scheduled.
    #[oai(status = 201)]
    Created(
        Json<ReminderOut>,
        /// Where it can be read.
        #[oai(header = "Location")]
        String,
    ),
}

impl Created {
    fn of(reminder: &ReminderDoc) -> Self {
        Self::Created(
            Json(ReminderOut::from(reminder)),
            format!("/api/v1/notifications/{}", reminder.id),
        )
    }
}

#[derive(ApiResponse)]
enum Cancelled {
    /// Cancelled (or already was).
    #[oai(status = 204)]
    Done,
}

#[OpenApi(prefix_path = "/api/v1/notifications", tag = "Tag::Notifications")]
impl RemindersApi {
    /// Schedule an email reminder of an event, at a fixed time (`send_at`), a number of
    /// minutes before the event starts (`remind_before_minutes`, which follows the event when
    /// it moves), or at a time on my clock some days before it (`wall_clock`, in my profile's
    /// zone; it follows the event and the zone when they change). It goes to a verified
    /// address of the account, the primary one by default.
    ///
    /// Send an `Idempotency-Key` to retry safely: the same key and body within 24 h answer as
    /// the first request did, and schedule nothing more.
    #[oai(
        path = "/",
        method = "post",
        operation_id = "notifications.create",
        transform = "idempotent"
    )]
    async fn create_reminder(
        &self,
        auth: BearerAuth,
        request: &Request,
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        _idempotency_key: Header<Option<String>>,
        body: JsonBody<ReminderIn>,
    ) -> ApiResult<Created> {
        let new_id = NewId::of(request);
        if new_id.retried()
            && let Some(earlier) = self.ctx.store.owned(auth.user_id(), new_id.id()).await?
        {
            return Ok(Created::of(&earlier));
        }
        let token = caller::bearer_token(request)?;
        let reminder =
            new_reminder::parse(&self.ctx, new_id.id(), auth.user_id(), token, body.0).await?;
        self.ctx.store.insert(&reminder).await?;
        self.ctx.notices.tell(ReminderChanged::of(&reminder)).await;
        tracing::info!(reminder_id = %reminder.id, event_id = %reminder.event_id, "reminder scheduled");
        Ok(Created::of(&reminder))
    }

    /// My reminders, newest first, optionally only those with `status` or of `event_id`.
    #[oai(path = "/", method = "get", operation_id = "notifications.list")]
    async fn list_reminders(
        &self,
        auth: BearerAuth,
        /// Only reminders in this state.
        status: Query<Option<Status>>,
        /// Only reminders of this event (24-hex id).
        event_id: Query<Option<String>>,
        /// Items per page, 1 to 100. Default 20.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<ReminderPage>> {
        let mut errors = FieldErrors::default();
        let event_id = event_id
            .0
            .as_deref()
            .and_then(|raw| errors.check("event_id", EventId::parse(raw)));
        let after = cursor.0.as_deref().and_then(|raw| {
            errors.check(
                "cursor",
                decode_cursor(raw).ok_or("is not a cursor this API gave out"),
            )
        });
        errors.parameters_result()?;
        let filter = ListFilter {
            status: status.0,
            event_id,
            after,
        };
        let page = self
            .ctx
            .store
            .list(auth.user_id(), &filter, limit.0.unwrap_or(DEFAULT_LIMIT))
            .await?;
        Ok(Json(ReminderPage::from_page(&page, |last| {
            last.cursor().encode(REMINDER_LIST)
        })))
    }

    /// One of my reminders.
    #[oai(path = "/:id", method = "get", operation_id = "notifications.get")]
    async fn get_reminder(
        &self,
        auth: BearerAuth,
        /// The reminder's id.
        id: Path<String>,
    ) -> ApiResult<Json<ReminderOut>> {
        let reminder = self.owned(&auth, &id).await?;
        Ok(Json(ReminderOut::from(&reminder)))
    }

    /// Change a reminder while it is `scheduled` (409 once it is queued, sent, failed or
    /// cancelled).
    #[oai(path = "/:id", method = "patch", operation_id = "notifications.update")]
    async fn update_reminder(
        &self,
        auth: BearerAuth,
        request: &Request,
        /// The reminder's id.
        id: Path<String>,
        body: JsonBody<ReminderPatchIn>,
    ) -> ApiResult<Json<ReminderOut>> {
        let reminder = self.owned(&auth, &id).await?;
        if reminder.status != Status::Scheduled {
            return Err(not_scheduled(&reminder));
        }
        let body = body.0;
        let mut errors = FieldErrors::default();
        let mut edit = Edit::default();
        let when = When {
            send_at: body.send_at,
            remind_before_minutes: body.remind_before_minutes,
            wall_clock: body.wall_clock.as_ref(),
        };
        let timing = Timing::parse(when, Needed::IfChanging, &mut errors);
        let recipient = Recipient::parse(body.to_email.as_deref(), &mut errors);
        let asks_owner = timing.is_some_and(Timing::needs_zone)
            || matches!(recipient, Recipient::Named(Some(_)));
        let owner = if asks_owner {
            let token = caller::bearer_token(request)?;
            Some(self.ctx.services.owner(token).await?)
        } else {
            None
        };
        if let Some(timing) = timing {
            let zone = owner.as_ref().map_or(TimeZone::UTC, |owner| owner.zone);
            edit.timing = timing.schedule(reminder.event.starts_at, zone, Utc::now(), &mut errors);
        }
        if let Some(raw) = body.subject.as_deref() {
            edit.subject = errors.check("subject", Subject::parse(raw));
        }
        if let Some(raw) = body.content.as_deref() {
            edit.content = errors.check("content", Content::parse(raw));
        }
        if let (Some(owner), recipient @ Recipient::Named(Some(_))) = (&owner, recipient) {
            edit.to_email = caller::verified_address(&owner.addresses, recipient, &mut errors);
        }
        errors.result()?;
        let edited = self.ctx.apply(&reminder, Transition::Edit(edit)).await?;
        Ok(Json(ReminderOut::from(&edited)))
    }

    /// Push a reminder later by `minutes`. A `sent` reminder is scheduled again, `minutes`
    /// from now. It no longer follows its event's start.
    #[oai(
        path = "/:id/snooze",
        method = "post",
        operation_id = "notifications.snooze"
    )]
    async fn snooze_reminder(
        &self,
        auth: BearerAuth,
        /// The reminder's id.
        id: Path<String>,
        body: JsonBody<SnoozeIn>,
    ) -> ApiResult<Json<ReminderOut>> {
        let reminder = self.owned(&auth, &id).await?;
        let minutes = SnoozeMinutes::parse(body.minutes)
            .map_err(|err| ApiError::invalid("minutes", err.to_string()))?;
        let send_at = match reminder.status {
            Status::Scheduled => reminder.send_at.to_chrono() + minutes.duration(),
            Status::Sent => Utc::now() + minutes.duration(),
            _ => return Err(not_scheduled(&reminder)),
        };
        let snoozed = self
            .ctx
            .apply(&reminder, Transition::Snooze { send_at })
            .await?;
        Ok(Json(ReminderOut::from(&snoozed)))
    }

    /// Cancel a scheduled reminder, or a queued one: the email-sender is told not to mail it
    /// (if it already has, the reminder stays cancelled and records its `sent_at`). A sent or
    /// failed reminder cannot be cancelled (409).
    #[oai(
        path = "/:id",
        method = "delete",
        operation_id = "notifications.cancel"
    )]
    async fn cancel_reminder(
        &self,
        auth: BearerAuth,
        /// The reminder's id.
        id: Path<String>,
    ) -> ApiResult<Cancelled> {
        let reminder = self.owned(&auth, &id).await?;
        self.ctx.cancel(reminder).await?;
        Ok(Cancelled::Done)
    }
}

impl RemindersApi {
    /// The caller's reminder `raw_id`; someone else's is as unknown as a missing one.
    async fn owned(&self, auth: &BearerAuth, raw_id: &str) -> ApiResult<ReminderDoc> {
        let id = ReminderId::parse(raw_id).map_err(|_| ApiError::NotFound("reminder"))?;
        let reminder = self
            .ctx
            .store
            .owned(auth.user_id(), id)
            .await?
            .ok_or(ApiError::NotFound("reminder"))?;
        Ok(self.ctx.results.settle(reminder).await?)
    }
}

pub(super) fn not_scheduled(reminder: &ReminderDoc) -> ApiError {
    ApiError::Conflict(format!(
        "the reminder is {}; only a scheduled reminder can be changed",
        reminder.status.as_str()
    ))
}

/// The position a reminders cursor names: its reminder's creation time and id.
fn decode_cursor(raw: &str) -> Option<(bson::DateTime, ReminderId)> {
    let cursor = ListCursor::decode(raw, REMINDER_LIST)?;
    let id = ReminderId::parse(&cursor.id).ok()?;
    Some((bson::DateTime::from_chrono(cursor.key), id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_anything_else() {
        let at = chrono::DateTime::from_timestamp_millis(1_790_000_000_123).unwrap();
        let id = ReminderId::new();
        let raw = ListCursor::new(at, id.to_string()).encode(REMINDER_LIST);
        assert_eq!(
            decode_cursor(&raw),
            Some((bson::DateTime::from_chrono(at), id))
        );
        assert_eq!(decode_cursor("nonsense"), None);
        let foreign = ListCursor::new(at, id.to_string()).encode('s');
        assert_eq!(decode_cursor(&foreign), None);
    }
}
