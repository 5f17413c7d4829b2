use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{
    amqp::{self, QueueSpec},
    auth::Role,
    config::HttpConfig,
    testing::{self, PausableProxy, RabbitAdmin, TokenIssuer},
    topology::{Exchange, Topology},
};
use events::{Application, config::Config, store::Store};
use lapin::options::{BasicAckOptions, BasicGetOptions};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// One running instance of the service, an issuer of tokens it trusts, and an administrator.
pub struct TestApp {
    pub address: String,
    pub prefix: String,
    pub db: mongodb::Database,
    pub store: Store,
    pub amqp: common::amqp::Broker,
    pub issuer: TokenIssuer,
    pub admin: String,
    client: reqwest::Client,
    config: Config,
    shutdown: CancellationToken,
    stopped: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Another instance of the same service: same database, same broker names, same tokens.
pub struct Replica {
    pub address: String,
    client: reqwest::Client,
    shutdown: CancellationToken,
    stopped: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Replica {
    /// `GET path` on this instance.
    pub async fn get(&self, path: &str) -> anyhow::Result<Response> {
        Ok(self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await?)
    }

    /// Stops it (the database and queues are the first instance's to clean up).
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.stopped.await?
    }
}

/// Starts the service on a free port against the real dependencies, in fresh namespaces.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    spawn_app_with(|config| config).await
}

/// Like [`spawn_app`], with its database behind a proxy the test can pause; operations wait
/// at most a second for it.
pub async fn spawn_app_with_pausable_db() -> anyhow::Result<(TestApp, PausableProxy)> {
    let proxy = PausableProxy::to_local_mongo().await?;
    let app = spawn_app_with(|mut config| {
        config.mongo = proxy.mongo_config(config.mongo, Duration::from_secs(1));
        config
    })
    .await?;
    Ok((app, proxy))
}

async fn spawn_app_with(adjust: impl FnOnce(Config) -> Config) -> anyhow::Result<TestApp> {
    testing::init();
    let issuer = TokenIssuer::start().await?;
    let config = adjust(Config {
        http: HttpConfig::ephemeral(),
        mongo: testing::mongo_config("events"),
        amqp: testing::amqp_config("events"),
        auth: issuer.auth_config(),
        relay_interval: Duration::from_millis(200),
        ..Config::default()
    });
    let prefix = config.amqp.prefix.clone();
    let app = Application::build(config.clone()).await?;
    let (_, admin) = issuer.token(&[Role::User, Role::Admin], &[])?;
    let shutdown = CancellationToken::new();
    Ok(TestApp {
        address: format!("http://127.0.0.1:{}", app.port()),
        prefix,
        db: app.db().clone(),
        store: app.store().clone(),
        amqp: app.amqp().clone(),
        issuer,
        admin,
        client: reqwest::Client::new(),
        config,
        shutdown: shutdown.clone(),
        stopped: tokio::spawn(app.run_until_stopped(shutdown)),
    })
}

impl TestApp {
    /// A second instance on this one's database and broker names.
    pub async fn replica(&self) -> anyhow::Result<Replica> {
        let app = Application::build(self.config.clone()).await?;
        let shutdown = CancellationToken::new();
        Ok(Replica {
            address: format!("http://127.0.0.1:{}", app.port()),
            client: reqwest::Client::new(),
            shutdown: shutdown.clone(),
            stopped: tokio::spawn(app.run_until_stopped(shutdown)),
        })
    }
}

/// An event body starting `days` from now at `(lat, lon)`, with `topics`.
pub fn event_at(title: &str, days: i64, position: (f64, f64), topics: &[&str]) -> Value {
    let starts_at = Utc::now() + chrono::Duration::days(days);
    json!({
        "title": title,
        "description": format!("{title}: an evening to remember"),
        "starts_at": starts_at.to_rfc3339(),
        "ends_at": (starts_at + chrono::Duration::hours(3)).to_rfc3339(),
        "timezone": "Europe/Madrid",
        "place": { "name": "Plaza", "address": "Calle Mayor 1", "lat": position.0, "lon": position.1 },
        "organizer": "eventpost tests",
        "topics": topics,
    })
}

pub const GRANADA: (f64, f64) = (37.1773, -3.5986);
pub const MADRID: (f64, f64) = (40.4168, -3.7038);
pub const SEVILLE: (f64, f64) = (37.3891, -5.9845);
pub const BARCELONA: (f64, f64) = (41.3874, 2.1686);

/// What a problem body says.
pub async fn problem(response: Response, status: StatusCode) -> anyhow::Result<Value> {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"].to_str()?,
        "application/problem+json"
    );
    Ok(response.json().await?)
}

pub use common::testing::problem_fields as fields;

