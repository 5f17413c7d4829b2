//! Assembly: the session store, the API client, the pages and their middleware.

use std::time::Duration;

use base64::Engine;
use common::{
    health::{Check, MongoCheck},
    mongo,
    server::Service,
};
use mongodb::Database;
use poem::{
    EndpointExt, Route,
    middleware::Csrf,
    session::{CookieConfig, ServerSession},
    web::cookie::SameSite,
};
use tokio_util::sync::CancellationToken;

use crate::{
    SERVICE,
    api::Api,
    config::Config,
    pages::{self, Pages},
    security,
    sessions::{MongoSessions, Refreshes},
};

/// How often ended sessions, and refresh answers left by an instance that stopped, are
/// removed.
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "eventpost_session";

/// The web app, bound and ready to serve.
pub struct Application {
    service: Service,
    sessions: MongoSessions,
    refreshes: Refreshes,
    db: Database,
}

impl Application {
    /// Connects and binds (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = mongo::connect(&config.mongo, SERVICE).await?;
        let sessions = MongoSessions::new(&db, config.mongo.deadline());
        let refreshes = Refreshes::new(&db, config.mongo.deadline());
        let api = Api::new(config.api_url.clone(), config.api_timeout)?;
        let csrf_key: [u8; 32] = base64::engine::general_purpose::STANDARD
            .decode(config.csrf_key.expose())
            .ok()
            .and_then(|key| key.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("`csrf_key` must be 32 bytes in base64"))?;
        let cookies = CookieConfig::new()
            .name(SESSION_COOKIE)
            .path("/")
            .http_only(true)
            .secure(config.secure())
            .same_site(SameSite::Lax)
            .max_age(config.session_lifetime);
        let site = security::with_headers(
            pages::routes(Pages::new(api, refreshes.clone())?)?
                .with(ServerSession::new(cookies, sessions.clone()))
                .with(
                    Csrf::new()
                        .cookie_name("eventpost_csrf")
                        .key(csrf_key)
                        .secure(config.secure())
                        .same_site(SameSite::Strict),
                ),
        );
        let route = Route::new().nest("/", site);
        // Every page reads its session.
        let checks: Vec<Box<dyn Check>> = vec![Box::new(MongoCheck(db.clone()))];
        let service = Service::bind(SERVICE, &config.http, route, checks).await?;
        Ok(Self {
            service,
            sessions,
            refreshes,
            db,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The app's own database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Serves until `shutdown` is cancelled, pruning ended sessions now and then.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let sessions = self.sessions.clone();
        let refreshes = self.refreshes.clone();
        let stop = shutdown.clone();
        let pruning = tokio::spawn(async move {
            loop {
                if let Err(err) = sessions.prune().await {
                    tracing::warn!(error = %err, "pruning ended sessions failed");
                }
                if let Err(err) = refreshes.prune().await {
                    tracing::warn!(error = %err, "pruning refresh answers failed");
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(PRUNE_EVERY) => {}
                }
            }
        });
        self.service.run_until_stopped(shutdown).await?;
        pruning.await?;
        Ok(())
    }
}
