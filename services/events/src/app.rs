//! Assembling the events service: connect to its dependencies, mount its routes, bind.
//!
//! So far it serves only `/healthz`, `/readyz` and `/metrics`; its API arrives with issue #4.

use common::{
    health::{Check, MongoCheck},
    mongo,
    server::Service,
};
use mongodb::Database;
use poem::Route;
use tokio_util::sync::CancellationToken;

use crate::{SERVICE, config::Config};

/// The running events service.
pub struct Application {
    service: Service,
    db: Database,
}

impl Application {
    /// Connects, mounts and binds (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = mongo::connect(&config.mongo, SERVICE).await?;
        let checks: Vec<Box<dyn Check>> = vec![Box::new(MongoCheck(db.clone()))];
        let service = Service::bind(SERVICE, &config.http, Route::new(), checks).await?;
        Ok(Self { service, db })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The service's own database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Serves until `shutdown` is cancelled, then lets in-flight requests finish.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.service.run_until_stopped(shutdown).await?;
        Ok(())
    }
}
