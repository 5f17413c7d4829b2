//! The users service's configuration: defaults that work against the local stack, overridden
//! by `EVENTPOST_USERS__<SECTION>__<FIELD>` variables (see `common::config`).

use std::time::Duration;

use common::{
    config::{self, AmqpConfig, ConfigError, HttpConfig, MongoConfig, TelemetryConfig},
    domain::EmailAddress,
};
use serde::{Deserialize, Serialize};

use crate::{SERVICE, tokens::TokenConfig};

/// Everything the users service reads at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// Where the service listens. Default `127.0.0.1:8081`.
    pub http: HttpConfig,
    /// Its own database. Default `users` on the local server.
    pub mongo: MongoConfig,
    /// The broker it publishes mail requests and `user.deleted` to.
    pub amqp: AmqpConfig,
    /// Token signing and lifetimes.
    pub tokens: TokenConfig,
    /// Addresses that are made administrators when they register
    /// (`EVENTPOST_USERS__ADMIN_EMAILS=["ops@example.com"]`). Default none.
    pub admin_emails: Vec<EmailAddress>,
    /// Login attempts allowed per minute for one account. Default `10`.
    pub login_attempts_per_account: u32,
    /// Login attempts allowed per minute from one client address. Default `30`.
    pub login_attempts_per_client: u32,
    /// How often the outbox relay looks for messages a failed publish left behind. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub outbox_interval: Duration,
    /// Log filter and format.
    pub telemetry: TelemetryConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpConfig::local(8081),
            mongo: MongoConfig::local("users"),
            amqp: AmqpConfig::default(),
            tokens: TokenConfig::default(),
            admin_emails: Vec::new(),
            login_attempts_per_account: 10,
            login_attempts_per_client: 30,
            outbox_interval: Duration::from_secs(5),
            telemetry: TelemetryConfig::default(),
        }
    }
}

impl Config {
    /// Defaults, then the optional `EVENTPOST_CONFIG` file, then the environment.
    pub fn load() -> Result<Self, ConfigError> {
        config::load(SERVICE)
    }
}
