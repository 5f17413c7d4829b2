//! The users service's configuration: defaults that work against the local stack, overridden
//! by `EVENTPOST_USERS__<SECTION>__<FIELD>` variables (see `common::config`).

use std::time::Duration;

use common::{
    client_address::TrustedProxies,
    config::{self, AmqpConfig, ConfigError, HttpConfig, MongoConfig, TelemetryConfig},
    domain::EmailAddress,
};
use figment::providers::Env;
use serde::{Deserialize, Deserializer, Serialize, de};
use url::Url;

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
    /// Addresses that are made administrators when they register, comma-separated:
    /// `EVENTPOST_ADMIN_EMAILS=ops@example.com,cto@example.com` (or
    /// `EVENTPOST_USERS__ADMIN_EMAILS`). Default none.
    #[serde(deserialize_with = "comma_separated")]
    pub admin_emails: Vec<EmailAddress>,
    /// Login attempts allowed per minute for one account. Default `10`.
    pub login_attempts_per_account: u32,
    /// Login attempts allowed per minute from one client address. Default `30`.
    pub login_attempts_per_client: u32,
    /// The gateway's addresses, as ranges: only from these is its `X-Client-Address` (the
    /// client the login limits count) believed. Default `["127.0.0.0/8", "::1/128"]`, a
    /// gateway on the same machine.
    pub trusted_proxies: TrustedProxies,
    /// How often the outbox relay looks for messages a failed publish left behind. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub outbox_interval: Duration,
    /// Where people reach the web app, whose pages the verification and password-reset mails
    /// link to. `EVENTPOST_PUBLIC_URL`; default `http://127.0.0.1:8080`.
    pub public_url: Url,
    /// Log filter and format.
    pub telemetry: TelemetryConfig,
}

#[expect(clippy::expect_used, reason = "a constant loopback URL parses")]
fn local_gateway() -> Url {
    Url::parse("http://127.0.0.1:8080/").expect("a loopback URL parses")
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
            trusted_proxies: TrustedProxies::loopback(),
            outbox_interval: Duration::from_secs(5),
            public_url: local_gateway(),
            telemetry: TelemetryConfig::default(),
        }
    }
}

/// The short name the platform documents for the first administrators.
pub const ADMIN_EMAILS_VAR: &str = "EVENTPOST_ADMIN_EMAILS";

impl Config {
    /// Defaults, then the optional `EVENTPOST_CONFIG` file, then the environment (including
    /// `EVENTPOST_ADMIN_EMAILS`).
    pub fn load() -> Result<Self, ConfigError> {
        config::figment::<Self>(SERVICE)
            .merge(
                Env::raw()
                    .only(&[ADMIN_EMAILS_VAR])
                    .map(|_| "admin_emails".into()),
            )
            .extract()
            .map_err(Box::new)
    }
}

/// A list given either as a sequence or as one comma-separated string.
fn comma_separated<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<EmailAddress>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<EmailAddress>),
    }
    match Raw::deserialize(de)? {
        Raw::Many(list) => Ok(list),
        Raw::One(joined) => joined
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| EmailAddress::parse(s).map_err(|e| de::Error::custom(format!("{s}: {e}"))))
            .collect(),
    }
}

#[cfg(test)]
#[allow(
    clippy::result_large_err,
    reason = "figment::Jail closures return figment's own error"
)]
mod tests {
    use figment::Jail;

    use super::*;

    #[test]
    fn admin_emails_come_from_the_short_variable_as_a_comma_separated_list() {
        Jail::expect_with(|jail| {
            jail.set_env(ADMIN_EMAILS_VAR, "Ops@Example.com, cto@example.com");
            let config = Config::load().map_err(|e| *e)?;
            let admins: Vec<&str> = config
                .admin_emails
                .iter()
                .map(EmailAddress::as_str)
                .collect();
            assert_eq!(admins, ["ops@example.com", "cto@example.com"]);
            Ok(())
        });
    }

    #[test]
    fn a_malformed_admin_address_is_refused_at_start() {
        Jail::expect_with(|jail| {
            jail.set_env(ADMIN_EMAILS_VAR, "ops@example.com,nonsense");
            let err = Config::load().expect_err("nonsense is not an address");
            assert!(err.to_string().contains("nonsense"), "{err}");
            Ok(())
        });
    }
}
