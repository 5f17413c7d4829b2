//! The discover page: a search box, date presets, topic chips with their counts, and results
//! that page.

use chrono::Utc;
use chrono_tz::Tz;
use minijinja::context;
use poem::{Response, handler, http::StatusCode, web::Query};
use serde::{Deserialize, Serialize};

use super::{
    Visitor,
    time::{Preset, on_clock_of},
};
use crate::api::{Event, Search};

/// Events per page.
const PAGE_SIZE: u32 = 20;

/// What the search form sends.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct SearchForm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    when: Option<String>,
    /// The visitor's time zone (IANA), for the presets; else a signed-in visitor's profile
    /// zone, else UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tz: Option<String>,
    /// A city of [`CITIES`] by name, or `lat,lon` (the browser's location, when the visitor
    /// shares it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    near: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

impl SearchForm {
    /// This search with `change` made, as the address of its first page.
    fn href(&self, change: impl FnOnce(&mut Self)) -> String {
        let mut other = self.clone();
        other.cursor = None;
        change(&mut other);
        let query = query_of(&other);
        if query.is_empty() {
            "/".into()
        } else {
            format!("/?{query}")
        }
    }
}

fn query_of(form: &SearchForm) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let fields = [
        ("q", &form.q),
        ("topic", &form.topic),
        ("when", &form.when),
        ("tz", &form.tz),
        ("near", &form.near),
        ("cursor", &form.cursor),
    ];
    for (name, value) in fields {
        if let Some(value) = value.as_deref().filter(|value| !value.is_empty()) {
            query.append_pair(name, value);
        }
    }
    query.finish()
}

/// An event as a list shows it.
#[derive(Serialize)]
pub struct EventItem {
    id: String,
    title: String,
    starts_at: String,
    starts_local: String,
    place: String,
    topics: Vec<String>,
}

impl From<&Event> for EventItem {
    fn from(event: &Event) -> Self {
        Self {
            id: event.id.clone(),
            title: event.title.clone(),
            starts_at: event.starts_at.to_rfc3339(),
            starts_local: on_clock_of(event.starts_at, &event.timezone),
            place: event.place.name.clone(),
            topics: event.topics.clone(),
        }
    }
}

#[derive(Serialize)]
struct TopicChip {
    slug: String,
    count: u64,
    chosen: bool,
    href: String,
}

/// The places "near" offers without the browser's location: name, latitude, longitude.
const CITIES: [(&str, f64, f64); 8] = [
    ("Amsterdam", 52.3676, 4.9041),
    ("Barcelona", 41.3874, 2.1686),
    ("Berlin", 52.52, 13.405),
    ("Lisbon", 38.7223, -9.1393),
    ("London", 51.5072, -0.1276),
    ("Madrid", 40.4168, -3.7038),
    ("Paris", 48.8566, 2.3522),
    ("Rome", 41.9028, 12.4964),
];

/// How far "near" reaches, in km.
const NEAR_KM: u32 = 25;

/// `near` as the API's `lat,lon`: a city's, or coordinates as given.
fn position(near: &str) -> Option<String> {
    if let Some((_, lat, lon)) = CITIES.iter().find(|(name, _, _)| *name == near) {
        return Some(format!("{lat},{lon}"));
    }
    let (lat, lon) = near.split_once(',')?;
    let (lat, lon): (f64, f64) = (lat.trim().parse().ok()?, lon.trim().parse().ok()?);
    Some(format!("{lat:.4},{lon:.4}"))
}

#[handler]
pub async fn discover(visitor: Visitor, Query(form): Query<SearchForm>) -> Response {
    let chosen_zone = form.tz.as_deref().and_then(|zone| zone.parse::<Tz>().ok());
    let zone = match (chosen_zone, &visitor.login) {
        (Some(zone), _) => zone,
        (None, Some(login)) if form.when.is_some() => visitor
            .api()
            .zone(login.caller(visitor.address))
            .await
            .ok()
            .and_then(|zone| zone.parse().ok())
            .unwrap_or(Tz::UTC),
        _ => Tz::UTC,
    };
    let near = form.near.as_deref().and_then(position);
    let preset = form.when.as_deref().and_then(Preset::parse);
    let (from, to) = match preset {
        Some(preset) => {
            let (from, to) = preset.range(Utc::now(), zone);
            (Some(from), Some(to))
        }
        None => (None, None),
    };
    let search = Search {
        q: form.q.clone().filter(|q| !q.trim().is_empty()),
        topic: form.topic.clone().filter(|topic| !topic.is_empty()),
        from,
        to,
        radius_km: near.as_ref().map(|_| NEAR_KM),
        near,
        cursor: form.cursor.clone(),
        limit: PAGE_SIZE,
    };
    let caller = match &visitor.login {
        Some(login) => login.caller(visitor.address),
        None => visitor.anonymous(),
    };
    let page = match visitor.api().search(caller, &search).await {
        Ok(page) => page,
        Err(failure) => return visitor.failed(&failure),
    };
    let topics: Vec<TopicChip> = page
        .facets
        .topics
        .iter()
        .map(|(slug, count)| {
            let chosen = form.topic.as_deref() == Some(slug.as_str());
            TopicChip {
                slug: slug.clone(),
                count: *count,
                chosen,
                href: form.href(|other| {
                    other.topic = (!chosen).then(|| slug.clone());
                }),
            }
        })
        .collect();
    let events: Vec<EventItem> = page.items.iter().map(EventItem::from).collect();
    let more = page.next_cursor.map(|cursor| {
        let mut next = form.clone();
        next.cursor = Some(cursor);
        format!("/?{}", query_of(&next))
    });
    visitor.render(
        StatusCode::OK,
        "discover.html",
        context! {
            title => "Discover events",
            search => form,
            when => preset.map(Preset::value),
            presets => Preset::choices(),
            cities => CITIES.iter().map(|(name, _, _)| *name).collect::<Vec<_>>(),
            near_km => NEAR_KM,
            zone => zone.name(),
            topics,
            events,
            item_level => 3,
            more,
        },
    )
}
