use std::time::Duration;

use common::{
    config::{HttpConfig, Secret},
    messages::{self, EmailContent, EmailRequestedV1},
    testing::{self, PausableProxy},
    topology::{Exchange, Queue, Topology},
};
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeleteOptions};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use users::{Application, config::Config, tokens::TokenConfig};

pub const SIGNING_KEY: &str = common::testing::TEST_SIGNING_KEY;

/// One running instance of the service and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: mongodb::Database,
    amqp: common::amqp::Broker,
    prefix: String,
    shutdown: CancellationToken,
    stopped: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Starts the service on a free port against the real dependencies, in fresh namespaces.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    spawn_with(|_| {}).await
}

/// Like [`spawn_app`], with its database behind a proxy the test can pause; operations wait
/// at most a second for it.
pub async fn spawn_app_with_pausable_db() -> anyhow::Result<(TestApp, PausableProxy)> {
    let proxy = PausableProxy::to_local_mongo().await?;
    let app = spawn_with(|config| {
        config.mongo = proxy.mongo_config(config.mongo.clone(), Duration::from_secs(1));
    })
    .await?;
    Ok((app, proxy))
}

/// Like [`spawn_app`], with configuration changes.
pub async fn spawn_with(change: impl FnOnce(&mut Config)) -> anyhow::Result<TestApp> {
    testing::init();
    let mut config = Config {
        http: HttpConfig::ephemeral(),
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
    let shutdown = CancellationToken::new();
    Ok(TestApp {
        address: format!("http://127.0.0.1:{}", app.port()),
        client: reqwest::Client::new(),
        db: app.db().clone(),
        amqp: app.amqp().clone(),
        prefix,
        shutdown: shutdown.clone(),
        stopped: tokio::spawn(app.run_until_stopped(shutdown)),
    })
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

    pub fn topology(&self) -> Topology {
        Topology::new(&self.prefix)
    }

    /// Waits for the next mail request on the email queue.
    pub async fn next_email(&self) -> anyhow::Result<EmailRequestedV1> {
        let queue = self.topology().queue(Queue::Emails);
        Ok(serde_json::from_slice(&self.next_message(&queue).await?)?)
    }

    /// Waits for the next verification token mailed to `to`, skipping other mail.
    pub async fn next_verification_token(&self, to: &str) -> anyhow::Result<String> {
        loop {
            let mail = self.next_email().await?;
            if let EmailContent::VerifyAddress { token, .. } = mail.content
                && mail.to.as_str() == to
            {
                return Ok(token);
            }
        }
    }

    /// Waits for the next password reset token mailed to `to`, skipping other mail.
    pub async fn next_reset_token(&self, to: &str) -> anyhow::Result<String> {
        loop {
            let mail = self.next_email().await?;
            if let EmailContent::ResetPassword { token, .. } = mail.content
                && mail.to.as_str() == to
            {
                return Ok(token);
            }
        }
    }

    /// Declares a queue of the test's own bound to `routing_key` on the domain exchange.
    pub async fn listen_to_domain_events(&self, routing_key: &str) -> anyhow::Result<String> {
        let channel = self.amqp.channel().await?;
        let queue = format!("{}test.{routing_key}", self.prefix);
        common::amqp::declare_queue(
            &channel,
            &common::amqp::QueueSpec {
                name: queue.clone(),
                bindings: vec![(
                    self.topology().exchange(Exchange::Domain),
                    routing_key.to_owned(),
                )],
                dead_letter_exchange: None,
                ..Default::default()
            },
        )
        .await?;
        Ok(queue)
    }

    /// Waits for the next message on `queue` and acknowledges it.
    pub async fn next_message(&self, queue: &str) -> anyhow::Result<Vec<u8>> {
        Ok(self.next_delivery(queue).await?.data)
    }

    /// Waits for the next message on `queue`, properties and all, and acknowledges it.
    pub async fn next_delivery(&self, queue: &str) -> anyhow::Result<lapin::message::Delivery> {
        let channel = self.amqp.channel().await?;
        testing::eventually(Duration::from_secs(10), "a message", || async {
            let message = channel
                .basic_get(queue.into(), BasicGetOptions::default())
                .await?;
            match message {
                Some(message) => {
                    message.delivery.ack(BasicAckOptions::default()).await?;
                    Ok(Some(message.delivery))
                }
                None => Ok(None),
            }
        })
        .await
    }

    /// Stops the instance, drops its database and its queue.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        // Stop first: deleting a queue a publisher is writing to crashes RabbitMQ 3.10's channel.
        self.shutdown.cancel();
        self.stopped.await??;
        let channel = self.amqp.channel().await?;
        let topology = Topology::new(&self.prefix);
        let listened = format!("{}test.{}", self.prefix, messages::USER_DELETED_V1);
        for queue in [
            topology.queue(Queue::Emails),
            topology.queue(Queue::ParkedEmails),
            listened,
        ] {
            channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await?;
        }
        for exchange in [Exchange::Email, Exchange::EmailDead, Exchange::Domain] {
            channel
                .exchange_delete(
                    topology.exchange(exchange).as_str().into(),
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

pub use common::testing::problem_fields as fields;