impl TestApp {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Response> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Ok(request.send().await?)
    }

    /// Creates an event as the administrator; returns it.
    pub async fn create_event(&self, body: &Value) -> anyhow::Result<Value> {
        let response = self.post_event(body, &self.admin).await?;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{:?}",
            response.text().await
        );
        Ok(response.json().await?)
    }

    pub async fn post_event(&self, body: &Value, token: &str) -> anyhow::Result<Response> {
        self.send(Method::POST, "/api/v1/events", Some(token), Some(body), &[])
            .await
    }

    pub async fn get_event(&self, id: &str, headers: &[(&str, &str)]) -> anyhow::Result<Response> {
        self.send(
            Method::GET,
            &format!("/api/v1/events/{id}"),
            None,
            None,
            headers,
        )
        .await
    }

    pub async fn put_event(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> anyhow::Result<Response> {
        let headers: Vec<(&str, &str)> =
            if_match.map(|tag| ("if-match", tag)).into_iter().collect();
        self.send(
            Method::PUT,
            &format!("/api/v1/events/{id}"),
            Some(&self.admin),
            Some(body),
            &headers,
        )
        .await
    }

    pub async fn delete_event(&self, id: &str) -> anyhow::Result<Response> {
        self.send(
            Method::DELETE,
            &format!("/api/v1/events/{id}"),
            Some(&self.admin),
            None,
            &[],
        )
        .await
    }

    /// `GET /api/v1/events?<query>`.
    pub async fn search(&self, query: &str) -> anyhow::Result<Response> {
        self.send(
            Method::GET,
            &format!("/api/v1/events?{query}"),
            None,
            None,
            &[],
        )
        .await
    }

    /// The titles of one page of `query`, and its next cursor.
    pub async fn search_titles(
        &self,
        query: &str,
    ) -> anyhow::Result<(Vec<String>, Option<String>)> {
        let response = self.search(query).await?;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        let page: Value = response.json().await?;
        Ok((
            titles(&page),
            page["next_cursor"].as_str().map(str::to_owned),
        ))
    }

    /// A token for a new plain user; returns `(user id, token)`.
    pub fn user(&self, interests: &[&str]) -> anyhow::Result<(String, String)> {
        self.issuer.token(&[Role::User], interests)
    }

    /// A queue that receives every v1 event-change message (what the notifications service
    /// hears), to observe what the service announces.
    pub async fn observe_changes(&self) -> anyhow::Result<Observer> {
        let channel = self.amqp.channel().await?;
        let queue = format!("{}test.observer", self.prefix);
        amqp::declare_queue(
            &channel,
            &QueueSpec {
                name: queue.clone(),
                bindings: vec![(
                    Topology::new(&self.prefix).exchange(Exchange::Domain),
                    "event.*.v1".into(),
                )],
                ..Default::default()
            },
        )
        .await?;
        Ok(Observer { channel, queue })
    }

    /// Stops the instance, drops its database and deletes its queues.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.stopped.await??;
        self.db.drop().await?;
        RabbitAdmin::local().delete_prefixed(&self.prefix).await?;
        Ok(())
    }
}

/// The titles of a page, in order.
pub fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["title"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads what the service announced.
pub struct Observer {
    channel: lapin::Channel,
    queue: String,
}

impl Observer {
    /// The next message's routing key and body, waiting for it.
    pub async fn next(&self) -> anyhow::Result<(String, Value)> {
        let (key, body, _) = self.next_traced().await?;
        Ok((key, body))
    }

    /// Whether nothing more is waiting now (what was announced before the last message read
    /// has arrived with it).
    pub async fn is_empty(&self) -> anyhow::Result<bool> {
        let queue = self
            .channel
            .queue_declare(
                self.queue.as_str().into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await?;
        Ok(queue.message_count() == 0)
    }

    /// The next message's routing key, body and `x-request-id` header, waiting for it.
    pub async fn next_traced(&self) -> anyhow::Result<(String, Value, Option<String>)> {
        testing::eventually(Duration::from_secs(10), "an announced change", || async {
            match self
                .channel
                .basic_get(self.queue.as_str().into(), BasicGetOptions::default())
                .await?
            {
                Some(message) => {
                    message.delivery.ack(BasicAckOptions::default()).await?;
                    let body: Value = serde_json::from_slice(&message.delivery.data)?;
                    let request_id = message
                        .delivery
                        .properties
                        .headers()
                        .as_ref()
                        .and_then(|headers| headers.inner().get("x-request-id").cloned())
                        .and_then(|value| match value {
                            lapin::types::AMQPValue::LongString(id) => Some(id.to_string()),
                            _ => None,
                        });
                    Ok(Some((
                        message.delivery.routing_key.to_string(),
                        body,
                        request_id,
                    )))
                }
                None => Ok(None),
            }
        })
        .await
    }
}

/// An instant as the API writes it.
pub fn instant(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}
