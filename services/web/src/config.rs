//! The web app's configuration: defaults that work against the local stack, overridden by
//! `EVENTPOST_WEB__<SECTION>__<FIELD>` variables (see `common::config`).

use std::time::Duration;

use common::config::{self, ConfigError, HttpConfig, MongoConfig, Secret, TelemetryConfig};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::SERVICE;

/// Signs the CSRF cookie in development only. Any 32 bytes, base64; the same for every instance.
const DEVELOPMENT_CSRF_KEY: &str = "ZGV2ZWxvcG1lbnQtb25seS1jc3JmLWtleS0zMmJ5dGU=";

/// Everything the web app reads at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// Where it listens. Default `127.0.0.1:8085`.
    pub http: HttpConfig,
    /// Its own database, for the visitors' sessions alone. Default database `web`.
    pub mongo: MongoConfig,
    /// The gateway, through which every page calls the API in its visitor's name (the gateway
    /// must trust this app's address as a proxy, so that its limits count visitors). Default
    /// `http://127.0.0.1:8080`.
    pub api_url: Url,
    /// Where people reach the platform. Over `https`, cookies are marked `Secure`.
    /// `EVENTPOST_PUBLIC_URL`; default `http://127.0.0.1:8080`.
    pub public_url: Url,
    /// How long a session lasts without a change. Default `30days`.
    #[serde(with = "humantime_serde")]
    pub session_lifetime: Duration,
    /// The key of the CSRF protection (32 bytes, base64), the same for every instance. The
    /// default is for development only: set `EVENTPOST_WEB__CSRF_KEY` in production.
    pub csrf_key: Secret,
    /// How long a call to the API may take before the page says so. Default `10s`.
    #[serde(with = "humantime_serde")]
    pub api_timeout: Duration,
    /// Log filter and format.
    pub telemetry: TelemetryConfig,
}

#[expect(clippy::expect_used, reason = "constant loopback URLs parse")]
fn local(port: u16) -> Url {
    Url::parse(&format!("http://127.0.0.1:{port}/")).expect("a loopback URL parses")
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpConfig::local(8085),
            mongo: MongoConfig::local(SERVICE),
            api_url: local(8080),
            public_url: local(8080),
            session_lifetime: Duration::from_secs(30 * 24 * 60 * 60),
            csrf_key: Secret::new(DEVELOPMENT_CSRF_KEY),
            api_timeout: Duration::from_secs(10),
            telemetry: TelemetryConfig::default(),
        }
    }
}

impl Config {
    /// Defaults, then the optional `EVENTPOST_CONFIG` file, then the environment.
    pub fn load() -> Result<Self, ConfigError> {
        config::load(SERVICE)
    }

    /// Whether visitors come over TLS, so that cookies must say `Secure`.
    pub fn secure(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}
