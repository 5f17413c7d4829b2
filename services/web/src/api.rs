//! The public API as the pages call it: through the gateway, in the visitor's name (their
//! address in `X-Forwarded-For`, their access token if they are signed in), with the answers
//! the pages need as types.

use std::{collections::BTreeMap, net::IpAddr, time::Duration};

use chrono::{DateTime, Utc};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::json;
use url::Url;

/// A client of the API, shared by every page.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: Url,
}

/// Who a call is made for: the visitor's address, and their access token once signed in.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    pub address: IpAddr,
    pub token: Option<&'a str>,
}

/// Why a call did not give what was asked for.
#[derive(Debug, thiserror::Error)]
pub enum ApiFailure {
    /// The API answered with a problem: shown to the visitor, with each field's error next to
    /// the field.
    #[error("{status}: {detail}")]
    Problem {
        status: StatusCode,
        detail: String,
        errors: Vec<FieldProblem>,
    },
    /// The API could not be reached or answered something unreadable.
    #[error("the API is unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl ApiFailure {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Problem { status, .. } => *status,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The message for each field the API named, by field.
    pub fn field_errors(&self) -> BTreeMap<String, String> {
        match self {
            Self::Problem { errors, .. } => errors
                .iter()
                .map(|error| (error.field.clone(), error.message.clone()))
                .collect(),
            Self::Unavailable(_) => BTreeMap::new(),
        }
    }

    /// Why, in one line: the first field's message, else the detail.
    pub fn reason(&self) -> String {
        self.field_errors()
            .into_values()
            .next()
            .unwrap_or_else(|| self.detail())
    }

    /// What to tell the visitor.
    pub fn detail(&self) -> String {
        match self {
            Self::Problem { detail, .. } => detail.clone(),
            Self::Unavailable(_) => "eventpost cannot answer right now; try again shortly.".into(),
        }
    }
}

/// One field the API refused, and why.
#[derive(Debug, Clone, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

#[derive(Deserialize)]
struct ProblemBody {
    detail: Option<String>,
    title: Option<String>,
    #[serde(default)]
    errors: Option<Vec<FieldProblem>>,
}

/// An access and a refresh token, as the users service hands them out.
#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: i64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens([redacted])")
    }
}

