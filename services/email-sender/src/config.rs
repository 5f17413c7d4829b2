//! The email-sender's configuration: defaults that work against the local stack, overridden
//! by `EVENTPOST_EMAIL_SENDER__<SECTION>__<FIELD>` variables (see `common::config`).

use std::time::Duration;

use common::config::{
    self, AmqpConfig, ConfigError, HttpConfig, MongoConfig, Secret, TelemetryConfig,
};
use serde::{Deserialize, Serialize};

use crate::SERVICE;

/// Everything the email-sender reads at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// Where its health and metrics are served. Default `127.0.0.1:8084`.
    pub http: HttpConfig,
    /// The broker it consumes the email queue from.
    pub amqp: AmqpConfig,
    /// Its own database: which messages were already mailed. Default `email_sender`.
    pub mongo: MongoConfig,
    /// The SMTP server.
    pub smtp: SmtpConfig,
    /// Retries and concurrency.
    pub worker: WorkerConfig,
    /// Log filter and format.
    pub telemetry: TelemetryConfig,
}

/// How mail leaves.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SmtpConfig {
    /// Default `127.0.0.1` (Mailpit).
    pub host: String,
    /// Default `1025` (Mailpit).
    pub port: u16,
    /// `none` (local Mailpit), `starttls` (port 587) or `tls` (port 465). Default `none`.
    pub tls: SmtpTls,
    /// Account name, if the server wants one.
    pub username: Option<String>,
    /// Its password (secret).
    pub password: Option<Secret>,
    /// The sender, e.g. `eventpost <noreply@eventpost.app>`. Default
    /// `eventpost <noreply@eventpost.local>`.
    pub from: String,
    /// How long one SMTP command may take. Default `10s`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Most open SMTP connections (each sends ~20 mails/s). Default `20`.
    pub pool_size: u32,
}

impl SmtpConfig {
    /// The longest one mail can take to send: a dozen commands (connect, greeting, EHLO,
    /// STARTTLS, AUTH, MAIL, RCPT, DATA, the body…), each waiting at most `timeout`. A claim on
    /// a mail older than this belongs to a worker that died.
    pub fn send_lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.timeout * 12).unwrap_or(chrono::Duration::MAX)
    }
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

/// Retries and concurrency.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkerConfig {
    /// Waits before each retry of a mail the SMTP server refused for now; after the last, the
    /// mail is parked in `email-sender.dead`. Default `["10s", "1m", "5m", "30m", "2h"]`.
    pub retry_delays: Vec<humantime_serde::Serde<Duration>>,
}

impl WorkerConfig {
    /// Retries waiting `delays` in turn.
    pub fn with_delays(delays: impl IntoIterator<Item = Duration>) -> Self {
        Self {
            retry_delays: delays.into_iter().map(Into::into).collect(),
        }
    }

    /// The waits, in order.
    pub fn delays(&self) -> Vec<Duration> {
        self.retry_delays.iter().map(|d| **d).collect()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpConfig::local(8084),
            amqp: AmqpConfig::default(),
            mongo: MongoConfig::local("email_sender"),
            smtp: SmtpConfig {
                host: "127.0.0.1".into(),
                port: 1025,
                tls: SmtpTls::None,
                username: None,
                password: None,
                from: "eventpost <noreply@eventpost.local>".into(),
                timeout: Duration::from_secs(10),
                pool_size: 20,
            },
            worker: WorkerConfig::with_delays(
                [10, 60, 300, 1800, 7200]
                    .into_iter()
                    .map(Duration::from_secs),
            ),
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
