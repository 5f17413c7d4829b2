//! The email-sender service's configuration: defaults that work against the local stack, overridden
//! by `EVENTPOST_EMAIL_SENDER__<SECTION>__<FIELD>` variables (see `common::config`).

use common::config::{self, AmqpConfig, ConfigError, HttpConfig, TelemetryConfig};
use serde::{Deserialize, Serialize};

use crate::SERVICE;

/// Everything the email-sender service reads at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// Where the service listens. Default `127.0.0.1:8084`.
    pub http: HttpConfig,
    /// The broker it consumes from.
    pub amqp: AmqpConfig,
    /// Log filter and format.
    pub telemetry: TelemetryConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpConfig::local(8084),
            amqp: AmqpConfig::default(),
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
