//! A demo catalogue: events in several cities and topics, spread over the coming months, so a
//! fresh deployment has something to search. Deterministic: the same count gives the same events.

use chrono::{DateTime, Duration, Timelike, Utc};
use common::domain::Topic;
use mongodb::bson;

use crate::{
    api::EventIn,
    store::{EventDoc, Store},
};

struct City {
    name: &'static str,
    lat: f64,
    lon: f64,
    timezone: &'static str,
    venues: [&'static str; 3],
}

const CITIES: [City; 8] = [
    City {
        name: "Granada",
        lat: 37.1773,
        lon: -3.5986,
        timezone: "Europe/Madrid",
        venues: [
            "Plaza Bib-Rambla",
            "Teatro Isabel la Católica",
            "Centro Federico García Lorca",
        ],
    },
    City {
        name: "Madrid",
        lat: 40.4168,
        lon: -3.7038,
        timezone: "Europe/Madrid",
        venues: ["Matadero", "Conde Duque", "Círculo de Bellas Artes"],
    },
    City {
        name: "Seville",
        lat: 37.3891,
        lon: -5.9845,
        timezone: "Europe/Madrid",
        venues: ["Setas de Sevilla", "Teatro Lope de Vega", "CaixaForum"],
    },
    City {
        name: "Barcelona",
        lat: 41.3874,
        lon: 2.1686,
        timezone: "Europe/Madrid",
        venues: [
            "Mercat de Sant Antoni",
            "Palau de la Música",
            "Poblenou Hub",
        ],
    },
    City {
        name: "Lisbon",
        lat: 38.7223,
        lon: -9.1393,
        timezone: "Europe/Lisbon",
        venues: ["LX Factory", "Cinema São Jorge", "Hub Criativo do Beato"],
    },
    City {
        name: "Paris",
        lat: 48.8566,
        lon: 2.3522,
        timezone: "Europe/Paris",
        venues: ["La Gaîté Lyrique", "Station F", "Le Centquatre"],
    },
    City {
        name: "Berlin",
        lat: 52.52,
        lon: 13.405,
        timezone: "Europe/Berlin",
        venues: [
            "Kulturbrauerei",
            "Tempelhofer Feld",
            "Factory Görlitzer Park",
        ],
    },
    City {
        name: "London",
        lat: 51.5072,
        lon: -0.1276,
        timezone: "Europe/London",
        venues: ["Barbican Centre", "Southbank Centre", "Somerset House"],
    },
];

/// Topics with the kinds of events listed under them.
const TOPICS: [(&str, [&str; 3]); 12] = [
    ("jazz", ["Jazz night", "Jam session", "Big band evening"]),
    (
        "flamenco",
        [
            "Flamenco show",
            "Cante jondo recital",
            "Flamenco guitar workshop",
        ],
    ),
    (
        "rock",
        [
            "Indie rock gig",
            "Garage rock night",
            "Acoustic rock session",
        ],
    ),
    (
        "rust",
        ["Rust meetup", "Async Rust workshop", "Rust hack night"],
    ),
    (
        "startups",
        ["Founders breakfast", "Pitch night", "Startup hiring fair"],
    ),
    (
        "food",
        ["Tapas tour", "Street food market", "Cooking class"],
    ),
    (
        "wine",
        ["Wine tasting", "Natural wine fair", "Vineyard talk"],
    ),
    (
        "art",
        ["Gallery opening", "Sketching walk", "Printmaking workshop"],
    ),
    (
        "cinema",
        [
            "Open-air cinema",
            "Documentary screening",
            "Short film festival",
        ],
    ),
    (
        "running",
        ["Sunrise 10K", "Trail running meetup", "Park run"],
    ),
    ("books", ["Book club", "Poetry reading", "Author talk"]),
    (
        "photography",
        ["Photo walk", "Portrait workshop", "Street photography talk"],
    ),
];

/// How far ahead the demo events are spread.
const DAYS_AHEAD: i64 = 120;

/// The `index`-th demo event, starting after `now`.
fn demo_event(index: usize, now: DateTime<Utc>) -> EventIn {
    let city = &CITIES[index % CITIES.len()];
    let (topic, kinds) = TOPICS[(index * 7 + index / CITIES.len()) % TOPICS.len()];
    let (second_topic, _) = TOPICS[(index * 5 + 3) % TOPICS.len()];
    let kind = kinds[index % kinds.len()];
    let venue = city.venues[(index / 3) % city.venues.len()];
    let spread = i64::try_from(index).unwrap_or_default();
    let day = 1 + (spread * 37) % DAYS_AHEAD;
    let hour = 10 + (spread * 5) % 12;
    let midnight = now
        .with_hour(0)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0));
    let starts_at = midnight.unwrap_or(now) + Duration::days(day) + Duration::hours(hour);
    // Scattered around the centre (up to ~5 km), so distance sorting has something to sort.
    let offset = |salt: usize| ((index * salt) % 90) as f64 / 1000.0 - 0.045;
    EventIn {
        title: format!("{kind} in {}", city.name),
        description: format!(
            "{kind} at {venue}, {}. A demo event from the eventpost seed catalogue, number {index}.",
            city.name
        ),
        starts_at: starts_at.into(),
        ends_at: Some((starts_at + Duration::hours(2 + spread % 3)).into()),
        timezone: city.timezone.to_owned(),
        place: crate::api::PlaceIn {
            name: venue.to_owned(),
            address: Some(format!("{venue}, {}", city.name)),
            lat: Some(city.lat + offset(13)),
            lon: Some(city.lon + offset(29)),
        },
        organizer: Some("eventpost demo".to_owned()),
        topics: vec![topic.to_owned(), second_topic.to_owned()]
            .into_iter()
            .filter(|t| Topic::parse(t).is_ok())
            .collect(),
    }
}

