//! Helpers for integration tests of every service (feature `testing`): fresh names so tests run
//! in parallel without sharing state, polling for asynchronous effects, and clients for the parts
//! of the real servers tests inspect (Mailpit's mailbox, RabbitMQ's management API).
//!
//! Servers are the ones `cargo task deps` starts (or CI's service containers); their addresses
//! can be changed with `EVENTPOST_TEST_MONGO_URI`, `EVENTPOST_TEST_AMQP_URI`,
//! `EVENTPOST_TEST_MAILPIT_URL` and `EVENTPOST_TEST_RABBITMQ_API`.

mod assertions;
mod issuer;
mod mailpit_process;
mod proxy;

use std::{future::Future, time::Duration};

use serde::Deserialize;
use tokio::time::Instant;

use crate::{
    config::{AmqpConfig, MongoConfig, Secret},
    mongo::TEST_DATABASE_PREFIX,
};

pub use assertions::{
    assert_database_unavailable, assert_optional_fields_are_nullable,
    assert_routes_match_the_table, assert_serves_health, assert_written_as_documented,
    problem_fields,
};
pub use issuer::TokenIssuer;
pub use mailpit_process::PrivateMailpit;
pub use proxy::PausableProxy;

/// An Ed25519 signing key (PKCS#8 PEM) for tests only: no deployment trusts it.
pub const TEST_SIGNING_KEY: &str = include_str!("../tests/it/fixtures/test-only-ed25519.pem");

/// A second test-only key, for tokens signed by a key nobody published.
pub const OTHER_TEST_SIGNING_KEY: &str =
    include_str!("../tests/it/fixtures/test-only-ed25519-rotated.pem");

/// Installs test logging (see [`crate::telemetry::init_for_tests`]).
pub fn init() {
    crate::telemetry::init_for_tests();
}

/// A short name no other test uses: `<prefix>_<16 hex>`.
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let prefix: String = prefix
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(24)
        .collect();
    format!("{prefix}_{}", &id[..16])
}

/// A fresh database on the test server, within FerretDB's name rules.
pub fn mongo_config(prefix: &str) -> MongoConfig {
    let mut cfg = MongoConfig::local(&unique_name(&format!("{TEST_DATABASE_PREFIX}{prefix}")));
    if let Ok(uri) = std::env::var("EVENTPOST_TEST_MONGO_URI") {
        cfg.uri = Secret::new(uri);
    }
    cfg.server_selection_timeout = Duration::from_secs(3);
    cfg
}

/// Every exchange and queue a test declares starts with this, so `cargo task clean-test-dbs`
/// (run by `cargo task test` first) can remove what earlier runs left on the broker.
pub const TEST_AMQP_PREFIX: &str = "test_";

/// The test broker, with exchange and queue names under a fresh prefix.
pub fn amqp_config(prefix: &str) -> AmqpConfig {
    let mut cfg = AmqpConfig {
        prefix: format!("{}.", unique_name(&format!("{TEST_AMQP_PREFIX}{prefix}"))),
        retry_for: Duration::from_secs(20),
        ..AmqpConfig::default()
    };
    if let Ok(uri) = std::env::var("EVENTPOST_TEST_AMQP_URI") {
        cfg.uri = Secret::new(uri);
    }
    cfg
}

/// Polls `probe` until it returns `Some`, every 50 ms, failing after `deadline`.
pub async fn eventually<T, F, Fut>(
    deadline: Duration,
    what: &str,
    mut probe: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let give_up = Instant::now() + deadline;
    loop {
        if let Some(value) = probe().await? {
            return Ok(value);
        }
        if Instant::now() >= give_up {
            anyhow::bail!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Mailpit's HTTP API: what the SMTP server received.
#[derive(Clone)]
pub struct Mailpit {
    base: String,
    http: reqwest::Client,
}

/// A received message, as Mailpit lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MailSummary {
    /// Mailpit's own id, for [`Mailpit::message`].
    #[serde(rename = "ID")]
    pub id: String,
    /// The `Message-ID` header, without angle brackets.
    #[serde(rename = "MessageID")]
    pub message_id: String,
    /// The subject.
    pub subject: String,
    /// Recipients.
    pub to: Vec<Address>,
    /// When it arrived (RFC 3339).
    #[serde(default)]
    pub created: String,
}

/// A mailbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    /// Display name, possibly empty.
    pub name: String,
    /// The address.
    pub address: String,
}

/// A received message with its bodies and attachments.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Mail {
    /// The `Message-ID` header, without angle brackets.
    #[serde(rename = "MessageID")]
    pub message_id: String,
    /// Sender.
    pub from: Address,
    /// Recipients.
    pub to: Vec<Address>,
    /// The subject.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    #[serde(rename = "HTML")]
    pub html: String,
    /// Attached files.
    pub attachments: Vec<Attachment>,
}

