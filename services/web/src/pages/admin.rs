//! The administrators' event forms: create, edit (with `If-Match`: an edit of an event that
//! changed meanwhile is refused, and the form comes back with both what was typed and what the
//! event now says, so nothing is lost), and delete. Every field error the API names is shown
//! next to its field.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::{TZ_VARIANTS, Tz};
use minijinja::context;
use poem::{
    Response, handler,
    http::StatusCode,
    web::{CsrfVerifier, Form, Path},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Visitor, time::on_clock_of};
use crate::api::{ApiFailure, Caller, Event};

/// What the event form sends: times on the clock of `timezone`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EventForm {
    #[serde(default)]
    csrf: String,
    /// The version the form was opened at (edits only).
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    place_name: String,
    #[serde(default)]
    place_address: String,
    /// The place's position, for "near" searches (optional, both or neither).
    #[serde(default)]
    lat: String,
    #[serde(default)]
    lon: String,
    #[serde(default)]
    organizer: String,
    #[serde(default)]
    topics: String,
}

/// The form's `datetime-local` format.
const LOCAL: &str = "%Y-%m-%dT%H:%M";

impl EventForm {
    fn of(event: &Event) -> Self {
        let zone: Tz = event.timezone.parse().unwrap_or(Tz::UTC);
        let local = |at: DateTime<Utc>| at.with_timezone(&zone).format(LOCAL).to_string();
        Self {
            csrf: String::new(),
            version: Some(event.version),
            title: event.title.clone(),
            description: event.description.clone(),
            starts_at: local(event.starts_at),
            ends_at: event.ends_at.map(local).unwrap_or_default(),
            timezone: event.timezone.clone(),
            place_name: event.place.name.clone(),
            place_address: event.place.address.clone().unwrap_or_default(),
            lat: event
                .place
                .lat
                .map(|lat| lat.to_string())
                .unwrap_or_default(),
            lon: event
                .place
                .lon
                .map(|lon| lon.to_string())
                .unwrap_or_default(),
            organizer: event.organizer.clone().unwrap_or_default(),
            topics: event.topics.join(", "),
        }
    }

    /// The API's body, or the errors of the fields this form reads itself (times, zone).
    fn body(&self) -> Result<Value, BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();
        let zone: Option<Tz> = self.timezone.parse().ok();
        if zone.is_none() {
            errors.insert("timezone".into(), "choose a time zone from the list".into());
        }
        let at = |field: &str, raw: &str, errors: &mut BTreeMap<String, String>| {
            let local = NaiveDateTime::parse_from_str(raw.trim(), LOCAL).ok();
            let instant = zone
                .zip(local)
                .and_then(|(zone, local)| zone.from_local_datetime(&local).earliest());
            if instant.is_none() && zone.is_some() {
                errors.insert(field.into(), "give a date and a time".into());
            }
            instant.map(|at| at.with_timezone(&Utc))
        };
        let starts_at = at("starts_at", &self.starts_at, &mut errors);
        let ends_at = if self.ends_at.trim().is_empty() {
            None
        } else {
            at("ends_at", &self.ends_at, &mut errors)
        };
        let mut coordinate = |field: &str, raw: &str| {
            let raw = raw.trim();
            if raw.is_empty() {
                return None;
            }
            let parsed = raw.parse::<f64>().ok();
            if parsed.is_none() {
                errors.insert(field.into(), "give a number, like 38.7223".into());
            }
            parsed
        };
        let (lat, lon) = (coordinate("lat", &self.lat), coordinate("lon", &self.lon));
        if !errors.is_empty() {
            return Err(errors);
        }
        let optional = |raw: &str| (!raw.trim().is_empty()).then(|| raw.trim().to_owned());
        let topics: Vec<String> = self
            .topics
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|topic| !topic.is_empty())
            .map(str::to_lowercase)
            .collect();
        Ok(json!({
            "title": self.title.trim(),
            "description": self.description,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "timezone": self.timezone,
            "place": {
                "name": self.place_name.trim(),
                "address": optional(&self.place_address),
                "lat": lat,
                "lon": lon,
            },
            "organizer": optional(&self.organizer),
            "topics": topics,
        }))
    }
}

/// How the API names the form's fields in its errors.
fn form_field(api_field: &str) -> &str {
    match api_field {
        "place.name" | "place" => "place_name",
        "place.address" => "place_address",
        "place.lat" => "lat",
        "place.lon" => "lon",
        other => other.split(['.', '[']).next().unwrap_or(other),
    }
}

/// The form page for `form`, posting to `action`.
fn form_page(
    visitor: &Visitor,
    status: StatusCode,
    action: &str,
    form: &EventForm,
    errors: &BTreeMap<String, String>,
    problem: Option<String>,
    current: Option<&Event>,
) -> Response {
    let zones: Vec<&str> = TZ_VARIANTS.iter().map(|zone| zone.name()).collect();
    let current = current.map(|event| {
        context! {
            title => &event.title,
            starts => on_clock_of(event.starts_at, &event.timezone),
            place => &event.place.name,
            description => &event.description,
            version => event.version,
        }
    });
    visitor.render(
        status,
        "event_form.html",
        context! {
            title => if form.version.is_some() { "Edit the event" } else { "New event" },
            action,
            form,
            errors,
            problem,
            current,
            zones,
        },
    )
}

