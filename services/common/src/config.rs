//! Configuration: one typed struct per service, read once in `main` and passed down.
//!
//! Layers, later ones win:
//! 1. the struct's `Default`, which works against the local stack that `cargo task deps` starts;
//! 2. an optional TOML file named by `EVENTPOST_CONFIG`;
//! 3. environment variables `EVENTPOST_<SERVICE>__<SECTION>__<FIELD>`, where `__` nests, e.g.
//!    `EVENTPOST_USERS__HTTP__PORT=9000` or `EVENTPOST_EVENTS__MONGO__URI=mongodb://db:27017`.
//!
//! The sections every service shares live here; each service composes them in its own `Config`.

use std::time::Duration;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer, de::DeserializeOwned};
use url::Url;

/// Why configuration could not be loaded; names the key and the source that set it.
pub type ConfigError = Box<figment::Error>;

/// The variable that names an optional TOML configuration file.
pub const CONFIG_FILE_VAR: &str = "EVENTPOST_CONFIG";

/// The variable naming the web app's public address, which every service that links to it reads
/// as its `public_url` (its own `EVENTPOST_<SERVICE>__PUBLIC_URL` wins).
pub const PUBLIC_URL_VAR: &str = "EVENTPOST_PUBLIC_URL";

/// Loads `T` from its defaults, the optional config file, `EVENTPOST_PUBLIC_URL` and
/// `EVENTPOST_<SERVICE>__…` variables.
pub fn load<T>(service: &str) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    figment::<T>(service).extract().map_err(Box::new)
}

/// The layered sources behind [`load`], exposed so tests can merge overrides on top.
pub fn figment<T: Serialize + Default>(service: &str) -> Figment {
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Ok(path) = std::env::var(CONFIG_FILE_VAR) {
        figment = figment.merge(Figment::from(Toml::file_exact(path)).focus(service));
    }
    figment
        .merge(
            Env::raw()
                .only(&[PUBLIC_URL_VAR])
                .map(|_| "public_url".into()),
        )
        .merge(Env::prefixed(&env_prefix(service)).split("__"))
}

/// `EVENTPOST_EMAIL_SENDER__` for `email-sender`.
pub fn env_prefix(service: &str) -> String {
    format!("EVENTPOST_{}__", service.to_uppercase().replace('-', "_"))
}

/// Where a service listens and how long it lets in-flight requests finish when stopping.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HttpConfig {
    /// Interface to bind. Default `127.0.0.1`; `0.0.0.0` in containers.
    pub host: String,
    /// TCP port; `0` picks a free one (tests). Defaults differ per service.
    pub port: u16,
    /// How long a stopping instance keeps serving while `/readyz` says it is stopping, so the
    /// gateway and load balancers send it nothing more before it closes its connections.
    /// Longer than the gateway's health interval. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub shutdown_drain: Duration,
    /// How long in-flight requests may run after the drain. Default `10s`.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl HttpConfig {
    /// Loopback on `port`, 5 s of drain and 10 s of grace.
    pub fn local(port: u16) -> Self {
        Self {
            host: "127.0.0.1".into(),
            port,
            shutdown_drain: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(10),
        }
    }

    /// A free loopback port and no drain: an instance a test starts and stops in-process,
    /// with nothing routing to it that needs warning.
    pub fn ephemeral() -> Self {
        Self {
            shutdown_drain: Duration::ZERO,
            ..Self::local(0)
        }
    }
}

/// The service's own MongoDB database.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MongoConfig {
    /// Connection string; may hold credentials, so it is never printed. Default
    /// `mongodb://127.0.0.1:27017/?directConnection=true`.
    pub uri: Secret,
    /// Database name, owned by this service alone. Defaults to the service's name.
    pub database: String,
    /// How long an operation waits for a usable server before failing. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub server_selection_timeout: Duration,
    /// TCP connect timeout. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// How long a request or background pass waits for one database operation before it
    /// answers 503 (the operation itself is not cancelled). Default `5s`.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
}

impl MongoConfig {
    /// The local server started by `cargo task deps`, database `database`.
    pub fn local(database: &str) -> Self {
        Self {
            uri: Secret::new("mongodb://127.0.0.1:27017/?directConnection=true"),
            database: database.into(),
            server_selection_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(5),
        }
    }

    /// The deadline of every operation on this database.
    pub fn deadline(&self) -> crate::store::Deadline {
        crate::store::Deadline::new(crate::store::Dependency::Database, self.deadline)
    }
}

/// The RabbitMQ broker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AmqpConfig {
    /// AMQP URI with credentials, never printed. Default `amqp://guest:guest@127.0.0.1:5672/%2f`
    /// (a development-only account).
    pub uri: Secret,
    /// Prepended to every exchange and queue name; tests use a fresh one each. Default empty.
    pub prefix: String,
    /// How many unacknowledged deliveries a consumer holds at once. Default `50`. The
    /// email-sender's bounds the mail a crash of it may send twice (accepted by the SMTP
    /// server, not yet recorded): 200 made a burst faster on the local store but let a killed
    /// worker repeat 112 mails where 50 allows at most 50.
    pub prefetch: u16,
    /// How long to keep trying to connect at start before giving up. A connection lost later is
    /// replaced for as long as it takes (the service reports not ready meanwhile). Default `5m`.
    #[serde(with = "humantime_serde")]
    pub retry_for: Duration,
    /// How long a publish waits for the broker's confirm before it counts as failed (and is
    /// retried by whoever published it). Default `5s`.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
}

