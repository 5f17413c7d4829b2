//! The HTTP API: the reminders resource and its OpenAPI document.

mod actions;
mod bodies;
mod caller;
mod feed;
mod mail;
mod new_reminder;
mod page;
mod reminders;
mod timing;
mod views;

use std::sync::Arc;

use common::{ApiError, ApiResult, auth::JwksVerifier, idempotency::IdempotencyKeys};
use poem::{EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};
use url::Url;

use crate::{
    action_links::ActionLinks,
    cancellation::Canceller,
    clients::Services,
    domain::Transition,
    results::Results,
    scheduler::notices::{Notices, ReminderChanged},
    store::{ReminderDoc, Store},
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
    /// Signs and opens the links in reminder mails.
    pub links: ActionLinks,
    /// Records a reminder's journalled result before it is acted on.
    pub results: Results,
}

impl Ctx {
    /// Records `transition` if the reminder is still as it was read, tells the schedulers, and
    /// answers with the reminder as it now is (409 if it changed meanwhile).
    async fn apply(
        &self,
        reminder: &ReminderDoc,
        transition: Transition,
    ) -> ApiResult<ReminderDoc> {
        if !self.store.record(reminder, &transition).await? {
            return Err(ApiError::Conflict(
                "the reminder changed meanwhile; read it again".into(),
            ));
        }
        let now = self
            .store
            .reminder(reminder.id)
            .await?
            .ok_or(ApiError::NotFound("reminder"))?;
        self.notices.tell(ReminderChanged::of(&now)).await;
        Ok(now)
    }

    /// Cancels a scheduled or queued `reminder` (409 for any other): the email-sender is told
    /// not to mail a queued one.
    async fn cancel(&self, mut reminder: ReminderDoc) -> ApiResult<()> {
        // Read again once if it changed meanwhile: a scheduler may have queued it, which can
        // still be cancelled.
        for _ in 0..2 {
            if self.canceller.cancel(&reminder).await? {
                let cancelled = ReminderChanged {
                    reminder_id: reminder.id,
                    send_at: None,
                };
                self.notices.tell(cancelled).await;
                tracing::info!(reminder_id = %reminder.id, "reminder cancelled");
                return Ok(());
            }
            reminder = self
                .store
                .reminder(reminder.id)
                .await?
                .ok_or(ApiError::NotFound("reminder"))?;
        }
        Err(ApiError::Conflict(format!(
            "the reminder is {}; only a scheduled or queued one can be cancelled",
            reminder.status.as_str()
        )))
    }
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
        mail::MailApi { ctx: ctx.clone() },
        actions::ActionsApi { ctx },
    );
    let api = OpenApiService::new(apis, "eventpost notifications", env!("CARGO_PKG_VERSION"));
    let spec = common::openapi::endpoint(&api);
    Route::new()
        .at("/openapi.json", spec)
        .nest("/", api.data(verifier).data(keys))
}
