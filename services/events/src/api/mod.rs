//! The HTTP API: one `#[OpenApi]` struct per resource, assembled into one document.

mod events;
mod models;
mod saved;
mod search_params;

use std::sync::Arc;

use common::{ApiError, ApiResult, auth::JwksVerifier};
use mongodb::bson::oid::ObjectId;
use poem::{EndpointExt, Route};
use poem_openapi::OpenApiService;

use crate::{relay::Relay, store::Store};

pub use models::{EventIn, PlaceIn};
pub use search_params::SearchParams;

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
fn event_id(raw: &str) -> ApiResult<ObjectId> {
    ObjectId::parse_str(raw).map_err(|_| ApiError::NotFound("event"))
}
