//! The users service's configuration: defaults that work against the local stack, overridden
//! by `EVENTPOST_USERS__<SECTION>__<FIELD>` variables (see `common::config`).

use common::config::{self, ConfigError, HttpConfig, MongoConfig, TelemetryConfig};
use serde::{Deserialize, Serialize};

use crate::SERVICE;

/// Everything the users service reads at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// Where the service listens. Default `127.0.0.1:8081`.
    pub http: HttpConfig,
    /// Its own database. Default `users` on the local server.
    pub mongo: MongoConfig,
    /// Log filter and format.
    pub telemetry: TelemetryConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpConfig::local(8081),
            mongo: MongoConfig::local("users"),
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
