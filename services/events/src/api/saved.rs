//! Saved ("liked") events and recommendations.
//!
//! A user's interests are the topics in their access token (the profile's `interests`, set with
//! `PATCH /api/v1/users/me`) together with the topics of the events they saved most recently.
//! Recommendations are upcoming events in any of those topics that they have not saved yet.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use common::{ApiError, ApiResult, auth::BearerAuth, domain::Topic, problem::FieldError};
use mongodb::bson::{self, oid::ObjectId};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{
    Ctx, event_id,
    models::{EventOut, EventPage, Tag},
};
use crate::{
    search::{Cursor, DEFAULT_LIMIT, Search},
    store::SavedDoc,
};

/// How many of a user's latest saves make up their interests.
const SAVES_READ_FOR_INTERESTS: i64 = 100;

pub struct SavedApi {
    pub ctx: Ctx,
}

#[derive(ApiResponse)]
enum Done {
    /// Done (also when it already was).
    #[oai(status = 204)]
    Done,
}

#[OpenApi(prefix_path = "/api/v1/events", tag = "Tag::Saved")]
impl SavedApi {
    /// Save (like) an event. Idempotent.
    #[oai(path = "/:id/saved", method = "put", operation_id = "events.save")]
    async fn save_event(
        &self,
        auth: BearerAuth,
        /// The event's id.
        id: Path<String>,
    ) -> ApiResult<Done> {
        let id = event_id(&id)?;
        let event = self
            .ctx
            .store
            .event(id)
            .await?
            .ok_or(ApiError::NotFound("event"))?;
        let topics = event.topics.as_slice().to_vec();
        self.ctx
            .store
            .save(&SavedDoc::new(&auth.0.sub, id, topics))
            .await?;
        Ok(Done::Done)
    }

    /// Unsave an event. Idempotent.
    #[oai(path = "/:id/saved", method = "delete", operation_id = "events.unsave")]
    async fn unsave_event(
        &self,
        auth: BearerAuth,
        /// The event's id.
        id: Path<String>,
    ) -> ApiResult<Done> {
        let id = event_id(&id)?;
        self.ctx.store.unsave(&auth.0.sub, id).await?;
        Ok(Done::Done)
    }

    /// The events I saved, latest save first. Deleted events drop out.
    #[oai(path = "/saved", method = "get", operation_id = "events.saved")]
    async fn saved_events(
        &self,
        auth: BearerAuth,
        /// Items per page, 1 to 100. Default 20.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<EventPage>> {
        let after = cursor.0.as_deref().map(decode_saved_cursor).transpose()?;
        let limit = i64::from(limit.0.unwrap_or(DEFAULT_LIMIT));
        let mut saves = self
            .ctx
            .store
            .saved_by(&auth.0.sub, after.as_ref(), limit + 1)
            .await?;
        let more = saves.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        saves.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let ids: Vec<ObjectId> = saves.iter().map(|s| s.event_id).collect();
        let events = self.ctx.store.events(&ids).await?;
        let items = ids
            .iter()
            .filter_map(|id| events.iter().find(|e| e.id == *id))
            .map(EventOut::from)
            .collect();
        let next_cursor = more
            .then(|| saves.last().map(encode_saved_cursor))
            .flatten();
        Ok(Json(EventPage { items, next_cursor }))
    }

    /// Upcoming events in my interests' topics (see the tag's description), soonest first,
    /// leaving out those I saved.
    #[oai(
        path = "/recommended",
        method = "get",
        operation_id = "events.recommended"
    )]
    async fn recommended_events(
        &self,
        auth: BearerAuth,
        /// Items per page, 1 to 100. Default 20.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<EventPage>> {
        let after = match cursor.0.as_deref().map(Cursor::decode) {
            None => None,
            Some(Some(cursor @ Cursor::StartsAt { .. })) => Some(cursor),
            Some(_) => return Err(bad_cursor()),
        };
        let saves = self
            .ctx
            .store
            .saved_by(&auth.0.sub, None, SAVES_READ_FOR_INTERESTS)
            .await?;
        let mut topics: Vec<Topic> = auth
            .0
            .interests
            .iter()
            .filter_map(|t| Topic::parse(t).ok())
            .collect();
        for topic in saves.iter().flat_map(|s| s.topics.iter()) {
            if !topics.contains(topic) {
                topics.push(topic.clone());
            }
        }
        if topics.is_empty() {
            return Ok(Json(EventPage {
                items: Vec::new(),
                next_cursor: None,
            }));
        }
        let search = Search {
            topics,
            exclude: saves.iter().map(|s| s.event_id).collect(),
            limit: limit.0.unwrap_or(DEFAULT_LIMIT),
            after,
            ..Search::upcoming(Utc::now())
        };
        Ok(Json(EventPage::of(&self.ctx.store, &search).await?))
    }
}

fn encode_saved_cursor(save: &SavedDoc) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "s:{}:{}",
        save.saved_at.timestamp_millis(),
        save.id
    ))
}

fn decode_saved_cursor(raw: &str) -> ApiResult<(bson::DateTime, String)> {
    let decoded = URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let parsed = decoded.as_deref().and_then(|text| {
        let mut parts = text.splitn(3, ':');
        let (kind, millis, id) = (parts.next()?, parts.next()?, parts.next()?);
        (kind == "s").then_some(())?;
        Some((
            bson::DateTime::from_millis(millis.parse().ok()?),
            id.to_owned(),
        ))
    });
    parsed.ok_or_else(bad_cursor)
}

fn bad_cursor() -> ApiError {
    ApiError::InvalidParameters(vec![FieldError::new(
        "cursor",
        "is not a cursor this API gave out",
    )])
}
