//! Saved ("liked") events and recommendations.
//!
//! A user's interests are the topics in their access token (the profile's `interests`, set with
//! `PATCH /api/v1/users/me`) together with the topics of the events they saved most recently.
//! Recommendations are upcoming events in any of those topics that they have not saved yet.

use chrono::Utc;
use common::{
    ApiError, ApiResult,
    auth::BearerAuth,
    domain::{EventId, Topic},
    json::JsonOut,
    page::DEFAULT_LIMIT,
    problem::FieldError,
};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
};

use super::{
    Ctx, Tag, event_id,
    views::{EventOut, EventPage},
};
use crate::{
    search::{Cursor, Search},
    store::{SavedCursor, SavedDoc},
};

/// How many of a user's latest saves make up their interests.
const SAVES_READ_FOR_INTERESTS: u32 = 100;

/// The list tag of saved-events cursors.
const SAVED_LIST: char = 's';

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
            .catalogue
            .get(id)
            .ok_or(ApiError::NotFound("event"))?;
        let topics = event.topics.as_slice().to_vec();
        let saved = SavedDoc::new(auth.user_id(), id, topics);
        if self.ctx.store.save(&saved).await? {
            self.ctx.saves.nudge();
        }
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
        if self.ctx.store.unsave(auth.user_id(), id).await? {
            self.ctx.saves.nudge();
        }
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
    ) -> ApiResult<JsonOut<EventPage>> {
        let after = match cursor.0.as_deref() {
            Some(raw) => Some(SavedCursor::decode(raw, SAVED_LIST).ok_or_else(bad_cursor)?),
            None => None,
        };
        let saves = self
            .ctx
            .store
            .saved_by(
                auth.user_id(),
                after.as_ref(),
                limit.0.unwrap_or(DEFAULT_LIMIT),
            )
            .await?;
        let ids: Vec<EventId> = saves.items.iter().map(|s| s.event_id).collect();
        let items = self
            .ctx
            .catalogue
            .many(&ids)
            .iter()
            .map(|event| EventOut::from(event.as_ref()))
            .collect();
        let next_cursor = saves.next_cursor(|last| last.cursor().encode(SAVED_LIST));
        Ok(JsonOut(EventPage { items, next_cursor }))
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
    ) -> ApiResult<JsonOut<EventPage>> {
        let after = match cursor.0.as_deref().map(Cursor::decode) {
            None => None,
            Some(Some(cursor @ Cursor::StartsAt { .. })) => Some(cursor),
            Some(_) => return Err(bad_cursor()),
        };
        let saves = self
            .ctx
            .store
            .saved_by(auth.user_id(), None, SAVES_READ_FOR_INTERESTS)
            .await?
            .items;
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
            return Ok(JsonOut(EventPage {
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
        Ok(JsonOut(EventPage::of(&self.ctx.catalogue, &search)))
    }
}

fn bad_cursor() -> ApiError {
    ApiError::InvalidParameters(vec![FieldError::new(
        "cursor",
        "is not a cursor this API gave out",
    )])
}
