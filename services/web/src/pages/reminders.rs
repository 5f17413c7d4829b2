//! Reminders: setting one from an event's page with a preset or a chosen moment, and the
//! visitor's reminders with their state, snooze and cancel.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use minijinja::context;
use poem::{
    Response, handler,
    http::StatusCode,
    web::{CsrfVerifier, Form, Path, Query},
};
use serde::{Deserialize, Serialize};

use super::{Visitor, time::on_clock_of};
use crate::api::{Reminder, Timing};

/// Reminders per page.
const PAGE_SIZE: u32 = 50;

/// How long "Snooze" puts a reminder off.
const SNOOZE_MINUTES: u32 = 60;

/// What the event page's "Remind me" form sends.
#[derive(Deserialize)]
pub struct RemindForm {
    csrf: String,
    /// `hour`, `day`, `evening` or `moment`.
    preset: String,
    /// For `moment`: a local date and time (`2026-12-10T18:30`, seconds optional), on the
    /// visitor's clock.
    #[serde(default)]
    moment: String,
}

/// The visitor's clock: their profile's zone.
async fn zone_of(visitor: &Visitor) -> Tz {
    visitor.zone().await.unwrap_or(Tz::UTC)
}

/// The timing a preset names; `None` for a moment that is not a date and time.
fn timing(form: &RemindForm, zone: Tz) -> Option<Timing> {
    match form.preset.as_str() {
        "hour" => Some(Timing::MinutesBefore(60)),
        "day" => Some(Timing::MinutesBefore(24 * 60)),
        "evening" => Some(Timing::WallClock {
            days_before: 1,
            at: "18:00".into(),
        }),
        "moment" => at_moment(&form.moment, zone).map(Timing::At),
        _ => None,
    }
}

/// A `datetime-local` input's value: browsers leave out the seconds when they are zero.
fn local_moment(raw: &str) -> Option<NaiveDateTime> {
    let raw = raw.trim();
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M"))
        .ok()
}

/// The instant a `datetime-local` value names on `zone`'s clock (a time the clock skips does
/// not exist; one it repeats is the first).
fn at_moment(raw: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let local = local_moment(raw)?;
    let at = zone.from_local_datetime(&local).earliest()?;
    Some(at.with_timezone(&Utc))
}

