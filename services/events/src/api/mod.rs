//! The HTTP API: one `#[OpenApi]` struct per resource, assembled into one document.

mod bodies;
mod events;
mod saved;
mod search_params;
mod views;

use std::sync::Arc;

use common::{
    ApiError, ApiResult, amqp::Publisher, auth::JwksVerifier, domain::EventId,
    idempotency::IdempotencyKeys,
};
use poem::{EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::{
    catalogue::Catalogue,
    changes,
    relay::Relay,
    saves_relay::SavesRelay,
    store::{Store, VersionDoc},
};

pub use bodies::{EventIn, PlaceIn};
pub use search_params::SearchParams;
pub use views::SearchPage;

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
    pub catalogue: Catalogue,
    pub relay: Relay,
    /// Announces saves and unsaves.
    pub saves: SavesRelay,
    /// The domain exchange, for announcing a change the moment it is stored.
    pub domain: Publisher,
}

impl Ctx {
    /// After a write stored `version`: this instance's catalogue shows it before the answer
    /// leaves, the other instances hear of it now, and the relay announces it to everyone else
    /// (and to the instances again, should this publish have failed).
    async fn announce(&self, version: &VersionDoc) {
        self.catalogue.apply(changes::catalogue_change(version));
        let published = match changes::announcement(version) {
            Ok(message) => self
                .domain
                .publish(&message.routing_key, &message.message_id, &message.body)
                .await
                .map_err(anyhow::Error::from),
            Err(err) => Err(err.into()),
        };
        if let Err(err) = published {
            tracing::warn!(error = ?err, version = %version.id, "announcing a change failed; the relay will");
        }
        self.relay.nudge();
    }
}

/// The service's routes: the API and its OpenAPI document at `/openapi.json`.
pub fn routes(ctx: Ctx, verifier: Arc<JwksVerifier>, keys: IdempotencyKeys) -> Route {
    let api = OpenApiService::new(
        (
            saved::SavedApi { ctx: ctx.clone() },
            events::EventsApi { ctx },
        ),
        "eventpost events",
        env!("CARGO_PKG_VERSION"),
    );
    let spec = common::openapi::endpoint(&api);
    Route::new()
        .at("/openapi.json", spec)
        .nest("/", api.data(verifier).data(keys))
}

/// An event id from a path: 24 hex digits, or 404 (an id that cannot exist is not found).
fn event_id(raw: &str) -> ApiResult<EventId> {
    EventId::parse(raw).map_err(|_| ApiError::NotFound("event"))
}
