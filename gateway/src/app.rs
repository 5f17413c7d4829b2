//! Assembling the gateway service: connect to its dependencies, mount its routes, bind.
//!
//! So far it serves only `/healthz`, `/readyz` and `/metrics`; its API arrives with issue #7.

use common::server::Service;
use poem::Route;
use tokio_util::sync::CancellationToken;

use crate::{SERVICE, config::Config};

/// The running gateway service.
pub struct Application {
    service: Service,
}

impl Application {
    /// Connects, mounts and binds (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let service = Service::bind(SERVICE, &config.http, Route::new(), Vec::new()).await?;
        Ok(Self { service })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// Serves until `shutdown` is cancelled, then lets in-flight requests finish.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.service.run_until_stopped(shutdown).await?;
        Ok(())
    }
}