/// Adds demo events until the catalogue holds at least `count` upcoming ones; returns how many
/// were added.
pub async fn seed(store: &Store, count: usize, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let existing = usize::try_from(store.count_upcoming(now).await?).unwrap_or(usize::MAX);
    let mut added = 0;
    for index in existing..count {
        let draft = demo_event(index, now)
            .parse()
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        let event: EventDoc =
            draft.into_doc(common::domain::EventId::new(), 1, bson::DateTime::now());
        store.create(&event).await?;
        added += 1;
    }
    Ok(added)
}

/// Stores `count` demo events at once, with no versions to announce: for loading a large
/// catalogue into a database no instance serves yet (benchmarks), which instances then load
/// whole at start. The relay would take hours to announce 100,000 versions one by one.
pub async fn bulk(store: &Store, count: usize, now: DateTime<Utc>) -> anyhow::Result<()> {
    bulk_described(store, count, now, None).await
}

/// [`bulk`], with descriptions lengthened to `description_chars` when given.
pub async fn bulk_described(
    store: &Store,
    count: usize,
    now: DateTime<Utc>,
    description_chars: Option<usize>,
) -> anyhow::Result<()> {
    const BATCH: usize = 1000;
    for first in (0..count).step_by(BATCH) {
        let events = (first..count.min(first + BATCH))
            .map(|index| demo_doc_described(index, now, description_chars))
            .collect::<anyhow::Result<Vec<EventDoc>>>()?;
        store.bulk_insert(events).await?;
    }
    Ok(())
}

/// Demo event `index` as it would be stored, at version 1.
pub fn demo_doc(index: usize, now: DateTime<Utc>) -> anyhow::Result<EventDoc> {
    demo_doc_described(index, now, None)
}

/// Words a long demo description is made of: a few hundred distinct ones over a whole
/// catalogue, as real descriptions share most of theirs.
const PROSE: &str = "Doors open half an hour before the start. Bring friends, a water bottle and \
    comfortable shoes; there is seating for most but not all. The organisers welcome beginners \
    and regulars alike, share notes afterwards, and keep a small library of materials to borrow. \
    Accessible entrance on the side street, lift to every floor, quiet room on request. Tickets \
    at the door, cash or card, reduced for students, members and anyone under eighteen. ";

fn demo_doc_described(
    index: usize,
    now: DateTime<Utc>,
    description_chars: Option<usize>,
) -> anyhow::Result<EventDoc> {
    let mut event = demo_event(index, now);
    if let Some(chars) = description_chars {
        // Rotated per event, so that no two descriptions are the same text.
        let start = (index * 7) % PROSE.len();
        let prose = PROSE[start..].chars().chain(PROSE.chars().cycle());
        let missing = chars.saturating_sub(event.description.chars().count() + 1);
        event.description = format!(
            "{} {}",
            event.description,
            prose.take(missing).collect::<String>()
        );
    }
    let draft = event.parse().map_err(|err| anyhow::anyhow!("{err}"))?;
    Ok(draft.into_doc(common::domain::EventId::new(), 1, bson::DateTime::now()))
}

/// Seeds the database `config` names, logging what it did.
pub async fn run(config: &crate::config::Config, count: usize) -> anyhow::Result<()> {
    let db = common::mongo::connect(&config.mongo, crate::SERVICE).await?;
    let store = Store::open(&db, config.mongo.deadline()).await?;
    let added = seed(&store, count, Utc::now()).await?;
    tracing::info!(added, count, "demo catalogue seeded");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_demo_description_has_the_length_asked_for() {
        let event = demo_doc_described(3, Utc::now(), Some(4000)).unwrap();
        assert_eq!(event.description.as_str().chars().count(), 4000);
    }

    #[test]
    fn every_demo_event_is_valid_and_upcoming() {
        let now = Utc::now();
        for index in 0..1200 {
            let event = demo_event(index, now);
            assert!(event.starts_at.0 > now);
            assert!(event.parse().is_ok(), "demo event {index}");
        }
    }
}
