//! What the API reads: request bodies derive `Deserialize` (read by `JsonBody`, which names the
//! failing field) and `Object` (documented); the domain types decide what is allowed.

use common::{
    domain::{EventId, TimeZone, Topic},
    problem::FieldErrors,
    time::Timestamp,
};
use mongodb::bson;
use poem_openapi::Object;
use serde::Deserialize;

use crate::{
    domain::{Coordinates, Description, Organizer, Place, Schedule, Title, Topics},
    store::{EventDoc, PlaceDoc},
};

/// An event to create, or the full new state of one to replace.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct EventIn {
    /// 1 to 120 characters on one line.
    #[oai(validator(
        min_length = 1,
        max_length = 120,
        pattern = "^[^\u{0}-\u{1f}\u{7f}-\u{9f}]*[^\\s\u{0}-\u{1f}\u{7f}-\u{9f}][^\u{0}-\u{1f}\u{7f}-\u{9f}]*$"
    ))]
    pub title: String,
    /// Up to 4,000 characters.
    #[serde(default)]
    #[oai(default, validator(max_length = 4000))]
    pub description: String,
    /// When it starts (any offset; stored in UTC).
    pub starts_at: Timestamp,
    /// When it ends, after `starts_at`.
    #[oai(nullable)]
    pub ends_at: Option<Timestamp>,
    /// IANA time zone its local times are in, e.g. `Europe/Madrid`.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub timezone: String,
    /// Where it happens.
    pub place: PlaceIn,
    /// Who runs it; 1 to 120 characters on one line.
    #[oai(validator(
        min_length = 1,
        max_length = 120,
        pattern = "^[^\u{0}-\u{1f}\u{7f}-\u{9f}]*[^\\s\u{0}-\u{1f}\u{7f}-\u{9f}][^\u{0}-\u{1f}\u{7f}-\u{9f}]*$"
    ))]
    #[oai(nullable)]
    pub organizer: Option<String>,
    /// Up to 10 topic slugs (lowercase, like `live-music`); repeats are dropped.
    #[serde(default)]
    #[oai(
        default,
        validator(max_items = 10, max_length = 40, pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")
    )]
    pub topics: Vec<String>,
}

/// Where an event happens. Give both `lat` and `lon` for it to be found by location.
#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(deny_unknown_fields)]
pub struct PlaceIn {
    /// 1 to 120 characters on one line.
    #[oai(validator(
        min_length = 1,
        max_length = 120,
        pattern = "^[^\u{0}-\u{1f}\u{7f}-\u{9f}]*[^\\s\u{0}-\u{1f}\u{7f}-\u{9f}][^\u{0}-\u{1f}\u{7f}-\u{9f}]*$"
    ))]
    pub name: String,
    /// Up to 200 characters.
    #[oai(validator(max_length = 200))]
    #[oai(nullable)]
    pub address: Option<String>,
    /// Latitude in degrees, −90 to 90.
    #[oai(nullable, validator(minimum(value = "-90"), maximum(value = "90")))]
    pub lat: Option<f64>,
    /// Longitude in degrees, −180 to 180.
    #[oai(nullable, validator(minimum(value = "-180"), maximum(value = "180")))]
    pub lon: Option<f64>,
}

/// An `EventIn` with every field parsed.
pub struct EventDraft {
    pub title: Title,
    pub description: Description,
    pub schedule: Schedule,
    pub timezone: TimeZone,
    pub place: Place,
    pub organizer: Option<Organizer>,
    pub topics: Topics,
}

impl EventIn {
    /// Parses every field, reporting all that are wrong at once (422).
    pub fn parse(self) -> Result<EventDraft, common::ApiError> {
        let mut errors = FieldErrors::default();
        let title = errors.check("title", Title::parse(&self.title));
        let description = errors.check("description", Description::parse(&self.description));
        let schedule = errors.check(
            "ends_at",
            Schedule::parse(self.starts_at.0, self.ends_at.map(|t| t.0)),
        );
        let timezone = errors.check("timezone", TimeZone::parse(&self.timezone));
        let place = parse_place(&self.place, &mut errors);
        let organizer = match self.organizer.as_deref() {
            Some(raw) => errors.check("organizer", Organizer::parse(raw)).map(Some),
            None => Some(None),
        };
        let topics = parse_topics(&self.topics, &mut errors);
        errors.result()?;
        match (
            title,
            description,
            schedule,
            timezone,
            place,
            organizer,
            topics,
        ) {
            (
                Some(title),
                Some(description),
                Some(schedule),
                Some(timezone),
                Some(place),
                Some(organizer),
                Some(topics),
            ) => Ok(EventDraft {
                title,
                description,
                schedule,
                timezone,
                place,
                organizer,
                topics,
            }),
            _ => Err(anyhow::anyhow!("a parsed field went missing").into()),
        }
    }
}

fn parse_place(place: &PlaceIn, errors: &mut FieldErrors) -> Option<Place> {
    let position = match (place.lat, place.lon) {
        (None, None) => Some(None),
        (Some(lat), Some(lon)) => match Coordinates::parse(lat, lon) {
            Ok(position) => Some(Some(position)),
            Err(crate::domain::CoordinatesError::Latitude(err)) => {
                errors.add("place.lat", err.to_string());
                None
            }
            Err(crate::domain::CoordinatesError::Longitude(err)) => {
                errors.add("place.lon", err.to_string());
                None
            }
        },
        (Some(_), None) => {
            errors.add("place.lon", "must be given with place.lat");
            None
        }
        (None, Some(_)) => {
            errors.add("place.lat", "must be given with place.lon");
            None
        }
    };
    match Place::parse(&place.name, place.address.as_deref(), position.flatten()) {
        Ok(parsed) => position.map(|_| parsed),
        Err(crate::domain::PlaceError::Name(err)) => {
            errors.add("place.name", err.to_string());
            None
        }
        Err(crate::domain::PlaceError::Address(err)) => {
            errors.add("place.address", err.to_string());
            None
        }
    }
}

fn parse_topics(raw: &[String], errors: &mut FieldErrors) -> Option<Topics> {
    let mut topics = Vec::with_capacity(raw.len());
    for (i, topic) in raw.iter().enumerate() {
        topics.extend(errors.check(&format!("topics[{i}]"), Topic::parse(topic)));
    }
    if topics.len() != raw.len() {
        return None;
    }
    errors.check("topics", Topics::parse(topics))
}

impl EventDraft {
    /// The stored event: version `version`, created at `created_at`, changed now.
    pub fn into_doc(self, id: EventId, version: i64, created_at: bson::DateTime) -> EventDoc {
        let position = self.place.position();
        EventDoc {
            id,
            title: self.title,
            description: self.description,
            starts_at: bson::DateTime::from_chrono(self.schedule.starts_at()),
            ends_at: self.schedule.ends_at().map(bson::DateTime::from_chrono),
            timezone: self.timezone,
            place: PlaceDoc {
                name: self.place.name().to_owned(),
                address: self.place.address().map(str::to_owned),
                lat: position.map(Coordinates::lat),
                lon: position.map(Coordinates::lon),
            },
            organizer: self.organizer,
            topics: self.topics,
            created_at,
            updated_at: bson::DateTime::now(),
            version,
        }
    }
}
