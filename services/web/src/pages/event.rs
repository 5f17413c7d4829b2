//! An event's page, its calendar file, and saving or unsaving it.

use chrono_tz::Tz;
use common::{
    domain::{EventId, TimeZone},
    ics::{self, CalendarFile},
    messages::EventSummary,
};
use minijinja::context;
use poem::{
    IntoResponse, Response, handler,
    http::{StatusCode, header},
    web::{CsrfVerifier, Form, Path},
};
use serde::{Deserialize, Serialize};

use super::{Visitor, time::on_clock_of};
use crate::api::Event;

/// How many of a visitor's saved events are looked through to show "Unsave" rather than
/// "Save": the API's largest page.
const SAVED_LOOKED_THROUGH: u32 = 100;

/// An event as its page shows it.
#[derive(Serialize)]
struct EventDetails {
    id: String,
    title: String,
    description: String,
    starts_at: String,
    starts_local: String,
    /// The start on the signed-in viewer's clock, when it is not the event's.
    starts_yours: Option<String>,
    timezone: String,
    ends_local: Option<String>,
    place: String,
    organizer: Option<String>,
    topics: Vec<String>,
}

impl EventDetails {
    /// `event` as `viewer` (their zone, if signed in) reads it.
    fn new(event: Event, viewer: Option<Tz>) -> Self {
        let place = event.place.line();
        let starts_yours = viewer
            .filter(|zone| zone.name() != event.timezone)
            .map(|zone| {
                format!(
                    "{} on your clock ({})",
                    on_clock_of(event.starts_at, zone.name()),
                    zone.name()
                )
            });
        Self {
            starts_at: event.starts_at.to_rfc3339(),
            starts_local: on_clock_of(event.starts_at, &event.timezone),
            starts_yours,
            ends_local: event.ends_at.map(|end| on_clock_of(end, &event.timezone)),
            timezone: event.timezone,
            id: event.id,
            title: event.title,
            description: event.description,
            place,
            organizer: event.organizer,
            topics: event.topics,
        }
    }
}

#[handler]
pub async fn event_page(visitor: Visitor, Path(id): Path<String>) -> Response {
    let event = match visitor.api().event(visitor.anonymous(), &id).await {
        Ok(event) => event,
        Err(failure) => return visitor.failed(&failure),
    };
    let saved = async {
        match &visitor.login {
            Some(login) => visitor
                .api()
                .saved(login.caller(visitor.address), None, SAVED_LOOKED_THROUGH)
                .await
                .is_ok_and(|page| page.items.iter().any(|saved| saved.id == event.id)),
            None => false,
        }
    };
    let (saved, zone) = tokio::join!(saved, visitor.zone());
    let title = event.title.clone();
    let admin = visitor
        .login
        .as_ref()
        .is_some_and(crate::sessions::Login::is_admin);
    visitor.render(
        StatusCode::OK,
        "event.html",
        context! { title, event => EventDetails::new(event, zone), saved, admin },
    )
}

/// The event as an `.ics` file a calendar imports (the same file as a reminder mail's, so a
/// calendar that has both keeps one).
#[handler]
pub async fn calendar_file(visitor: Visitor, Path(id): Path<String>) -> Response {
    let event = match visitor.api().event(visitor.anonymous(), &id).await {
        Ok(event) => event,
        Err(failure) => return visitor.failed(&failure),
    };
    let summary = match summary_of(&event) {
        Some(summary) => summary,
        None => {
            return visitor.problem(
                StatusCode::BAD_GATEWAY,
                "This event cannot be exported",
                "The catalogue answered with an event this page does not understand.",
            );
        }
    };
    CalendarFile(ics::event_file(&summary))
        .with_header(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"event.ics\"",
        )
        .into_response()
}

/// What a calendar file says of `event`; `None` when the API's id or zone do not parse.
fn summary_of(event: &Event) -> Option<EventSummary> {
    Some(EventSummary {
        id: EventId::parse(&event.id).ok()?,
        title: event.title.clone(),
        starts_at: event.starts_at,
        ends_at: event.ends_at,
        timezone: TimeZone::parse(&event.timezone).ok()?,
        place: event.place.line(),
        version: event.version,
    })
}

#[derive(Deserialize)]
pub struct SaveForm {
    csrf: String,
    saved: bool,
}

#[handler]
pub async fn set_saved(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Path(id): Path<String>,
    Form(form): Form<SaveForm>,
) -> Response {
    let page = format!("/events/{id}");
    let caller = match visitor.signed_in_form(verifier, &form.csrf, &page) {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    match visitor.api().set_saved(caller, &id, form.saved).await {
        Ok(()) if form.saved => visitor.go_to(&page, "Saved. Find it under Saved."),
        Ok(()) => visitor.go_to(&page, "No longer saved."),
        Err(failure) => visitor.failed(&failure),
    }
}
