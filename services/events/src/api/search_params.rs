//! The search's query parameters as received, and their parsing into a [`Search`]: every bad
//! parameter is named in one 400.

use chrono::{DateTime, Utc};
use common::{
    ApiResult, domain::Topic, page::DEFAULT_LIMIT, problem::FieldErrors, time::Timestamp,
};

use crate::{
    domain::{Coordinates, Radius, words},
    search::{Cursor, Near, Search, Sort},
};

/// Radius when `near` comes without `radius_km`.
const DEFAULT_RADIUS_KM: f64 = 25.0;

/// `GET /api/v1/events` parameters, unparsed.
#[derive(Debug, Default)]
pub struct SearchParams {
    pub topics: Vec<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub near: Option<String>,
    pub radius_km: Option<f64>,
    pub q: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl SearchParams {
    /// The search these parameters ask for, as of `now`.
    pub fn parse(self, now: DateTime<Utc>) -> ApiResult<Search> {
        let mut errors = FieldErrors::default();
        let mut topics = Vec::with_capacity(self.topics.len());
        for raw in &self.topics {
            topics.extend(errors.check("topic", Topic::parse(raw)));
        }
        let from = self.from.map_or(now, |t| t.0);
        let to = self.to.map(|t| t.0);
        if to.is_some_and(|to| to <= from) {
            errors.add(
                "to",
                "must be after `from` (or after now, when `from` is not given)",
            );
        }
        let near = self.near(&mut errors);
        let words = self.q.as_deref().map(|q| words([q])).unwrap_or_default();
        let sort = match self.sort.as_deref() {
            None if !words.is_empty() => Some(Sort::Relevance),
            None | Some("starts_at") => Some(Sort::StartsAt),
            Some("distance") if near.is_some() => Some(Sort::Distance),
            Some("distance") => {
                errors.add("sort", "`distance` needs `near`");
                None
            }
            Some("relevance") if !words.is_empty() => Some(Sort::Relevance),
            Some("relevance") => {
                errors.add("sort", "`relevance` needs `q`");
                None
            }
            Some(_) => {
                errors.add("sort", "must be `relevance`, `starts_at` or `distance`");
                None
            }
        };
        let after = match self.cursor.as_deref().map(Cursor::decode) {
            None => None,
            Some(Some(cursor)) if Some(cursor.sort()) == sort => Some(cursor),
            Some(Some(_)) => {
                errors.add("cursor", "belongs to a search with another sort");
                None
            }
            Some(None) => {
                errors.add("cursor", "is not a cursor this API gave out");
                None
            }
        };
        if self.q.as_deref().is_some_and(|q| !q.trim().is_empty()) && words.is_empty() {
            errors.add(
                "q",
                "needs at least one word of two or more letters or digits",
            );
        }
        errors.parameters_result()?;
        Ok(Search {
            topics,
            from,
            to,
            near,
            words,
            exclude: Vec::new(),
            sort: sort.unwrap_or(Sort::StartsAt),
            limit: self.limit.unwrap_or(DEFAULT_LIMIT),
            after,
        })
    }

    fn near(&self, errors: &mut FieldErrors) -> Option<Near> {
        let radius = self
            .radius_km
            .map(|km| errors.check("radius_km", Radius::parse(km)));
        let Some(raw) = self.near.as_deref() else {
            if radius.is_some() {
                errors.add("radius_km", "needs `near`");
            }
            return None;
        };
        let center = errors.check("near", Coordinates::parse_pair(raw))?;
        let radius = match radius {
            Some(radius) => radius?,
            None => Radius::parse(DEFAULT_RADIUS_KM).ok()?,
        };
        Some(Near { center, radius })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::ApiError;

    fn fields(params: SearchParams) -> Vec<String> {
        match params.parse(Utc::now()) {
            Err(ApiError::InvalidParameters(errors)) => {
                errors.into_iter().map(|e| e.field).collect()
            }
            other => panic!("expected invalid parameters, got {other:?}"),
        }
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let now = Utc::now();
        let params = SearchParams {
            topics: vec!["Not A Slug".into()],
            from: Some(Timestamp(now + chrono::Duration::days(2))),
            to: Some(Timestamp(now + chrono::Duration::days(1))),
            near: Some("91,0".into()),
            radius_km: Some(0.0),
            sort: Some("price".into()),
            cursor: Some("garbage".into()),
            ..SearchParams::default()
        };
        assert_eq!(
            fields(params),
            ["topic", "to", "radius_km", "near", "sort", "cursor"]
        );
    }

    #[test]
    fn distance_sort_needs_a_centre_and_radius_needs_near() {
        let params = SearchParams {
            sort: Some("distance".into()),
            radius_km: Some(10.0),
            ..SearchParams::default()
        };
        assert_eq!(fields(params), ["radius_km", "sort"]);
    }

    #[test]
    fn without_parameters_it_is_upcoming_events_soonest_first() {
        let now = Utc::now();
        let search = SearchParams::default().parse(now).unwrap();
        assert_eq!(search, Search::upcoming(now));
    }
}
