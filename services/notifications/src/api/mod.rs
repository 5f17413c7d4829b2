//! The HTTP API: the reminders resource and its OpenAPI document.

mod bodies;
mod caller;
mod feed;
mod mail;
mod new_reminder;
mod reminders;
mod timing;
mod views;

use std::sync::Arc;

use common::{auth::JwksVerifier, idempotency::IdempotencyKeys};
use poem::{EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};
use url::Url;

use crate::{
    cancellation::Canceller, clients::Services, scheduler::notices::Notices, store::Store,
};

#[derive(Tags)]
pub enum Tag {
    /// Email reminders of events.
    Notifications,
    /// My private calendar of the events I have reminders for.
    Feed,
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
pub fn routes(
    ctx: Ctx,
    public_url: Url,
    verifier: Arc<JwksVerifier>,
    keys: IdempotencyKeys,
) -> Route {
    let apis = (
        reminders::RemindersApi { ctx: ctx.clone() },
        feed::FeedApi {
            ctx: ctx.clone(),
            public_url,
        },
        feed::FeedFileApi { ctx: ctx.clone() },
        mail::MailApi { ctx },
    );
    let api = OpenApiService::new(apis, "eventpost notifications", env!("CARGO_PKG_VERSION"));
    let spec = common::openapi::endpoint(&api);
    Route::new()
        .at("/openapi.json", spec)
        .nest("/", api.data(verifier).data(keys))
}