/// An attached file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attachment {
    /// Mailpit's id of the MIME part, for [`Mailpit::attachment`].
    #[serde(rename = "PartID")]
    pub part_id: String,
    /// The file name.
    pub file_name: String,
    /// Its media type.
    pub content_type: String,
}

#[derive(Deserialize)]
struct SearchResult {
    messages: Vec<MailSummary>,
}

#[derive(Deserialize)]
struct MessageList {
    total: usize,
    messages: Vec<MailSummary>,
}

impl Mailpit {
    /// The local Mailpit (`http://127.0.0.1:8025`) or `EVENTPOST_TEST_MAILPIT_URL`.
    pub fn local() -> Self {
        let base = std::env::var("EVENTPOST_TEST_MAILPIT_URL")
            .unwrap_or_else(|_| "http://127.0.0.1:8025".into());
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// The Mailpit whose API is at `base`.
    pub fn at(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Where its API is (`http://host:port`).
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Its version information; an error if it does not answer.
    pub async fn info(&self) -> anyhow::Result<serde_json::Value> {
        Ok(self
            .http
            .get(format!("{}/api/v1/info", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// Everything received (newest first, up to `limit`) and how much that is in total.
    pub async fn all(&self, limit: usize) -> anyhow::Result<(usize, Vec<MailSummary>)> {
        self.page(0, limit).await
    }

    /// Up to `limit` messages from the `start`th (newest first), and how many there are.
    pub async fn page(
        &self,
        start: usize,
        limit: usize,
    ) -> anyhow::Result<(usize, Vec<MailSummary>)> {
        let list: MessageList = self
            .http
            .get(format!("{}/api/v1/messages", self.base))
            .query(&[("start", start), ("limit", limit)])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok((list.total, list.messages))
    }

    /// SMTP host and port to send to (`127.0.0.1:1025`, or `EVENTPOST_TEST_SMTP`).
    pub fn smtp_address() -> (String, u16) {
        let raw = std::env::var("EVENTPOST_TEST_SMTP").unwrap_or_else(|_| "127.0.0.1:1025".into());
        match raw.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), port.parse().unwrap_or(1025)),
            None => (raw, 1025),
        }
    }

    /// Messages addressed to `to` (newest first). Tests use unique addresses, so this is
    /// exactly what they sent.
    pub async fn messages_to(&self, to: &str) -> anyhow::Result<Vec<MailSummary>> {
        let result: SearchResult = self
            .http
            .get(format!("{}/api/v1/search", self.base))
            .query(&[("query", format!("to:\"{to}\""))])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(result.messages)
    }

    /// One message in full.
    pub async fn message(&self, id: &str) -> anyhow::Result<Mail> {
        Ok(self
            .http
            .get(format!("{}/api/v1/message/{id}", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// The headers of message `id`, each with its values.
    pub async fn headers(
        &self,
        id: &str,
    ) -> anyhow::Result<std::collections::HashMap<String, Vec<String>>> {
        Ok(self
            .http
            .get(format!("{}/api/v1/message/{id}/headers", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// The content of attachment `part_id` of message `id`, as text.
    pub async fn attachment(&self, id: &str, part_id: &str) -> anyhow::Result<String> {
        Ok(self
            .http
            .get(format!("{}/api/v1/message/{id}/part/{part_id}", self.base))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }

    /// Waits until `count` messages to `to` have arrived and returns them.
    pub async fn wait_for(&self, to: &str, count: usize) -> anyhow::Result<Vec<MailSummary>> {
        eventually(
            Duration::from_secs(10),
            &format!("{count} mail(s) to {to}"),
            || async {
                let messages = self.messages_to(to).await?;
                Ok((messages.len() >= count).then_some(messages))
            },
        )
        .await
    }
}

/// RabbitMQ's management API, for tests that inject broker faults.
pub struct RabbitAdmin {
    base: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct ConnectionInfo {
    name: String,
    #[serde(default)]
    client_properties: serde_json::Value,
}

impl RabbitAdmin {
    /// `http://127.0.0.1:15672` with the development account, or `EVENTPOST_TEST_RABBITMQ_API`.
    pub fn local() -> Self {
        let base = std::env::var("EVENTPOST_TEST_RABBITMQ_API")
            .unwrap_or_else(|_| "http://127.0.0.1:15672".into());
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Force-closes every connection whose client named itself `connection_name`, as a broker
    /// restart would. Returns how many were closed.
    pub async fn close_connections_named(&self, connection_name: &str) -> anyhow::Result<usize> {
        let connections: Vec<ConnectionInfo> = self.list("connections").await?;
        let mut closed = 0;
        for connection in connections {
            if connection.client_properties["connection_name"] == connection_name {
                self.delete("connections", &connection.name).await?;
                closed += 1;
            }
        }
        Ok(closed)
    }

    /// Deletes the queues and exchanges tests declared (named [`TEST_AMQP_PREFIX`]…): quorum
    /// queues are heavy, and a broker keeping every run's leftovers slows to a halt.
    ///
    /// Waits first until a freshly started broker has every leftover queue running again:
    /// deleting a queue whose dead-letter worker is still starting crashes that worker.
    pub async fn delete_test_leftovers(&self) -> anyhow::Result<usize> {
        eventually(
            Duration::from_secs(60),
            "leftover test queues recovered",
            || async {
                // Asked with its leader, the API reports a quorum queue's state as "running"
                // once it answers (and "live" otherwise, even when it does).
                let queues: Vec<QueueState> =
                    self.list("queues/%2F?columns=name,state,leader").await?;
                let recovering = queues.iter().any(|q| {
                    q.name.starts_with(TEST_AMQP_PREFIX) && q.state.as_deref() != Some("running")
                });
                Ok((!recovering).then_some(()))
            },
        )
        .await?;
        self.delete_prefixed(TEST_AMQP_PREFIX).await
    }

    /// Deletes the queues and exchanges named `prefix`…: what one test declared, once the
    /// services using them have stopped (deleting a queue under a publisher kills its channel).
    pub async fn delete_prefixed(&self, prefix: &str) -> anyhow::Result<usize> {
        let mut deleted = 0;
        for kind in ["queues/%2F", "exchanges/%2F"] {
            let named: Vec<Named> = self.list(kind).await?;
            for item in named.iter().filter(|n| n.name.starts_with(prefix)) {
                self.delete(kind, &item.name).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    async fn list<T: serde::de::DeserializeOwned>(&self, kind: &str) -> anyhow::Result<T> {
        Ok(self
            .http
            .get(format!("{}/api/{kind}", self.base))
            .basic_auth("guest", Some("guest"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// Deletes `name`; one gone already, or exclusive to a connection (it goes with it), is
    /// fine.
    async fn delete(&self, kind: &str, name: &str) -> anyhow::Result<()> {
        let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        let url = format!("{}/api/{kind}/{}", self.base, encoded.replace('+', "%20"));
        let answer = self
            .http
            .delete(&url)
            .basic_auth("guest", Some("guest"))
            .send()
            .await?;
        match answer.status() {
            reqwest::StatusCode::NOT_FOUND => Ok(()),
            // A queue exclusive to a connection still open refuses deletion; it is deleted
            // with its connection, so there is nothing to clean up.
            reqwest::StatusCode::BAD_REQUEST => {
                let refusal = answer.text().await.unwrap_or_default();
                anyhow::ensure!(
                    refusal.contains("exclusive access"),
                    "deleting {name}: {refusal}"
                );
                Ok(())
            }
            _ => answer.error_for_status().map(drop).map_err(Into::into),
        }
    }
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct QueueState {
    name: String,
    /// Absent while the broker has not yet reported on the queue.
    state: Option<String>,
}
