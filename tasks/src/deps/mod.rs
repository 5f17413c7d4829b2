//! The real servers tests and services use, installed and started idempotently: a dependency
//! that already answers (started earlier, or a CI service container) is left alone.
//!
//! - MongoDB protocol: FerretDB v1.24.2 on PostgreSQL (Debian's), data in `.run/postgres`;
//! - RabbitMQ: Debian's `rabbitmq-server`, with the management plugin tests use for faults;
//! - SMTP: Mailpit v1.27.11, whose HTTP API tests read;
//! - a development token-signing key in `.run/` for the users service.
//!
//! `cargo task test` also makes sure of Chromium (see `chromium.rs`).

pub mod chromium;
pub mod ferretdb;
mod go;
mod mailpit;
pub mod postgres;
pub mod rabbitmq;
pub mod signing_key;

use std::path::PathBuf;

use crate::workspace;

/// The addresses of the local stack, printed by `cargo task up`.
pub struct Endpoints {
    pub mongo: &'static str,
    pub amqp: &'static str,
    pub rabbitmq_ui: &'static str,
    pub smtp: &'static str,
    pub mailpit_ui: &'static str,
}

/// Where the local stack listens.
pub const ENDPOINTS: Endpoints = Endpoints {
    mongo: "mongodb://127.0.0.1:27017",
    amqp: "amqp://127.0.0.1:5672",
    rabbitmq_ui: "http://127.0.0.1:15672",
    smtp: "127.0.0.1:1025",
    mailpit_ui: "http://127.0.0.1:8025",
};

/// Makes every dependency answer, installing and starting what is missing.
pub async fn ensure_all() -> anyhow::Result<&'static Endpoints> {
    std::fs::create_dir_all(logs_dir())?;
    ferretdb::ensure().await?;
    rabbitmq::ensure().await?;
    mailpit::ensure().await?;
    signing_key::ensure()?;
    eprintln!("==> dependencies ready: MongoDB protocol, RabbitMQ, Mailpit");
    Ok(&ENDPOINTS)
}

/// Stops what `ensure_all` started.
pub async fn stop_all() -> anyhow::Result<()> {
    mailpit::stop()?;
    ferretdb::stop()?;
    postgres::stop()?;
    rabbitmq::stop()?;
    Ok(())
}

fn logs_dir() -> PathBuf {
    workspace::run_dir().join("logs")
}
