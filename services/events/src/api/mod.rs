//! The HTTP API: one `#[OpenApi]` struct per resource, assembled into one document.

mod bodies;
mod events;
mod saved;
mod search_params;
mod views;

use std::sync::Arc;

use common::{ApiError, ApiResult, auth::JwksVerifier, domain::EventId};
use poem::{EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::{relay::Relay, store::Store};

pub use bodies::{EventIn, PlaceIn};
pub use search_params::SearchParams;

#[derive(Tags)]
pub enum Tag {
    /// The catalogue: searching, reading and (for administrators) editing events.
    Events,
    /// Events a user saved, and events recommended from their interests.
    Saved,
}

/// What every handler may use.
#[derive(Clone)]
pub struct Ctx {
    pub store: Store,
    pub relay: Relay,
}

/// The service's routes: the API and its OpenAPI document at `/openapi.json`.
pub fn routes(ctx: Ctx, verifier: Arc<JwksVerifier>) -> Route {
    let api = OpenApiService::new(
        (
            saved::SavedApi { ctx: ctx.clone() },
            events::EventsApi { ctx },
        ),
        "eventpost events",
        env!("CARGO_PKG_VERSION"),
    );
    let spec = api.spec_endpoint();
    Route::new()
        .at("/openapi.json", spec)
        .nest("/", api.data(verifier))
}

/// An event id from a path: 24 hex digits, or 404 (an id that cannot exist is not found).
fn event_id(raw: &str) -> ApiResult<EventId> {
    EventId::parse(raw).map_err(|_| ApiError::NotFound("event"))
}
