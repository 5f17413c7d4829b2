//! The notifications service's configuration: defaults that work against the local stack,
//! overridden by `EVENTPOST_NOTIFICATIONS__<SECTION>__<FIELD>` variables (see `common::config`).

use std::time::Duration;

use common::config::{
    self, AmqpConfig, AuthConfig, ConfigError, HttpConfig, MongoConfig, Secret, TelemetryConfig,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::SERVICE;

/// The key reminder-mail links are signed with unless one is configured: public, so fit for
/// development and tests only.
pub const DEVELOPMENT_ACTION_LINK_KEY: &str = "development-only-action-link-key-not-secret";

/// Everything the notifications service reads at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// What this process does: `all` (default), `api` or `scheduler`. `--role` overrides it.
    pub role: Role,
    /// Where the service listens (every role serves health and metrics). Default `127.0.0.1:8083`.
    pub http: HttpConfig,
    /// Its own database. Default `notifications` on the local server.
    pub mongo: MongoConfig,
    /// The broker reminders are published to and results and domain events come from.
    pub amqp: AmqpConfig,
    /// Whose access tokens it trusts (the users service's JWKS).
    pub auth: AuthConfig,
    /// The users service, asked for the caller's verified addresses (forwarding their token).
    /// Default `http://127.0.0.1:8081`.
    pub users_url: Url,
    /// The events service, asked for the event a reminder is created for.
    /// Default `http://127.0.0.1:8082`.
    pub events_url: Url,
    /// Where people reach the platform (the gateway, from outside), for the calendar feed
    /// addresses handed out. `EVENTPOST_PUBLIC_URL`; default `http://127.0.0.1:8080`.
    pub public_url: Url,
    /// Signs the links in reminder mails (snooze without a login). Any long random string,
    /// the same for every instance; changing it ends the links already mailed. The default is
    /// for development only: set `EVENTPOST_NOTIFICATIONS__ACTION_LINK_KEY` in production.
    pub action_link_key: Secret,
    /// How long an event a user follows is left alone before they are mailed of its changes
    /// (each change pushes the mail back). Default `10m`.
    #[serde(with = "humantime_serde")]
    pub change_notice_settle: Duration,
    /// The scheduler's knobs.
    pub scheduler: SchedulerConfig,
    /// Log filter and format.
    pub telemetry: TelemetryConfig,
}

/// Which parts run in this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The API, the message consumers and the scheduler.
    #[default]
    All,
    /// The API and the message consumers only.
    Api,
    /// The scheduler only (and health and metrics).
    Scheduler,
}

impl Role {
    /// Whether this process serves the reminder API and consumes messages.
    pub fn runs_api(self) -> bool {
        matches!(self, Self::All | Self::Api)
    }

    /// Whether this process claims and publishes due reminders.
    pub fn runs_scheduler(self) -> bool {
        matches!(self, Self::All | Self::Scheduler)
    }
}

/// How the scheduler claims and publishes due reminders.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SchedulerConfig {
    /// How often a scheduler looks for dead schedulers' claims and results that never came
    /// (whole seconds, at least `1s`). Default `5s`.
    #[serde(with = "humantime_serde")]
    pub check_every: Duration,
    /// The second of each minute at which the reminders due in the next minute are read
    /// ahead (0 to 59). Default `50`: ten seconds to read them before the minute starts.
    pub read_ahead_at_second: u32,
    /// How long a scheduler has from claiming a reminder until the broker confirms it; after
    /// that the scheduler is presumed dead and the reminder is claimed again. Default `2m`.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How long a reminder the broker confirmed waits for the email-sender's result before it
    /// is published again under the same message id (the email-sender mails it once). Keep it
    /// longer than the email-sender's whole retry schedule (`WORKER__RETRY_DELAYS`, 2h 36m by
    /// default), or every reminder waiting out an SMTP outage is queued a second time.
    /// Default `6h`.
    #[serde(with = "humantime_serde")]
    pub result_timeout: Duration,
    /// Most reminders claimed, queued and confirmed with one write each (and read at once by
    /// the catch-up at start). Default `1000`.
    pub batch: u32,
    /// Reminders claimed and published at once. Default `32`.
    pub concurrency: usize,
    /// How long before its time a held reminder is claimed and recorded as queued, so that
    /// only the publish is left for its time. Keep it under a second: the contract promises
    /// that a reminder cancelled or changed at least 1 s before its time does not go as it
    /// was. Default `500ms`.
    #[serde(with = "humantime_serde")]
    pub prepare_ahead: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            check_every: Duration::from_secs(5),
            read_ahead_at_second: 50,
            lease: Duration::from_secs(120),
            result_timeout: Duration::from_secs(6 * 60 * 60),
            batch: 1000,
            concurrency: 32,
            prepare_ahead: Duration::from_millis(500),
        }
    }
}

impl Default for Config {
    #[expect(clippy::expect_used, reason = "constant URLs known to parse")]
    fn default() -> Self {
        Self {
            role: Role::All,
            http: HttpConfig::local(8083),
            mongo: MongoConfig::local("notifications"),
            amqp: AmqpConfig::default(),
            auth: AuthConfig::default(),
            users_url: Url::parse("http://127.0.0.1:8081").expect("valid URL"),
            events_url: Url::parse("http://127.0.0.1:8082").expect("valid URL"),
            public_url: Url::parse("http://127.0.0.1:8080").expect("valid URL"),
            action_link_key: Secret::new(DEVELOPMENT_ACTION_LINK_KEY),
            change_notice_settle: Duration::from_secs(10 * 60),
            scheduler: SchedulerConfig::default(),
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
