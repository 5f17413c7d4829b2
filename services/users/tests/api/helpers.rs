use std::{sync::Arc, time::Duration};

use common::{
    config::{HttpConfig, Secret},
    messages::{self, EmailRequestedV1},
    testing,
};
use lapin::{
    Connection,
    options::{BasicAckOptions, BasicGetOptions, QueueDeleteOptions},
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use users::{Application, config::Config, tokens::TokenConfig};

pub const SIGNING_KEY: &str = include_str!("fixtures/test-only-ed25519.pem");

/// One running instance of the service and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: mongodb::Database,
    amqp: Arc<Connection>,
    prefix: String,
    shutdown: CancellationToken,
}

/// Starts the service on a free port against the real dependencies, in fresh namespaces.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    spawn_with(|_| {}).await
}

/// Like [`spawn_app`], with configuration changes.
pub async fn spawn_with(change: impl FnOnce(&mut Config)) -> anyhow::Result<TestApp> {
    testing::init();
    let mut config = Config {
        http: HttpConfig::local(0),
        mongo: testing::mongo_config("users"),
        amqp: testing::amqp_config("users"),
        tokens: TokenConfig {
            signing_key: Some(Secret::new(SIGNING_KEY)),
            ..TokenConfig::default()
        },
        outbox_interval: Duration::from_millis(200),
        ..Config::default()
    };
    change(&mut config);
    let prefix = config.amqp.prefix.clone();
    let app = Application::build(config).await?;
    let test_app = TestApp {
        address: format!("http://127.0.0.1:{}", app.port()),
        client: reqwest::Client::new(),
        db: app.db().clone(),
        amqp: app.amqp().clone(),
        prefix,
        shutdown: CancellationToken::new(),
    };
    tokio::spawn(app.run_until_stopped(test_app.shutdown.clone()));
    Ok(test_app)
}

/// A fresh address no other test uses.
pub fn unique_email(who: &str) -> String {
    format!("{}@example.com", testing::unique_name(who))
}

pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> anyhow::Result<reqwest::Response> {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Ok(request.send().await?)
    }

    pub async fn post(
        &self,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Ok(request.send().await?)
    }

    pub async fn patch(
        &self,
        path: &str,
        body: &Value,
        token: &str,
    ) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .patch(self.url(path))
            .json(body)
            .bearer_auth(token)
            .send()
            .await?)
    }

    pub async fn register(&self, email: &str) -> anyhow::Result<reqwest::Response> {
        self.post(
            "/api/v1/users",
            &json!({ "email": email, "password": PASSWORD }),
            None,
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<reqwest::Response> {
        self.post(
            "/api/v1/auth/token",
            &json!({ "email": email, "password": password }),
            None,
        )
        .await
    }

    /// Registers `email` and logs in; returns the token pair.
    pub async fn signed_up(&self, email: &str) -> anyhow::Result<Tokens> {
        assert_eq!(self.register(email).await?.status(), 201);
        let response = self.login(email, PASSWORD).await?;
        assert_eq!(response.status(), 200);
        Ok(response.json().await?)
    }

    pub async fn refresh(&self, refresh_token: &str) -> anyhow::Result<reqwest::Response> {
        self.post(
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": refresh_token }),
            None,
        )
        .await
    }

    /// Waits for the next mail request on the email queue.
    pub async fn next_email(&self) -> anyhow::Result<EmailRequestedV1> {
        let channel = self.amqp.create_channel().await?;
        let queue = format!("{}{}", self.prefix, messages::EMAIL_QUEUE);
        let body = testing::eventually(Duration::from_secs(10), "a mail request", || async {
            let message = channel
                .basic_get(queue.as_str().into(), BasicGetOptions::default())
                .await?;
            match message {
                Some(message) => {
                    message.delivery.ack(BasicAckOptions::default()).await?;
                    Ok(Some(message.delivery.data))
                }
                None => Ok(None),
            }
        })
        .await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// Stops the instance, drops its database and its queue.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let channel = self.amqp.create_channel().await?;
        let queue = format!("{}{}", self.prefix, messages::EMAIL_QUEUE);
        channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await?;
        for exchange in [messages::EMAIL_EXCHANGE, messages::DOMAIN_EXCHANGE] {
            channel
                .exchange_delete(
                    format!("{}{exchange}", self.prefix).as_str().into(),
                    Default::default(),
                )
                .await?;
        }
        self.db.drop().await?;
        Ok(())
    }
}

/// A token pair as the API returns it.
#[derive(Debug, serde::Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: u64,
}

/// Asserts a problem+json answer and returns its body.
pub async fn problem(response: reqwest::Response, status: u16) -> anyhow::Result<Value> {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await?;
    assert_eq!(body["status"], status);
    Ok(body)
}

/// The fields a 4xx problem names.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
