use std::time::Duration;

use chrono::Utc;
use common::{
    amqp::Publisher,
    config::HttpConfig,
    domain::EmailAddress,
    messages::{self, EmailContent, EmailRequestedV1},
    testing::{self, Mailpit},
    topology::{Exchange, Queue, Topology},
};
use email_sender::{
    Application,
    config::{Config, WorkerConfig},
};
use lapin::options::{BasicAckOptions, BasicGetOptions};
use tokio_util::sync::CancellationToken;

/// One running instance of the service and a publisher onto its email exchange.
pub struct TestApp {
    pub address: String,
    pub prefix: String,
    pub db: mongodb::Database,
    pub amqp: common::amqp::Broker,
    config: Config,
    publisher: Publisher,
    shutdown: CancellationToken,
    stopped: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// The service against the real dependencies, in fresh namespaces, retrying quickly.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(change: impl FnOnce(&mut Config)) -> anyhow::Result<TestApp> {
    testing::init();
    let (host, port) = Mailpit::smtp_address();
    let mut config = Config {
        http: HttpConfig::ephemeral(),
        mongo: testing::mongo_config("email_sender"),
        amqp: testing::amqp_config("email_sender"),
        worker: WorkerConfig::with_delays([Duration::from_millis(100), Duration::from_millis(200)]),
        ..Config::default()
    };
    config.smtp.host = host;
    config.smtp.port = port;
    change(&mut config);
    start(config).await
}

/// The service with `config`.
async fn start(config: Config) -> anyhow::Result<TestApp> {
    let prefix = config.amqp.prefix.clone();
    let app = Application::build(config.clone()).await?;
    let amqp = app.amqp().clone();
    let exchange = Topology::new(&prefix).exchange(Exchange::Email);
    let publisher = Publisher::new(&amqp, &exchange, Duration::from_secs(5)).await?;
    let shutdown = CancellationToken::new();
    Ok(TestApp {
        address: format!("http://127.0.0.1:{}", app.port()),
        prefix,
        db: app.db().clone(),
        amqp,
        config,
        publisher,
        shutdown: shutdown.clone(),
        stopped: tokio::spawn(app.run_until_stopped(shutdown)),
    })
}

/// A fresh recipient.
pub fn unique_address(who: &str) -> String {
    format!("{}@example.com", testing::unique_name(who))
}

pub fn welcome(to: &str, name: Option<&str>) -> EmailRequestedV1 {
    EmailRequestedV1 {
        to: EmailAddress::parse(to).expect("a valid address"),
        content: EmailContent::Welcome {
            display_name: name.map(str::to_owned),
        },
        requested_at: Utc::now(),
    }
}

impl TestApp {
    /// A second instance on the same queues and database.
    pub async fn another(&self) -> anyhow::Result<TestApp> {
        start(self.config.clone()).await
    }

    /// How many mail requests this instance handled with `outcome`, by its `/metrics`.
    pub async fn handled(&self, outcome: &str) -> anyhow::Result<u64> {
        let metrics = reqwest::get(format!("{}/metrics", self.address))
            .await?
            .text()
            .await?;
        let series = format!("outcome=\"{outcome}\"");
        Ok(metrics
            .lines()
            .filter(|line| {
                line.starts_with("eventpost_mail_requests_total") && line.contains(&series)
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum())
    }
    /// Publishes a mail request with `message_id`, as the users service would.
    pub async fn request(
        &self,
        message_id: &str,
        request: &EmailRequestedV1,
    ) -> anyhow::Result<()> {
        self.publisher
            .publish(messages::EMAIL_REQUESTED_V1, message_id, request)
            .await?;
        Ok(())
    }

    /// Waits for a message in the parking queue and returns its body.
    pub async fn next_parked(&self) -> anyhow::Result<EmailRequestedV1> {
        let channel = self.amqp.channel().await?;
        let queue = Topology::new(&self.prefix).queue(Queue::ParkedEmails);
        let body = testing::eventually(Duration::from_secs(15), "a parked mail", || async {
            match channel
                .basic_get(queue.as_str().into(), BasicGetOptions::default())
                .await?
            {
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

    /// Stops the instance, keeping its database and queues.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.stopped.await?
    }

    /// Stops the instance and drops its database (queues are left to `cargo task`'s broker).
    pub async fn cleanup(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.stopped.await??;
        self.db.drop().await?;
        Ok(())
    }
}
