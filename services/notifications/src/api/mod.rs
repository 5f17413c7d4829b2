//! The HTTP API: the reminders resource and its OpenAPI document.

mod bodies;
mod caller;
mod new_reminder;
mod reminders;
mod timing;
mod views;

use std::sync::Arc;

use common::{auth::JwksVerifier, idempotency::IdempotencyKeys};
use poem::{EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::{
    cancellation::Canceller, clients::Services, scheduler::notices::Notices, store::Store,
};

#[derive(Tags)]
pub enum Tag {
    /// Email reminders of events.
    Notifications,
}

/// What every handler may use.
#[derive(Clone)]
pub struct Ctx {
    pub store: Store,
    pub canceller: Canceller,
    /// Tells the schedulers of every change, so that one inside their window goes as changed.
    pub notices: Notices,
    pub services: Services,
}

/// The service's routes: the API and its OpenAPI document at `/openapi.json`.
pub fn routes(ctx: Ctx, verifier: Arc<JwksVerifier>, keys: IdempotencyKeys) -> Route {
    let api = OpenApiService::new(
        reminders::RemindersApi { ctx },
        "eventpost notifications",
        env!("CARGO_PKG_VERSION"),
    );
    let spec = api.spec_endpoint();
    Route::new()
        .at("/openapi.json", spec)
        .nest("/", api.data(verifier).data(keys))
}
