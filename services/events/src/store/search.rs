//! Runs a [`Search`]: the database narrows by indexed fields (start time, topics, words and the
//! bounding box of the circle); the exact great-circle distance then decides who is in the
//! circle, and orders by distance when asked.

use anyhow::Context;
use futures::TryStreamExt;
use mongodb::bson::{self, Document, doc};

use super::{EventDoc, Store};
use crate::{
    domain::BoundingBox,
    search::{Cursor, Near, Search, Sort},
};

/// An event a search found, with its distance when the search had a centre.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub event: EventDoc,
    pub distance_km: Option<f64>,
}

impl Found {
    /// The cursor that resumes a search after this item.
    pub fn cursor(&self, sort: Sort) -> Cursor {
        match (sort, self.distance_km) {
            (Sort::Distance, Some(km)) => Cursor::Distance {
                km,
                id: self.event.id,
            },
            _ => Cursor::StartsAt {
                starts_at: self.event.starts_at.to_chrono(),
                id: self.event.id,
            },
        }
    }
}

impl Store {
    /// One page of `search`, plus whether more follow.
    pub async fn search(&self, search: &Search) -> anyhow::Result<(Vec<Found>, bool)> {
        let wanted = usize::try_from(search.limit).unwrap_or(usize::MAX);
        let mut found = match search.sort {
            Sort::StartsAt => self.soonest(search, wanted + 1).await?,
            Sort::Distance => self.nearest(search).await?,
        };
        let more = found.len() > wanted;
        found.truncate(wanted);
        Ok((found, more))
    }

    /// In start order, streaming until `wanted` items passed the distance check.
    async fn soonest(&self, search: &Search, wanted: usize) -> anyhow::Result<Vec<Found>> {
        let mut cursor = self
            .events
            .find(filter(search))
            .sort(doc! { "starts_at": 1, "_id": 1 })
            .batch_size(u32::try_from(wanted).unwrap_or(u32::MAX).max(16))
            .await
            .context("searching events")?;
        let mut found = Vec::with_capacity(wanted);
        while found.len() < wanted {
            let Some(event) = cursor.try_next().await.context("searching events")? else {
                break;
            };
            if let Some(hit) = within(search.near, event) {
                found.push(hit);
            }
        }
        Ok(found)
    }

    /// Every candidate in the bounding box, measured, sorted by distance, after the cursor.
    async fn nearest(&self, search: &Search) -> anyhow::Result<Vec<Found>> {
        let events: Vec<EventDoc> = self
            .events
            .find(filter(search))
            .await
            .context("searching events near a point")?
            .try_collect()
            .await
            .context("searching events near a point")?;
        let mut found: Vec<Found> = events
            .into_iter()
            .filter_map(|event| within(search.near, event))
            .filter(|hit| match search.after {
                Some(Cursor::Distance { km, id }) => {
                    let d = hit.distance_km.unwrap_or(f64::MAX);
                    d > km || (d == km && hit.event.id > id)
                }
                _ => true,
            })
            .collect();
        found.sort_by(|a, b| {
            let (da, db) = (
                a.distance_km.unwrap_or(f64::MAX),
                b.distance_km.unwrap_or(f64::MAX),
            );
            da.total_cmp(&db).then(a.event.id.cmp(&b.event.id))
        });
        Ok(found)
    }

    /// What the server plans for `search`'s query (for tests that check index use).
    pub async fn explain(&self, search: &Search) -> anyhow::Result<Document> {
        let command = doc! {
            "explain": {
                "find": self.events.name(),
                "filter": filter(search),
                "sort": { "starts_at": 1, "_id": 1 },
            },
            "verbosity": "queryPlanner",
        };
        self.db
            .run_command(command)
            .await
            .context("explaining a search")
    }
}

/// `event` with its distance if it lies in the circle (or if there is no circle).
fn within(near: Option<Near>, event: EventDoc) -> Option<Found> {
    let Some(near) = near else {
        return Some(Found {
            event,
            distance_km: None,
        });
    };
    let km = event.place.position()?.distance_km(near.center);
    (km <= near.radius.km()).then_some(Found {
        event,
        distance_km: Some(km),
    })
}

/// The query for everything but the exact distance.
fn filter(search: &Search) -> Document {
    let mut starts_at = doc! { "$gte": bson::DateTime::from_chrono(search.from) };
    if let Some(to) = search.to {
        starts_at.insert("$lt", bson::DateTime::from_chrono(to));
    }
    let mut clauses = vec![doc! { "starts_at": starts_at }];
    if !search.topics.is_empty() {
        let topics: Vec<&str> = search.topics.iter().map(|t| t.as_str()).collect();
        clauses.push(doc! { "topics": { "$in": topics } });
    }
    if !search.words.is_empty() {
        clauses.push(doc! { "words": { "$all": &search.words } });
    }
    if !search.exclude.is_empty() {
        clauses.push(doc! { "_id": { "$nin": &search.exclude } });
    }
    if let Some(near) = search.near {
        clauses.push(in_box(&BoundingBox::around(near.center, near.radius)));
    }
    if let Some(Cursor::StartsAt { starts_at, id }) = search.after {
        let starts_at = bson::DateTime::from_chrono(starts_at);
        clauses.push(doc! { "$or": [
            { "starts_at": { "$gt": starts_at } },
            { "starts_at": starts_at, "_id": { "$gt": id } },
        ] });
    }
    doc! { "$and": clauses }
}

fn in_box(bbox: &BoundingBox) -> Document {
    let lat = doc! { "$gte": bbox.min_lat, "$lte": bbox.max_lat };
    match bbox.lon_ranges() {
        [(west, east)] => doc! { "place.lat": lat, "place.lon": { "$gte": west, "$lte": east } },
        ranges => {
            let lons: Vec<Document> = ranges
                .iter()
                .map(|(west, east)| doc! { "place.lon": { "$gte": west, "$lte": east } })
                .collect();
            doc! { "place.lat": lat, "$or": lons }
        }
    }
}