/// The visitor as an administrator, or the page for one who is not (boxed: it is large).
fn admin<'v>(visitor: &'v Visitor, back_to: &str) -> Result<Caller<'v>, Box<Response>> {
    match &visitor.login {
        Some(login) if login.is_admin() => Ok(login.caller(visitor.address)),
        Some(_) => Err(Box::new(visitor.problem(
            StatusCode::FORBIDDEN,
            "For administrators",
            "Only administrators create and change events.",
        ))),
        None => Err(Box::new(visitor.sign_in_first(back_to))),
    }
}

/// The API's field errors, named as the form's fields.
fn field_errors(failure: &ApiFailure) -> BTreeMap<String, String> {
    failure
        .field_errors()
        .into_iter()
        .map(|(field, message)| (form_field(&field).to_owned(), message))
        .collect()
}

#[handler]
pub async fn new_form(visitor: Visitor) -> Response {
    if let Err(refused) = admin(&visitor, "/events/new") {
        return *refused;
    }
    let form = EventForm {
        timezone: "UTC".into(),
        ..EventForm::default()
    };
    form_page(
        &visitor,
        StatusCode::OK,
        "/events/new",
        &form,
        &BTreeMap::new(),
        None,
        None,
    )
}

#[handler]
pub async fn create(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Form(form): Form<EventForm>,
) -> Response {
    if let Some(refused) = visitor.refuses_form(verifier, &form.csrf) {
        return refused;
    }
    let caller = match admin(&visitor, "/events/new") {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    let action = "/events/new";
    let body = match form.body() {
        Ok(body) => body,
        Err(errors) => {
            return form_page(
                &visitor,
                StatusCode::UNPROCESSABLE_ENTITY,
                action,
                &form,
                &errors,
                None,
                None,
            );
        }
    };
    match visitor.api().create_event(caller, &body).await {
        Ok(event) => visitor.go_to(&format!("/events/{}", event.id), "Event created."),
        Err(failure @ ApiFailure::Problem { .. }) => form_page(
            &visitor,
            failure.status(),
            action,
            &form,
            &field_errors(&failure),
            Some(failure.detail()),
            None,
        ),
        Err(failure) => visitor.failed(&failure),
    }
}

#[handler]
pub async fn edit_form(visitor: Visitor, Path(id): Path<String>) -> Response {
    let action = format!("/events/{id}/edit");
    let caller = match admin(&visitor, &action) {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    match visitor.api().event(caller, &id).await {
        Ok(event) => form_page(
            &visitor,
            StatusCode::OK,
            &action,
            &EventForm::of(&event),
            &BTreeMap::new(),
            None,
            None,
        ),
        Err(failure) => visitor.failed(&failure),
    }
}

#[handler]
pub async fn replace(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Path(id): Path<String>,
    Form(form): Form<EventForm>,
) -> Response {
    if let Some(refused) = visitor.refuses_form(verifier, &form.csrf) {
        return refused;
    }
    let action = format!("/events/{id}/edit");
    let caller = match admin(&visitor, &action) {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    let body = match form.body() {
        Ok(body) => body,
        Err(errors) => {
            return form_page(
                &visitor,
                StatusCode::UNPROCESSABLE_ENTITY,
                &action,
                &form,
                &errors,
                None,
                None,
            );
        }
    };
    let version = form.version.unwrap_or_default();
    match visitor
        .api()
        .replace_event(caller, &id, version, &body)
        .await
    {
        Ok(event) => visitor.go_to(&format!("/events/{}", event.id), "Event saved."),
        Err(failure) if failure.status() == StatusCode::PRECONDITION_FAILED => {
            // Someone changed it meanwhile: keep what was typed, show what it says now, and
            // let a second save replace that version knowingly.
            let current = visitor.api().event(caller, &id).await.ok();
            let mut again = form.clone();
            again.version = current.as_ref().map(|event| event.version);
            form_page(
                &visitor,
                StatusCode::CONFLICT,
                &action,
                &again,
                &BTreeMap::new(),
                Some("Someone changed this event since you opened it. Your changes are below, and what it says now beside them: save again to replace it with yours.".into()),
                current.as_ref(),
            )
        }
        Err(failure @ ApiFailure::Problem { .. }) => form_page(
            &visitor,
            failure.status(),
            &action,
            &form,
            &field_errors(&failure),
            Some(failure.detail()),
            None,
        ),
        Err(failure) => visitor.failed(&failure),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    csrf: String,
}

#[handler]
pub async fn delete(
    visitor: Visitor,
    verifier: &CsrfVerifier,
    Path(id): Path<String>,
    Form(form): Form<DeleteForm>,
) -> Response {
    if let Some(refused) = visitor.refuses_form(verifier, &form.csrf) {
        return refused;
    }
    let caller = match admin(&visitor, &format!("/events/{id}")) {
        Ok(caller) => caller,
        Err(refused) => return *refused,
    };
    match visitor.api().delete_event(caller, &id).await {
        Ok(()) => visitor.go_to(
            "/",
            "Event deleted; those who saved it or had a reminder are told.",
        ),
        Err(failure) => visitor.failed(&failure),
    }
}
