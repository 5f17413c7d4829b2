//! The catalogue: search, read, and (administrators) create, replace, delete.

use chrono::Utc;
use common::{
    ApiError, ApiResult,
    auth::BearerAuth,
    etag::matches_any,
    idempotency::{NewId, idempotent},
    json::{JsonBody, JsonOut},
    routes::Access,
    time::Timestamp,
};
use mongodb::bson;
use poem::Request;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
};

use super::{
    Ctx, Tag,
    bodies::EventIn,
    event_id,
    search_params::SearchParams,
    views::{EventOut, SearchPage},
};
use crate::store::{EventDoc, WriteError};

pub struct EventsApi {
    pub ctx: Ctx,
}

impl Created {
    fn of(event: &EventDoc) -> Self {
        Self::Created(
            JsonOut(EventOut::from(event)),
            format!("/api/v1/events/{}", event.id),
            etag(event),
        )
    }
}

#[derive(ApiResponse)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per request and moved straight into the response"
)]
enum OneEvent {
    /// The event.
    #[oai(status = 200)]
    Ok(
        JsonOut<EventOut>,
        /// The event's version in quotes; send it back in `If-None-Match` or `If-Match`.
        #[oai(header = "ETag")]
        String,
    ),
    /// The event has not changed since the version in `If-None-Match`.
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
enum Created {
    /// The event is in the catalogue.
    #[oai(status = 201)]
    Created(
        JsonOut<EventOut>,
        /// Where it can be read.
        #[oai(header = "Location")]
        String,
        #[oai(header = "ETag")] String,
    ),
}

#[derive(ApiResponse)]
enum Replaced {
    /// The event as it is now.
    #[oai(status = 200)]
    Ok(JsonOut<EventOut>, #[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
enum Deleted {
    /// The event is gone; its pending reminders are being cancelled.
    #[oai(status = 204)]
    Done,
}

#[OpenApi(prefix_path = "/api/v1/events", tag = "Tag::Events")]
impl EventsApi {
    /// Search upcoming events. Every filter combines with every other: `topic` (repeatable: any
    /// of them), `from`/`to` (start time range; without `from`, only events that have not
    /// started), `near=lat,lon` with `radius_km` (great-circle distance; results carry
    /// `distance_km`), `q` (every word must appear in the title or description, any case),
    /// `sort=starts_at` (default) or `sort=distance` (needs `near`). Paginated by `cursor`.
    #[oai(path = "/", method = "get", operation_id = "events.search")]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per documented query parameter"
    )]
    async fn search_events(
        &self,
        /// Events with any of these topics (repeat the parameter for several); each a slug
        /// like `live-music`, at most 40 characters.
        topic: Query<Vec<String>>,
        /// Events starting at or after this instant (RFC 3339). Default: now.
        from: Query<Option<Timestamp>>,
        /// Events starting before this instant (RFC 3339).
        to: Query<Option<Timestamp>>,
        /// Centre of a location search, `lat,lon` in degrees (e.g. `37.18,-3.60`).
        #[oai(validator(
            pattern = r"^-?(90(\.0+)?|[1-8]?[0-9](\.[0-9]+)?),-?(180(\.0+)?|(1[0-7][0-9]|[1-9]?[0-9])(\.[0-9]+)?)$"
        ))]
        near: Query<Option<String>>,
        /// Radius around `near` in kilometres, more than 0 and at most 1000. Default 25.
        #[oai(validator(minimum(value = "0", exclusive = true), maximum(value = "1000")))]
        radius_km: Query<Option<f64>>,
        /// Words that must all appear in the title or description (any case, any English word
        /// form; the last word may be the start of one; words of five letters or more may have
        /// one typo).
        q: Query<Option<String>>,
        /// `relevance` (the default with `q`: title matches first, then the soonest),
        /// `starts_at` (the default without) or `distance` (needs `near`).
        #[oai(validator(pattern = "^(relevance|starts_at|distance)$"))]
        sort: Query<Option<String>>,
        /// Items per page, 1 to 100. Default 20.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<JsonOut<SearchPage>> {
        let params = SearchParams {
            topics: topic.0,
            from: from.0,
            to: to.0,
            near: near.0,
            radius_km: radius_km.0,
            q: q.0,
            sort: sort.0,
            limit: limit.0,
            cursor: cursor.0,
        };
        let search = params.parse(Utc::now())?;
        Ok(JsonOut(SearchPage::of(&self.ctx.catalogue, &search)))
    }

    /// One event, with its `ETag`. With `If-None-Match` holding the current ETag: 304.
    #[oai(path = "/:id", method = "get", operation_id = "events.get")]
    async fn get_event(
        &self,
        /// The event's id.
        id: Path<String>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> ApiResult<OneEvent> {
        let event = self
            .ctx
            .catalogue
            .get(event_id(&id)?)
            .ok_or(ApiError::NotFound("event"))?;
        let etag = etag(&event);
        if if_none_match
            .as_deref()
            .is_some_and(|tags| matches_any(tags, &etag))
        {
            return Ok(OneEvent::NotModified(etag));
        }
        Ok(OneEvent::Ok(JsonOut(EventOut::from(event.as_ref())), etag))
    }

    /// Add an event (administrators).
    ///
    /// Send an `Idempotency-Key` to retry safely: the same key and body within 24 h answer as
    /// the first request did, and add nothing more.
    #[oai(
        path = "/",
        method = "post",
        operation_id = "events.create",
        transform = "idempotent"
    )]
    async fn create_event(
        &self,
        auth: BearerAuth,
        request: &Request,
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        _idempotency_key: Header<Option<String>>,
        body: JsonBody<EventIn>,
    ) -> ApiResult<Created> {
        auth.require(Access::Admin)?;
        let new_id = NewId::of(request);
        if new_id.retried()
            && let Some(earlier) = self.ctx.store.event(new_id.id()).await?
        {
            return Ok(Created::of(&earlier));
        }
        let draft = body.0.parse()?;
        let event = draft.into_doc(new_id.id(), 1, bson::DateTime::now());
        let version = self.ctx.store.create(&event).await?;
        self.ctx.announce(&version).await;
        tracing::info!(event_id = %event.id, "event created");
        Ok(Created::of(&event))
    }

    /// Replace an event (administrators). Send the `ETag` you read in `If-Match`: if the event
    /// changed since, nothing is written and the answer is 412. Announces `event.updated`, so
    /// reminders relative to its start follow it.
    #[oai(path = "/:id", method = "put", operation_id = "events.replace")]
    async fn replace_event(
        &self,
        auth: BearerAuth,
        /// The event's id.
        id: Path<String>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
        body: JsonBody<EventIn>,
    ) -> ApiResult<Replaced> {
        auth.require(Access::Admin)?;
        // The body first: a request that could never succeed says why before whether it is stale.
        let draft = body.0.parse()?;
        let current = self.live(&id).await?;
        check_if_match(if_match.as_deref(), &current)?;
        let next = draft.into_doc(current.id, current.version + 1, current.created_at);
        let version = self
            .ctx
            .store
            .replace(&current, &next)
            .await
            .map_err(stale)?;
        self.ctx.announce(&version).await;
        tracing::info!(event_id = %next.id, version = next.version, "event replaced");
        Ok(Replaced::Ok(JsonOut(EventOut::from(&next)), etag(&next)))
    }

    /// Delete an event (administrators); `If-Match` is honoured as for PUT. Announces
    /// `event.deleted`: its pending reminders are cancelled and everyone's saves of it dropped.
    #[oai(path = "/:id", method = "delete", operation_id = "events.delete")]
    async fn delete_event(
        &self,
        auth: BearerAuth,
        /// The event's id.
        id: Path<String>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
    ) -> ApiResult<Deleted> {
        auth.require(Access::Admin)?;
        let current = self.live(&id).await?;
        check_if_match(if_match.as_deref(), &current)?;
        let version = self.ctx.store.delete(&current).await.map_err(stale)?;
        self.ctx.announce(&version).await;
        tracing::info!(event_id = %current.id, "event deleted");
        Ok(Deleted::Done)
    }
}

impl EventsApi {
    /// The event as the database holds it, which a write must start from.
    async fn live(&self, raw_id: &str) -> ApiResult<EventDoc> {
        let id = event_id(raw_id)?;
        self.ctx
            .store
            .event(id)
            .await?
            .ok_or(ApiError::NotFound("event"))
    }
}

/// The strong ETag of an event's version.
fn etag(event: &EventDoc) -> String {
    format!("\"{}\"", event.version)
}

fn check_if_match(if_match: Option<&str>, current: &EventDoc) -> ApiResult<()> {
    match if_match {
        Some(tags) if !matches_any(tags, &etag(current)) => Err(ApiError::PreconditionFailed(
            format!("the event is at version {}; read it again", current.version),
        )),
        _ => Ok(()),
    }
}

fn stale(err: WriteError) -> ApiError {
    match err {
        WriteError::Stale => {
            ApiError::PreconditionFailed("the event was changed meanwhile; read it again".into())
        }
        WriteError::Store(err) => err.into(),
    }
}
