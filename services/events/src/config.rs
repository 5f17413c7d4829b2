//! The events service's configuration: defaults that work against the local stack, overridden
//! by `EVENTPOST_EVENTS__<SECTION>__<FIELD>` variables (see `common::config`).

use std::time::Duration;

use common::config::{
    self, AmqpConfig, AuthConfig, ConfigError, HttpConfig, MongoConfig, TelemetryConfig,
};
use serde::{Deserialize, Serialize};

use crate::SERVICE;

/// Everything the events service reads at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// Where the service listens. Default `127.0.0.1:8082`.
    pub http: HttpConfig,
    /// Its own database. Default `events` on the local server.
    pub mongo: MongoConfig,
    /// The broker it announces changes on and hears of deleted accounts from.
    pub amqp: AmqpConfig,
    /// Whose access tokens it trusts (the users service's JWKS).
    pub auth: AuthConfig,
    /// How often the relay looks for changes to announce besides being nudged. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub relay_interval: Duration,
    /// Log filter and format.
    pub telemetry: TelemetryConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpConfig::local(8082),
            mongo: MongoConfig::local("events"),
            amqp: AmqpConfig::default(),
            auth: AuthConfig::default(),
            relay_interval: Duration::from_secs(5),
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