impl AmqpConfig {
    /// The exchange and queue names behind this configuration's prefix.
    pub fn topology(&self) -> crate::topology::Topology {
        crate::topology::Topology::new(&self.prefix)
    }
}

impl Default for AmqpConfig {
    fn default() -> Self {
        Self {
            uri: Secret::new("amqp://guest:guest@127.0.0.1:5672/%2f?heartbeat=10"),
            prefix: String::new(),
            prefetch: 50,
            retry_for: Duration::from_secs(300),
            deadline: Duration::from_secs(5),
        }
    }
}

/// How tokens are checked: the users service's JWKS and the claims every token must carry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthConfig {
    /// Where the public signing keys are served. Default
    /// `http://127.0.0.1:8081/.well-known/jwks.json` (the users service).
    pub jwks_url: Url,
    /// Expected `iss`. Default `eventpost`.
    pub issuer: String,
    /// Expected `aud`. Default `eventpost-api`.
    pub audience: String,
    /// How long fetched keys are trusted before they are fetched again. Default `5m`.
    #[serde(with = "humantime_serde")]
    pub jwks_ttl: Duration,
}

impl Default for AuthConfig {
    #[expect(clippy::expect_used, reason = "a constant URL known to parse")]
    fn default() -> Self {
        Self {
            jwks_url: Url::parse("http://127.0.0.1:8081/.well-known/jwks.json")
                .expect("the default JWKS URL is valid"),
            issuer: "eventpost".into(),
            audience: "eventpost-api".into(),
            jwks_ttl: Duration::from_secs(300),
        }
    }
}

/// Log output.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TelemetryConfig {
    /// `tracing` filter directives, e.g. `info,users=debug`. `RUST_LOG` wins when set.
    /// Default `info`.
    pub filter: Option<String>,
    /// `json`, `pretty`, or `auto` (pretty on a terminal, JSON otherwise). Default `auto`.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable when stdout is a terminal, JSON lines otherwise.
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

/// A configuration value that must not leak: `Debug` prints `[redacted]`.
///
/// It serialises as its plain value only because figment layers configuration through serde;
/// nothing else serialises a `Config`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The value itself, for the one call that needs it (a connect, a signature).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

#[cfg(test)]
#[allow(
    clippy::result_large_err,
    reason = "figment::Jail closures return figment's own error"
)]
mod tests {
    use super::*;
    use figment::Jail;

    #[derive(Debug, Serialize, Deserialize)]
    struct Sample {
        http: HttpConfig,
        mongo: MongoConfig,
    }

    impl Default for Sample {
        fn default() -> Self {
            Self {
                http: HttpConfig::local(8081),
                mongo: MongoConfig::local("sample"),
            }
        }
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        Jail::expect_with(|_| {
            let cfg: Sample = load("sample").map_err(|e| *e)?;
            assert_eq!(cfg.http.port, 8081);
            assert_eq!(cfg.mongo.database, "sample");
            assert_eq!(cfg.http.shutdown_grace, Duration::from_secs(10));
            assert_eq!(cfg.http.shutdown_drain, Duration::from_secs(5));
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_nested_fields_and_parses_durations() {
        Jail::expect_with(|jail| {
            jail.set_env("EVENTPOST_SAMPLE__HTTP__PORT", "9000");
            jail.set_env("EVENTPOST_SAMPLE__HTTP__SHUTDOWN_GRACE", "1m 30s");
            jail.set_env("EVENTPOST_OTHER__HTTP__PORT", "1");
            let cfg: Sample = load("sample").map_err(|e| *e)?;
            assert_eq!(cfg.http.port, 9000);
            assert_eq!(cfg.http.shutdown_grace, Duration::from_secs(90));
            Ok(())
        });
    }

    #[test]
    fn the_config_file_sits_between_defaults_and_environment() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "eventpost.toml",
                "[sample.http]\nport = 7000\nhost = \"0.0.0.0\"\n[sample.mongo]\ndatabase = \"from_file\"\n",
            )?;
            jail.set_env(CONFIG_FILE_VAR, "eventpost.toml");
            jail.set_env("EVENTPOST_SAMPLE__HTTP__PORT", "7001");
            let cfg: Sample = load("sample").map_err(|e| *e)?;
            assert_eq!(cfg.http.host, "0.0.0.0");
            assert_eq!(cfg.http.port, 7001);
            assert_eq!(cfg.mongo.database, "from_file");
            Ok(())
        });
    }

    #[test]
    fn a_malformed_value_names_the_variable_path() {
        Jail::expect_with(|jail| {
            jail.set_env("EVENTPOST_SAMPLE__HTTP__PORT", "eighty");
            let err = load::<Sample>("sample").expect_err("port is not a number");
            let message = err.to_string();
            assert!(message.to_lowercase().contains("http.port"), "{message}");
            assert!(message.contains("EVENTPOST_SAMPLE__"), "{message}");
            Ok(())
        });
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let cfg = MongoConfig {
            uri: Secret::new("mongodb://admin:hunter2@db"),
            ..MongoConfig::local("x")
        };
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }

    #[test]
    fn service_names_become_env_prefixes() {
        assert_eq!(env_prefix("email-sender"), "EVENTPOST_EMAIL_SENDER__");
    }
}
