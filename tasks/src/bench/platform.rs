//! The platform the endpoint table and the GET scenario load: users, events (with the demo
//! catalogue) and the gateway in front, rate limits raised (the load comes from one address and
//! one user: the bench measures serving, not limiting).

use tokio::process::Child;

use super::services::{
    EVENTS_PORT, EVENTS_REPLICA_PORT, GATEWAY_PORT, USERS_PORT, fresh_database, start, wait_ready,
};
use crate::deps;

/// Events in the platform's catalogue.
pub const CATALOGUE: usize = 1200;

/// The users service's database.
const USERS_DATABASE: &str = "bench_users";

/// The running services and where they answer.
pub struct Platform {
    pub users_url: String,
    pub events_url: String,
    /// A second events instance on the same database and broker, which the gateway does not
    /// route to: where propagation is watched.
    pub events_replica_url: String,
    pub gateway_url: String,
    pub users_database: String,
    pub events_pid: Option<u32>,
    children: Vec<Child>,
    catalogue: mongodb::Database,
}

impl Platform {
    /// Seeds the catalogue, starts the services and waits until each answers.
    pub async fn start() -> anyhow::Result<Self> {
        let catalogue = fresh_database("bench_events").await?;
        let store = events::store::Store::open(
            &catalogue,
            common::config::MongoConfig::local("bench").deadline(),
        )
        .await?;
        events::seed::seed(&store, CATALOGUE, chrono::Utc::now()).await?;
        let key = deps::signing_key::ensure()?;
        let users_url = format!("http://127.0.0.1:{USERS_PORT}");
        let events_url = format!("http://127.0.0.1:{EVENTS_PORT}");
        let gateway_url = format!("http://127.0.0.1:{GATEWAY_PORT}");
        let jwks = format!("{users_url}/.well-known/jwks.json");
        let users = start(
            "users",
            &[
                ("EVENTPOST_USERS__HTTP__PORT", USERS_PORT.to_string()),
                ("EVENTPOST_USERS__MONGO__DATABASE", USERS_DATABASE.into()),
                ("EVENTPOST_USERS__AMQP__PREFIX", "bench.".into()),
                (
                    "EVENTPOST_USERS__TOKENS__SIGNING_KEY_FILE",
                    key.display().to_string(),
                ),
                ("EVENTPOST_USERS__LOGIN_ATTEMPTS_PER_CLIENT", "1000".into()),
            ],
        )?;
        let events_instance = |port: u16| {
            start(
                "events",
                &[
                    ("EVENTPOST_EVENTS__HTTP__PORT", port.to_string()),
                    ("EVENTPOST_EVENTS__MONGO__DATABASE", "bench_events".into()),
                    ("EVENTPOST_EVENTS__AMQP__PREFIX", "bench.".into()),
                    ("EVENTPOST_EVENTS__AUTH__JWKS_URL", jwks.clone()),
                ],
            )
        };
        let events = events_instance(EVENTS_PORT)?;
        let events_replica = events_instance(EVENTS_REPLICA_PORT)?;
        let events_replica_url = format!("http://127.0.0.1:{EVENTS_REPLICA_PORT}");
        let events_pid = events.id();
        let gateway = start(
            "gateway",
            &[
                ("EVENTPOST_GATEWAY__HTTP__PORT", GATEWAY_PORT.to_string()),
                (
                    "EVENTPOST_GATEWAY__UPSTREAMS__USERS",
                    format!("[\"{users_url}/\"]"),
                ),
                (
                    "EVENTPOST_GATEWAY__UPSTREAMS__EVENTS",
                    format!("[\"{events_url}/\"]"),
                ),
                ("EVENTPOST_GATEWAY__AUTH__JWKS_URL", jwks),
                (
                    "EVENTPOST_GATEWAY__LIMITS__PER_CLIENT_PER_MINUTE",
                    "100000000".into(),
                ),
                (
                    "EVENTPOST_GATEWAY__LIMITS__PER_USER_PER_MINUTE",
                    "100000000".into(),
                ),
            ],
        )?;
        let platform = Self {
            users_url,
            events_url,
            events_replica_url,
            gateway_url,
            users_database: USERS_DATABASE.into(),
            events_pid,
            children: vec![gateway, events_replica, events, users],
            catalogue,
        };
        wait_ready(&format!("{}/readyz", platform.users_url)).await?;
        wait_ready(&format!("{}/readyz", platform.events_url)).await?;
        wait_ready(&format!("{}/readyz", platform.events_replica_url)).await?;
        // Its readiness wants every upstream, and notifications does not run here.
        wait_ready(&format!("{}/healthz", platform.gateway_url)).await?;
        Ok(platform)
    }

    /// Stops the services and lets go of the database.
    pub async fn stop(mut self) {
        for child in &mut self.children {
            let _already_gone = child.kill().await;
        }
        // Closing the client before the runtime goes spares the driver's tasks a panic.
        self.catalogue.client().clone().shutdown().await;
    }
}
