//! Runs a [`Search`]: the database narrows by indexed fields (start time, topics, words and the
//! bounding box of the circle); the exact great-circle distance then decides who is in the
//! circle, and orders by distance when asked.

use common::{page::Page, store::StoreResult};
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
    /// One page of `search`.
    pub async fn search(&self, search: &Search) -> StoreResult<Page<Found>> {
        let found = match search.sort {
            Sort::StartsAt => {
                self.soonest(search, Page::<Found>::read_size(search.limit))
                    .await?
            }
            Sort::Distance => self.nearest(search).await?,
        };
        Ok(Page::from_read(found, search.limit))
    }

    /// In start order, streaming until `wanted` items passed the distance check.
    async fn soonest(&self, search: &Search, wanted: usize) -> StoreResult<Vec<Found>> {
        let (events, filter, near) = (self.events.clone(), filter(search), search.near);
        self.deadline
            .run("searching events", async move {
                let mut cursor = events
                    .find(filter)
                    .sort(doc! { "starts_at": 1, "_id": 1 })
                    .batch_size(u32::try_from(wanted).unwrap_or(u32::MAX).max(16))
                    .await?;
                let mut found = Vec::with_capacity(wanted);
                while found.len() < wanted {
                    let Some(event) = cursor.try_next().await? else {
                        break;
                    };
                    found.extend(within(near, event));
                }
                Ok::<_, mongodb::error::Error>(found)
            })
            .await
    }

    /// Every candidate in the bounding box, measured, sorted by distance, after the cursor.
    async fn nearest(&self, search: &Search) -> StoreResult<Vec<Found>> {
        let (collection, filter) = (self.events.clone(), filter(search));
        let events: Vec<EventDoc> = self
            .deadline
            .run("searching events near a point", async move {
                collection.find(filter).await?.try_collect().await
            })
            .await?;
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
    pub async fn explain(&self, search: &Search) -> StoreResult<Document> {
        let command = doc! {
            "explain": {
                "find": self.events.name(),
                "filter": filter(search),
                "sort": { "starts_at": 1, "_id": 1 },
            },
            "verbosity": "queryPlanner",
        };
        let db = self.db.clone();
        self.deadline
            .run("explaining a search", async move {
                db.run_command(command).await
            })
            .await
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
