//! Assembling the email-sender service: connect to its dependencies, mount its routes, bind.
//!
//! So far it serves only `/healthz`, `/readyz` and `/metrics`; its API arrives with issue #6.

use std::sync::Arc;

use common::{
    amqp,
    health::{AmqpCheck, Check},
    server::Service,
};
use lapin::Connection;
use poem::Route;
use tokio_util::sync::CancellationToken;

use crate::{SERVICE, config::Config};

/// The running email-sender service.
pub struct Application {
    service: Service,
    amqp: Arc<Connection>,
}

impl Application {
    /// Connects, mounts and binds (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let amqp = Arc::new(amqp::connect(&config.amqp, SERVICE).await?);
        let checks: Vec<Box<dyn Check>> = vec![Box::new(AmqpCheck(amqp.clone()))];
        let service = Service::bind(SERVICE, &config.http, Route::new(), checks).await?;
        Ok(Self { service, amqp })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The broker connection.
    pub fn amqp(&self) -> &Connection {
        &self.amqp
    }

    /// Serves until `shutdown` is cancelled, then lets in-flight requests finish.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.service.run_until_stopped(shutdown).await?;
        Ok(())
    }
}
