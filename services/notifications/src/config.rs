//! The notifications service's configuration: defaults that work against the local stack, overridden
//! by `EVENTPOST_NOTIFICATIONS__<SECTION>__<FIELD>` variables (see `common::config`).

use common::config::{self, ConfigError, HttpConfig, MongoConfig, TelemetryConfig};
use serde::{Deserialize, Serialize};

use crate::SERVICE;

/// Everything the notifications service reads at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// Where the service listens. Default `127.0.0.1:8083`.
    pub http: HttpConfig,
    /// Its own database. Default `notifications` on the local server.
    pub mongo: MongoConfig,
    /// Log filter and format.
    pub telemetry: TelemetryConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpConfig::local(8083),
            mongo: MongoConfig::local("notifications"),
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