/// An event as the catalogue answers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub timezone: String,
    pub place: Place,
    pub organizer: Option<String>,
    #[serde(default)]
    pub topics: Vec<String>,
    pub version: i64,
    pub distance_km: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Place {
    pub name: String,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

impl Place {
    /// The place's name, then its address if known.
    pub fn line(&self) -> String {
        match &self.address {
            Some(address) => format!("{}, {address}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A page of events; a search's also counts each topic among all its matches.
#[derive(Debug, Clone, Deserialize)]
pub struct EventPage {
    pub items: Vec<Event>,
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub facets: Facets,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Facets {
    #[serde(default)]
    pub topics: BTreeMap<String, u64>,
}

/// What a visitor searches for; each is left out of the query when empty.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Search {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// `lat,lon`: only events within `radius_km` of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub near: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radius_km: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub limit: u32,
}

/// A reminder as the notifications service answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct Reminder {
    pub id: String,
    pub event_id: String,
    pub to_email: String,
    pub subject: String,
    pub send_at: DateTime<Utc>,
    pub status: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReminderPage {
    pub items: Vec<Reminder>,
    pub next_cursor: Option<String>,
}

/// When a reminder goes out.
#[derive(Debug, Clone, Serialize)]
pub enum Timing {
    /// This many minutes before the event starts (following it if it moves).
    #[serde(rename = "remind_before_minutes")]
    MinutesBefore(u32),
    /// At a time of day on the owner's clock, days before the event.
    #[serde(rename = "wall_clock")]
    WallClock { days_before: u32, at: String },
    /// At this moment.
    #[serde(rename = "send_at")]
    At(DateTime<Utc>),
}

/// The caller's account as the users service answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    pub email: String,
    pub display_name: Option<String>,
    pub emails: Vec<Address>,
    #[serde(default)]
    pub interests: Vec<String>,
    pub timezone: String,
}

/// One of an account's addresses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Address {
    pub email: String,
    pub verified: bool,
    pub primary: bool,
}

/// A calendar feed's addresses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Feed {
    pub url: String,
    pub webcal_url: String,
}

impl Api {
    pub fn new(base: Url, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { http, base })
    }

    fn request(&self, method: Method, path: &str, caller: Caller<'_>) -> RequestBuilder {
        let mut url = self.base.clone();
        url.set_path(path);
        let request = self
            .http
            .request(method, url)
            .header("x-forwarded-for", caller.address.to_string());
        match caller.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn sign_in(
        &self,
        caller: Caller<'_>,
        email: &str,
        password: &str,
    ) -> Result<Tokens, ApiFailure> {
        let body = json!({ "email": email, "password": password });
        let request = self.request(Method::POST, "/api/v1/auth/token", caller);
        answer(request.json(&body)).await
    }

    pub async fn register(
        &self,
        caller: Caller<'_>,
        email: &str,
        password: &str,
        display_name: &str,
    ) -> Result<(), ApiFailure> {
        let mut body = json!({ "email": email, "password": password });
        if !display_name.trim().is_empty() {
            body["display_name"] = json!(display_name.trim());
        }
        let request = self.request(Method::POST, "/api/v1/users", caller);
        answer::<serde_json::Value>(request.json(&body))
            .await
            .map(drop)
    }

    pub async fn refresh(&self, caller: Caller<'_>, refresh: &str) -> Result<Tokens, ApiFailure> {
        let body = json!({ "refresh_token": refresh });
        let request = self.request(Method::POST, "/api/v1/auth/refresh", caller);
        answer(request.json(&body)).await
    }

    pub async fn sign_out(&self, caller: Caller<'_>, refresh: &str) -> Result<(), ApiFailure> {
        let body = json!({ "refresh_token": refresh });
        let request = self.request(Method::POST, "/api/v1/auth/logout", caller);
        done(request.json(&body)).await
    }

    pub async fn search(
        &self,
        caller: Caller<'_>,
        search: &Search,
    ) -> Result<EventPage, ApiFailure> {
        let request = self.request(Method::GET, "/api/v1/events", caller);
        answer(request.query(search)).await
    }

    pub async fn event(&self, caller: Caller<'_>, id: &str) -> Result<Event, ApiFailure> {
        let path = format!("/api/v1/events/{}", segment(id));
        answer(self.request(Method::GET, &path, caller)).await
    }

    /// A page of the caller's saved events, latest save first.
    pub async fn saved(
        &self,
        caller: Caller<'_>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<EventPage, ApiFailure> {
        self.events_for(caller, "/api/v1/events/saved", cursor, limit)
            .await
    }

    /// A page of upcoming events in the caller's interests and the topics of what they saved,
    /// soonest first.
    pub async fn recommended(
        &self,
        caller: Caller<'_>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<EventPage, ApiFailure> {
        self.events_for(caller, "/api/v1/events/recommended", cursor, limit)
            .await
    }

    async fn events_for(
        &self,
        caller: Caller<'_>,
        path: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<EventPage, ApiFailure> {
        let request = self.request(Method::GET, path, caller);
        let limit = limit.to_string();
        let mut query = vec![("limit", limit.as_str())];
        query.extend(cursor.map(|cursor| ("cursor", cursor)));
        answer(request.query(&query)).await
    }

    /// Saves (`true`) or unsaves the event `id`.
    pub async fn set_saved(
        &self,
        caller: Caller<'_>,
        id: &str,
        saved: bool,
    ) -> Result<(), ApiFailure> {
        let method = if saved { Method::PUT } else { Method::DELETE };
        let path = format!("/api/v1/events/{}/saved", segment(id));
        done(self.request(method, &path, caller)).await
    }
}

impl Api {
    /// The caller's time zone (IANA; UTC until they choose one).
    pub async fn zone(&self, caller: Caller<'_>) -> Result<String, ApiFailure> {
        Ok(self.profile(caller).await?.timezone)
    }

    pub async fn profile(&self, caller: Caller<'_>) -> Result<Profile, ApiFailure> {
        answer(self.request(Method::GET, "/api/v1/users/me", caller)).await
    }

    /// Changes what `changes` names of the caller's profile (`timezone`, `interests`).
    pub async fn update_profile(
        &self,
        caller: Caller<'_>,
        changes: &serde_json::Value,
    ) -> Result<(), ApiFailure> {
        let request = self.request(Method::PATCH, "/api/v1/users/me", caller);
        answer::<serde_json::Value>(request.json(changes))
            .await
            .map(drop)
    }

    /// Changes the caller's password; every other login ends, and this one goes on with the
    /// tokens answered.
    pub async fn change_password(
        &self,
        caller: Caller<'_>,
        current: &str,
        new: &str,
    ) -> Result<Tokens, ApiFailure> {
        let body = json!({ "current_password": current, "new_password": new });
        let request = self.request(Method::PUT, "/api/v1/users/me/password", caller);
        answer(request.json(&body)).await
    }

    /// Adds a secondary address; a verification mail goes to it.
    pub async fn add_address(&self, caller: Caller<'_>, email: &str) -> Result<(), ApiFailure> {
        let request = self.request(Method::POST, "/api/v1/users/me/emails", caller);
        answer::<serde_json::Value>(request.json(&json!({ "email": email })))
            .await
            .map(drop)
    }

    pub async fn make_primary(&self, caller: Caller<'_>, email: &str) -> Result<(), ApiFailure> {
        let request = self.request(Method::PUT, "/api/v1/users/me/emails/primary", caller);
        answer::<serde_json::Value>(request.json(&json!({ "email": email })))
            .await
            .map(drop)
    }

    pub async fn remove_address(&self, caller: Caller<'_>, email: &str) -> Result<(), ApiFailure> {
        let path = format!("/api/v1/users/me/emails/{}", segment(email));
        done(self.request(Method::DELETE, &path, caller)).await
    }

    /// The caller's calendar feed, if they made one.
    pub async fn feed(&self, caller: Caller<'_>) -> Result<Option<Feed>, ApiFailure> {
        match answer(self.request(Method::GET, "/api/v1/notifications/feed", caller)).await {
            Ok(feed) => Ok(Some(feed)),
            Err(failure) if failure.status() == StatusCode::NOT_FOUND => Ok(None),
            Err(failure) => Err(failure),
        }
    }

    /// Makes the caller's calendar feed, or gives it a new address (the old one stops).
    pub async fn renew_feed(&self, caller: Caller<'_>) -> Result<Feed, ApiFailure> {
        answer(self.request(Method::PUT, "/api/v1/notifications/feed", caller)).await
    }

    /// Verifies the address a mailed `token` was sent to.
    pub async fn verify_address(&self, caller: Caller<'_>, token: &str) -> Result<(), ApiFailure> {
        let request = self.request(Method::POST, "/api/v1/users/me/emails/verify", caller);
        done(request.json(&json!({ "token": token }))).await
    }

    /// Mails a password-reset link to the account of `email`, if there is one.
    pub async fn request_reset(&self, caller: Caller<'_>, email: &str) -> Result<(), ApiFailure> {
        let request = self.request(Method::POST, "/api/v1/auth/password-reset", caller);
        done(request.json(&json!({ "email": email }))).await
    }

    /// Sets a new password with a mailed reset `token`; every login of the account ends.
    pub async fn reset_password(
        &self,
        caller: Caller<'_>,
        token: &str,
        password: &str,
    ) -> Result<(), ApiFailure> {
        let request = self.request(Method::POST, "/api/v1/auth/password-reset/confirm", caller);
        done(request.json(&json!({ "token": token, "password": password }))).await
    }

    /// Creates an event (administrators); answers it.
    pub async fn create_event(
        &self,
        caller: Caller<'_>,
        event: &serde_json::Value,
    ) -> Result<Event, ApiFailure> {
        let request = self.request(Method::POST, "/api/v1/events", caller);
        answer(request.json(event)).await
    }

    /// Replaces event `id` (administrators) if it is still at `version`: a 412 otherwise.
    pub async fn replace_event(
        &self,
        caller: Caller<'_>,
        id: &str,
        version: i64,
        event: &serde_json::Value,
    ) -> Result<Event, ApiFailure> {
        let path = format!("/api/v1/events/{}", segment(id));
        let request = self
            .request(Method::PUT, &path, caller)
            .header("if-match", format!("\"{version}\""));
        answer(request.json(event)).await
    }

    /// Deletes event `id` (administrators).
    pub async fn delete_event(&self, caller: Caller<'_>, id: &str) -> Result<(), ApiFailure> {
        let path = format!("/api/v1/events/{}", segment(id));
        done(self.request(Method::DELETE, &path, caller)).await
    }

    /// Deletes the caller's account, confirmed with its password.
    pub async fn delete_account(
        &self,
        caller: Caller<'_>,
        password: &str,
    ) -> Result<(), ApiFailure> {
        let request = self.request(Method::DELETE, "/api/v1/users/me", caller);
        done(request.json(&json!({ "password": password }))).await
    }

    /// Sets a reminder of `event_id` for the caller, to their primary address.
    pub async fn remind(
        &self,
        caller: Caller<'_>,
        event_id: &str,
        timing: &Timing,
    ) -> Result<Reminder, ApiFailure> {
        let mut body =
            serde_json::to_value(timing).map_err(|err| ApiFailure::Unavailable(err.into()))?;
        body["event_id"] = json!(event_id);
        let request = self.request(Method::POST, "/api/v1/notifications", caller);
        answer(request.json(&body)).await
    }

    /// A page of the caller's reminders, newest first.
    pub async fn reminders(
        &self,
        caller: Caller<'_>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ReminderPage, ApiFailure> {
        let request = self.request(Method::GET, "/api/v1/notifications", caller);
        let limit = limit.to_string();
        let mut query = vec![("limit", limit.as_str())];
        query.extend(cursor.map(|cursor| ("cursor", cursor)));
        answer(request.query(&query)).await
    }

    /// Sends the reminder `id` again `minutes` from now.
    pub async fn snooze(
        &self,
        caller: Caller<'_>,
        id: &str,
        minutes: u32,
    ) -> Result<(), ApiFailure> {
        let path = format!("/api/v1/notifications/{}/snooze", segment(id));
        let request = self.request(Method::POST, &path, caller);
        answer::<serde_json::Value>(request.json(&json!({ "minutes": minutes })))
            .await
            .map(drop)
    }

    /// Moves the scheduled reminder `id` to `send_at`.
    pub async fn reschedule(
        &self,
        caller: Caller<'_>,
        id: &str,
        send_at: DateTime<Utc>,
    ) -> Result<Reminder, ApiFailure> {
        let path = format!("/api/v1/notifications/{}", segment(id));
        let request = self.request(Method::PATCH, &path, caller);
        answer(request.json(&json!({ "send_at": send_at }))).await
    }

    /// Cancels the reminder `id`.
    pub async fn cancel(&self, caller: Caller<'_>, id: &str) -> Result<(), ApiFailure> {
        let path = format!("/api/v1/notifications/{}", segment(id));
        done(self.request(Method::DELETE, &path, caller)).await
    }
}

/// `raw` as one path segment: an id from a visitor's URL must not reach another route.
fn segment(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

async fn answer<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, ApiFailure> {
    let response = checked(request).await?;
    response
        .json()
        .await
        .map_err(|err| ApiFailure::Unavailable(err.into()))
}

async fn done(request: RequestBuilder) -> Result<(), ApiFailure> {
    checked(request).await.map(drop)
}

async fn checked(request: RequestBuilder) -> Result<reqwest::Response, ApiFailure> {
    let response = request
        .send()
        .await
        .map_err(|err| ApiFailure::Unavailable(err.into()))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body: Option<ProblemBody> = response.json().await.ok();
    let (detail, errors) = match body {
        Some(body) => (
            body.detail
                .or(body.title)
                .unwrap_or_else(|| status.to_string()),
            body.errors.unwrap_or_default(),
        ),
        None => (status.to_string(), Vec::new()),
    };
    if status.is_server_error() {
        return Err(ApiFailure::Unavailable(anyhow::anyhow!(
            "{status}: {detail}"
        )));
    }
    Err(ApiFailure::Problem {
        status,
        detail,
        errors,
    })
}
