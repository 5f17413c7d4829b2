//! What this service asks other services over HTTP, on behalf of the caller: the users service
//! for the caller's addresses and zone (with the caller's own token, so it can only learn what the caller
//! may), the events service for the event a reminder is about.

use std::time::Duration;

use common::{
    ApiError,
    domain::{EventId, TimeZone, ids::hex},
    messages::EventSummary,
    request_id,
    time::Timestamp,
};
use reqwest::StatusCode;
use serde::Deserialize;
use url::Url;

/// How long a dependency may take to answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The users and events services.
#[derive(Clone)]
pub struct Services {
    http: reqwest::Client,
    users: Url,
    events: Url,
}

/// One of the caller's addresses.
#[derive(Debug, Clone, Deserialize)]
pub struct Address {
    pub email: String,
    pub verified: bool,
    pub primary: bool,
}

/// What a reminder needs of its owner's profile.
#[derive(Debug, Clone)]
pub struct Owner {
    pub addresses: Vec<Address>,
    /// The zone wall-clock reminders are set in.
    pub zone: TimeZone,
}

#[derive(Deserialize)]
struct Profile {
    id: String,
    emails: Vec<Address>,
    /// Absent from a users service older than zones.
    timezone: Option<String>,
}

impl From<Profile> for Owner {
    fn from(profile: Profile) -> Self {
        let zone = profile.timezone.map_or(TimeZone::UTC, |raw| {
            TimeZone::or_utc(&raw, "user", &profile.id)
        });
        Self {
            addresses: profile.emails,
            zone,
        }
    }
}

/// An event as the events service shows it (the fields a reminder needs).
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    #[serde(with = "hex")]
    pub id: EventId,
    pub title: String,
    pub starts_at: Timestamp,
    pub ends_at: Option<Timestamp>,
    pub timezone: TimeZone,
    pub place: Place,
    pub version: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Place {
    pub name: String,
    pub address: Option<String>,
}

impl Event {
    pub fn summary(&self) -> EventSummary {
        EventSummary {
            id: self.id,
            title: self.title.clone(),
            starts_at: self.starts_at.0,
            ends_at: self.ends_at.map(|t| t.0),
            timezone: self.timezone,
            place: match &self.place.address {
                Some(address) => format!("{}, {address}", self.place.name),
                None => self.place.name.clone(),
            },
            version: self.version,
        }
    }
}

impl Services {
    pub fn new(users: Url, events: Url) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder().timeout(TIMEOUT).build()?,
            users,
            events,
        })
    }

    /// The caller's addresses and zone, asked with the caller's token.
    pub async fn owner(&self, token: &str) -> Result<Owner, ApiError> {
        let url = self
            .users
            .join("/api/v1/users/me")
            .map_err(anyhow::Error::from)?;
        let response = request_id::propagate(self.http.get(url))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|err| unavailable("users service", err))?;
        match response.status() {
            StatusCode::OK => {
                let profile: Profile = response
                    .json()
                    .await
                    .map_err(|err| unavailable("users service", err))?;
                Ok(Owner::from(profile))
            }
            StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND => Err(ApiError::Unauthorized(
                "the account behind this token no longer exists".into(),
            )),
            status => Err(unavailable("users service", format!("answered {status}"))),
        }
    }

    /// The event `id`, or `None` if there is no such event.
    pub async fn event(&self, id: EventId) -> Result<Option<Event>, ApiError> {
        let url = self
            .events
            .join(&format!("/api/v1/events/{id}"))
            .map_err(anyhow::Error::from)?;
        let response = request_id::propagate(self.http.get(url))
            .send()
            .await
            .map_err(|err| unavailable("events service", err))?;
        match response.status() {
            StatusCode::OK => Ok(Some(
                response
                    .json()
                    .await
                    .map_err(|err| unavailable("events service", err))?,
            )),
            StatusCode::NOT_FOUND => Ok(None),
            status => Err(unavailable("events service", format!("answered {status}"))),
        }
    }
}

fn unavailable(dependency: &'static str, err: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable {
        dependency,
        source: anyhow::anyhow!("{err}"),
    }
}
