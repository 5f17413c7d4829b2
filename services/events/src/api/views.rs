//! What the API answers with: documented by the `Object` derive, written by serde
//! ([`common::json::JsonOut`]).

use std::collections::BTreeMap;

use common::{page::Page, time::Timestamp};
use poem_openapi::Object;
use serde::Serialize;

use crate::{
    catalogue::{Catalogue, Found},
    search::Search,
    store::EventDoc,
};

/// An event.
#[derive(Debug, Object, Serialize)]
pub struct EventOut {
    /// 24-hex id.
    pub id: String,
    pub title: String,
    pub description: String,
    pub starts_at: Timestamp,
    #[oai(nullable)]
    pub ends_at: Option<Timestamp>,
    /// IANA time zone its local times are in.
    pub timezone: String,
    pub place: PlaceOut,
    #[oai(nullable)]
    pub organizer: Option<String>,
    /// Topic slugs.
    pub topics: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// 1 when created, one more on every change; the `ETag` is this number in quotes.
    pub version: i64,
    /// Great-circle distance from `near`, in kilometres (searches with `near` only).
    #[oai(nullable)]
    pub distance_km: Option<f64>,
}

/// Where an event happens.
#[derive(Debug, Object, Serialize)]
pub struct PlaceOut {
    pub name: String,
    #[oai(nullable)]
    pub address: Option<String>,
    #[oai(nullable)]
    pub lat: Option<f64>,
    #[oai(nullable)]
    pub lon: Option<f64>,
}

impl From<&EventDoc> for EventOut {
    fn from(event: &EventDoc) -> Self {
        Self {
            id: event.id.to_string(),
            title: event.title.as_str().to_owned(),
            description: event.description.as_str().to_owned(),
            starts_at: Timestamp(event.starts_at.to_chrono()),
            ends_at: event.ends_at.map(|t| Timestamp(t.to_chrono())),
            timezone: event.timezone.name().to_owned(),
            place: PlaceOut {
                name: event.place.name.clone(),
                address: event.place.address.clone(),
                lat: event.place.lat,
                lon: event.place.lon,
            },
            organizer: event.organizer.as_ref().map(|o| o.as_str().to_owned()),
            topics: event
                .topics
                .as_slice()
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            created_at: Timestamp(event.created_at.to_chrono()),
            updated_at: Timestamp(event.updated_at.to_chrono()),
            version: event.version,
            distance_km: None,
        }
    }
}

impl From<&Found> for EventOut {
    fn from(found: &Found) -> Self {
        Self {
            // Rounded to metres: more digits only look precise.
            distance_km: found.distance_km.map(|km| (km * 1000.0).round() / 1000.0),
            ..Self::from(found.event.as_ref())
        }
    }
}

/// One page of a search, with what the whole search found per topic.
#[derive(Debug, Object, Serialize)]
pub struct SearchPage {
    pub items: Vec<EventOut>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
    pub facets: Facets,
}

/// Counts over everything the search finds, not just this page.
#[derive(Debug, Object, Serialize)]
pub struct Facets {
    /// Per topic slug, how many events the search finds with it when its own `topic` filter is
    /// left out: what choosing (or adding) that topic would show.
    pub topics: BTreeMap<String, u64>,
}

impl SearchPage {
    /// The page `search` finds, its cursor and its facets.
    pub fn of(catalogue: &Catalogue, search: &Search) -> Self {
        let (found, topics) = catalogue.search_with_facets(search);
        let page = EventPage::from_page(&found, |last| last.cursor(search.sort).encode());
        Self {
            items: page.items,
            next_cursor: page.next_cursor,
            facets: Facets { topics },
        }
    }
}

/// One page of events.
#[derive(Debug, Object, Serialize)]
pub struct EventPage {
    pub items: Vec<EventOut>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

impl EventPage {
    /// The page `search` finds, with the cursor that continues it.
    pub fn of(catalogue: &Catalogue, search: &Search) -> Self {
        let found = catalogue.search(search);
        Self::from_page(&found, |last| last.cursor(search.sort).encode())
    }

    /// The page of `items`, continued after the last one by `cursor_of`.
    pub fn from_page<T>(page: &Page<T>, cursor_of: impl FnOnce(&T) -> String) -> Self
    where
        for<'a> EventOut: From<&'a T>,
    {
        Self {
            items: page.items.iter().map(EventOut::from).collect(),
            next_cursor: page.next_cursor(cursor_of),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use common::testing::assert_written_as_documented;

    use super::*;
    use crate::seed::demo_doc;

    /// Demo events cover an organizer or none, an address or none, several topics.
    fn events() -> anyhow::Result<Vec<EventDoc>> {
        (0..6).map(|i| demo_doc(i, chrono::Utc::now())).collect()
    }

    #[test]
    fn an_event_is_written_as_documented() -> anyhow::Result<()> {
        for event in events()? {
            assert_written_as_documented(&EventOut::from(&event))?;
            let found = Found {
                event: Arc::new(event),
                distance_km: Some(1.234_567),
                tier: None,
            };
            assert_written_as_documented(&EventOut::from(&found))?;
        }
        Ok(())
    }

    #[test]
    fn a_search_page_is_written_as_documented() -> anyhow::Result<()> {
        let items: Vec<EventOut> = events()?.iter().map(EventOut::from).collect();
        let page = SearchPage {
            items,
            next_cursor: Some("abc".into()),
            facets: Facets {
                topics: BTreeMap::from([("music".into(), 3), ("food".into(), 1)]),
            },
        };
        assert_written_as_documented(&page)?;
        let last = EventPage {
            items: Vec::new(),
            next_cursor: None,
        };
        assert_written_as_documented(&last)
    }
}
