//! Assembling the email-sender: connect, declare the email topology and retry queues, consume.
//! It serves no API, only `/healthz`, `/readyz` and `/metrics`.

use std::{sync::Arc, time::Duration};

use common::{
    amqp::{self, Publisher},
    health::{AmqpCheck, Check, MongoCheck},
    mongo,
    server::Service,
    topology::{Exchange, Queue},
};
use futures::future::BoxFuture;
use lapin::Connection;
use mongodb::Database;
use poem::Route;
use tokio_util::sync::CancellationToken;

use crate::{
    SERVICE, config::Config, deliveries::Deliveries, mailer::Mailer, templates::Templates,
    worker::Worker,
};

/// The running email-sender.
pub struct Application {
    service: Service,
    amqp: Arc<Connection>,
    db: Database,
    worker: Worker,
    config: Config,
}

impl Application {
    /// Connects, declares and binds (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = mongo::connect(&config.mongo, SERVICE).await?;
        let amqp = Arc::new(amqp::connect(&config.amqp, SERVICE).await?);
        let topology = config.amqp.topology();
        let delays: Arc<[Duration]> = config.worker.delays().into();
        let channel = amqp.create_channel().await?;
        topology.declare_email(&channel).await?;
        topology.declare_email_retries(&channel, &delays).await?;
        topology.declare_domain_exchange(&channel).await?;
        let publisher = |exchange| {
            let name = topology.exchange(exchange);
            let amqp = amqp.clone();
            async move { Publisher::new(&amqp, &name, config.amqp.deadline).await }
        };
        let mailer = Mailer::new(&config.smtp)?;
        let worker = Worker {
            templates: Arc::new(Templates::new()?),
            mailer: mailer.clone(),
            deliveries: Deliveries::open(&db, config.mongo.deadline()).await?,
            retry: publisher(Exchange::EmailRetry).await?,
            results: publisher(Exchange::Domain).await?.broadcast(),
            delays,
        };
        let checks: Vec<Box<dyn Check>> = vec![
            Box::new(AmqpCheck(amqp.clone())),
            Box::new(MongoCheck(db.clone())),
            Box::new(SmtpCheck(mailer)),
        ];
        let service = Service::bind(SERVICE, &config.http, Route::new(), checks).await?;
        Ok(Self {
            service,
            amqp,
            db,
            worker,
            config,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// Its database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The broker connection.
    pub fn amqp(&self) -> &Arc<Connection> {
        &self.amqp
    }

    /// Consumes and serves until `shutdown`; mail being sent then is finished and acknowledged.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let queue = self.config.amqp.topology().queue(Queue::Emails);
        let worker = self.worker;
        let pruning = tokio::spawn({
            let (deliveries, shutdown) = (worker.deliveries.clone(), shutdown.clone());
            async move { deliveries.prune_until(shutdown).await }
        });
        let handler = move |delivery: lapin::message::Delivery| {
            let worker = worker.clone();
            async move { worker.handle(&delivery).await }
        };
        let consumer = tokio::spawn({
            let (amqp, shutdown) = (self.amqp.clone(), shutdown.clone());
            let prefetch = self.config.amqp.prefetch;
            async move { amqp::consume(&amqp, &queue, prefetch, shutdown, handler).await }
        });
        self.service.run_until_stopped(shutdown).await?;
        consumer.await??;
        pruning.await?;
        Ok(())
    }
}

/// The SMTP server answers.
struct SmtpCheck(Mailer);

impl Check for SmtpCheck {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            match tokio::time::timeout(common::health::CHECK_TIMEOUT, self.0.is_reachable()).await {
                Ok(true) => Ok(()),
                Ok(false) => Err("the SMTP server does not answer".into()),
                Err(_) => Err("the SMTP server is too slow to answer".into()),
            }
        })
    }
}
