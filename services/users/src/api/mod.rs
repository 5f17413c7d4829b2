//! The HTTP API: one `#[OpenApi]` struct per resource, assembled into one document.

mod auth;
mod bodies;
mod emails;
mod keys;
mod passwords;
mod users;
mod views;

use std::{sync::Arc, time::Duration};

use common::{
    auth::JwksVerifier, client_address::TrustedProxies, domain::EmailAddress,
    idempotency::IdempotencyKeys, revocation::RevokedAccounts,
};
use poem::{EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::{
    limits::LoginLimits, mail_links::MailLinks, outbox::Relay, passwords::Passwords, store::Store,
    tokens::Signer,
};

#[derive(Tags)]
pub enum Tag {
    /// Accounts and profiles.
    Users,
    /// Logging in, refreshing and logging out.
    Auth,
    /// Token signing keys.
    Keys,
}

/// What every handler may use.
#[derive(Clone)]
pub struct Ctx {
    pub store: Store,
    pub passwords: Passwords,
    pub signer: Arc<Signer>,
    pub relay: Relay,
    pub limits: Arc<LoginLimits>,
    pub admin_emails: Arc<[EmailAddress]>,
    pub refresh_ttl: Duration,
    /// The peers whose word for the client's address is taken: the gateway.
    pub trusted_proxies: TrustedProxies,
    /// The deleted accounts whose tokens this instance refuses.
    pub revoked: Arc<RevokedAccounts>,
    /// The web app's pages the mails link to.
    pub links: MailLinks,
}

/// The service's routes: the API, its OpenAPI document at `/openapi.json`.
pub fn routes(ctx: Ctx, verifier: Arc<JwksVerifier>, keys: IdempotencyKeys) -> Route {
    let api = OpenApiService::new(
        (
            users::UsersApi { ctx: ctx.clone() },
            users::AccountApi { ctx: ctx.clone() },
            emails::EmailsApi { ctx: ctx.clone() },
            auth::AuthApi { ctx: ctx.clone() },
            passwords::PasswordsApi { ctx: ctx.clone() },
            keys::KeysApi { signer: ctx.signer },
        ),
        "eventpost users",
        env!("CARGO_PKG_VERSION"),
    );
    let spec = common::openapi::endpoint(&api);
    Route::new()
        .at("/openapi.json", spec)
        .nest("/", api.data(verifier).data(keys))
}