#[handler]
pub async fn remind(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Path(id): Path<String>,
    Form(form): Form<RemindForm>,
) -> Response {
    let page = format!("/events/{id}");
    let caller = match visitor.signed_in_form(verifier, &form.csrf, &page) {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    let zone = zone_of(&visitor).await;
    let Some(timing) = timing(&form, zone) else {
        return visitor.go_to(&page, "Choose when: a preset, or a date and a time.");
    };
    match visitor.api().remind(caller, &id, &timing).await {
        Ok(reminder) => {
            let when = on_clock_of(reminder.send_at, zone.name());
            visitor.go_to(&page, &format!("We will remind you on {when}."))
        }
        Err(failure) if failure.status().is_client_error() => {
            let why = failure.reason();
            visitor.go_to(&page, &format!("No reminder set: {why}."))
        }
        Err(failure) => visitor.failed(&failure),
    }
}

/// A reminder as the list shows it.
#[derive(Serialize)]
struct ReminderItem {
    id: String,
    event_id: String,
    subject: String,
    to_email: String,
    send_at: String,
    send_local: String,
    /// `send_at` as the change form's `datetime-local` value.
    send_input: String,
    status: String,
    sent_local: Option<String>,
    last_error: Option<String>,
    can_snooze: bool,
    can_change: bool,
    can_cancel: bool,
}

impl ReminderItem {
    fn new(reminder: Reminder, zone: Tz) -> Self {
        let status = reminder.status.as_str();
        Self {
            can_snooze: matches!(status, "scheduled" | "sent"),
            can_change: status == "scheduled",
            can_cancel: matches!(status, "scheduled" | "queued"),
            send_at: reminder.send_at.to_rfc3339(),
            send_input: reminder
                .send_at
                .with_timezone(&zone)
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string(),
            send_local: on_clock_of(reminder.send_at, zone.name()),
            sent_local: reminder.sent_at.map(|at| on_clock_of(at, zone.name())),
            id: reminder.id,
            event_id: reminder.event_id,
            subject: reminder.subject,
            to_email: reminder.to_email,
            status: reminder.status,
            last_error: reminder.last_error,
        }
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

#[handler]
pub async fn reminders(visitor: Visitor, Query(query): Query<ListQuery>) -> Response {
    let Some(login) = &visitor.login else {
        return visitor.sign_in_first("/reminders");
    };
    let caller = login.caller(visitor.address);
    let zone = zone_of(&visitor).await;
    let page = match visitor
        .api()
        .reminders(caller, query.cursor.as_deref(), PAGE_SIZE)
        .await
    {
        Ok(page) => page,
        Err(failure) => return visitor.failed(&failure),
    };
    let reminders: Vec<ReminderItem> = page
        .items
        .into_iter()
        .map(|reminder| ReminderItem::new(reminder, zone))
        .collect();
    let more = page.next_cursor.map(|cursor| {
        let cursor: String = url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
        format!("/reminders?cursor={cursor}")
    });
    visitor.render(
        StatusCode::OK,
        "reminders.html",
        context! { title => "My reminders", reminders, more, zone => zone.name(), snooze_minutes => SNOOZE_MINUTES },
    )
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: String,
}

#[handler]
pub async fn snooze(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let caller = match visitor.signed_in_form(verifier, &form.csrf, "/reminders") {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    match visitor.api().snooze(caller, &id, SNOOZE_MINUTES).await {
        Ok(()) => visitor.go_to("/reminders", "Snoozed for an hour."),
        Err(failure) => visitor.failed(&failure),
    }
}

#[derive(Deserialize)]
pub struct ChangeForm {
    csrf: String,
    /// The new time, on the visitor's clock.
    moment: String,
}

#[handler]
pub async fn change(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Path(id): Path<String>,
    Form(form): Form<ChangeForm>,
) -> Response {
    let caller = match visitor.signed_in_form(verifier, &form.csrf, "/reminders") {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    let zone = zone_of(&visitor).await;
    let Some(send_at) = at_moment(&form.moment, zone) else {
        return visitor.go_to("/reminders", "Not changed: choose a date and a time.");
    };
    match visitor.api().reschedule(caller, &id, send_at).await {
        Ok(reminder) => {
            let when = on_clock_of(reminder.send_at, zone.name());
            visitor.go_to("/reminders", &format!("Changed: it goes on {when}."))
        }
        Err(failure)
            if failure.status().is_client_error() && failure.status() != StatusCode::NOT_FOUND =>
        {
            let why = failure.reason();
            visitor.go_to("/reminders", &format!("Not changed: {why}."))
        }
        Err(failure) => visitor.failed(&failure),
    }
}

#[handler]
pub async fn cancel(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let caller = match visitor.signed_in_form(verifier, &form.csrf, "/reminders") {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    match visitor.api().cancel(caller, &id).await {
        Ok(()) => visitor.go_to("/reminders", "Reminder cancelled."),
        Err(failure) => visitor.failed(&failure),
    }
}

#[cfg(test)]
mod tests {
    use super::local_moment;

    #[test]
    fn a_moment_is_read_with_or_without_its_seconds() {
        let with = local_moment("2026-12-10T18:30:05").map(|at| at.to_string());
        let without = local_moment(" 2026-12-10T18:30 ").map(|at| at.to_string());
        assert_eq!(with.as_deref(), Some("2026-12-10 18:30:05"));
        assert_eq!(without.as_deref(), Some("2026-12-10 18:30:00"));
        assert_eq!(local_moment("10.12.2026 18:30"), None);
    }
}
