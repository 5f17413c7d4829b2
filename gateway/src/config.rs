//! The gateway's configuration: defaults that work against the local stack, overridden by
//! `EVENTPOST_GATEWAY__<SECTION>__<FIELD>` variables (see `common::config`).

use std::time::Duration;

use common::{
    client_address::TrustedProxies,
    config::{self, AuthConfig, ConfigError, HttpConfig, TelemetryConfig},
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::SERVICE;

/// Everything the gateway reads at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// Where the gateway listens. Default `127.0.0.1:8080`.
    pub http: HttpConfig,
    /// The instances of each service.
    pub upstreams: Upstreams,
    /// How tokens are checked (the users service's JWKS).
    pub auth: AuthConfig,
    /// Limits on what clients may send and how long they may wait.
    pub limits: Limits,
    /// Origins allowed to call the API from a browser (CORS), e.g. `["https://eventpost.app"]`.
    /// Default none: cross-origin browser calls are refused.
    pub cors_origins: Vec<String>,
    /// The proxies in front of the gateway (a load balancer, the web app) whose
    /// `X-Forwarded-For` names the client, as address ranges, e.g. `["10.0.0.0/16"]`. Default
    /// none: the connection's peer is the client, and what it forwards is not believed.
    pub trusted_proxies: TrustedProxies,
    /// Log filter and format.
    pub telemetry: TelemetryConfig,
}

/// Base URLs of each service's instances, e.g.
/// `EVENTPOST_GATEWAY__UPSTREAMS__EVENTS='["http://10.0.0.5:8082","http://10.0.0.6:8082"]'`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Upstreams {
    /// Default `["http://127.0.0.1:8081"]`.
    pub users: Vec<Url>,
    /// Default `["http://127.0.0.1:8082"]`.
    pub events: Vec<Url>,
    /// Default `["http://127.0.0.1:8083"]`.
    pub notifications: Vec<Url>,
    /// The web app, which serves every path outside the API. Default
    /// `["http://127.0.0.1:8085"]`.
    pub web: Vec<Url>,
    /// How often each instance's `/readyz` is polled. Default `2s`.
    #[serde(with = "humantime_serde")]
    pub health_interval: Duration,
}

/// Request limits.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Limits {
    /// Largest request body, in bytes. Default `1048576` (1 MiB).
    pub max_body_bytes: usize,
    /// How long an upstream may take to answer before the client gets a 504. Default `15s`.
    #[serde(with = "humantime_serde")]
    pub upstream_timeout: Duration,
    /// Requests per minute from one client address. Default `600`.
    pub per_client_per_minute: u32,
    /// Login attempts per minute from one client address. Default `20`.
    pub token_per_client_per_minute: u32,
    /// Requests per minute for one signed-in user. Default `300`.
    pub per_user_per_minute: u32,
}

#[expect(clippy::expect_used, reason = "constant loopback URLs parse")]
fn local(port: u16) -> Vec<Url> {
    vec![Url::parse(&format!("http://127.0.0.1:{port}/")).expect("a loopback URL parses")]
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpConfig::local(8080),
            upstreams: Upstreams {
                users: local(8081),
                events: local(8082),
                notifications: local(8083),
                web: local(8085),
                health_interval: Duration::from_secs(2),
            },
            auth: AuthConfig::default(),
            limits: Limits {
                max_body_bytes: 1024 * 1024,
                upstream_timeout: Duration::from_secs(15),
                per_client_per_minute: 600,
                token_per_client_per_minute: 20,
                per_user_per_minute: 300,
            },
            cors_origins: Vec::new(),
            trusted_proxies: TrustedProxies::none(),
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
