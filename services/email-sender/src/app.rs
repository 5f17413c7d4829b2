//! Assembling the email-sender: connect, declare the email topology and retry queues, consume.
//! It serves no API, only `/healthz`, `/readyz` and `/metrics`.

use std::{sync::Arc, time::Duration};

use common::{
    amqp::{self, Broker, Outcome, Publisher},
    health::{AmqpCheck, Check, MongoCheck},
    metrics::Metrics,
    mongo,
    server::Service,
    topology::{Exchange, Queue},
};
use futures::future::BoxFuture;
use lapin::message::Delivery;
use mongodb::Database;
use poem::Route;
use tokio_util::sync::CancellationToken;

use crate::{
    SERVICE, config::Config, deliveries::Deliveries, mailer::Mailer, metrics::MailMetrics,
    templates::Templates, worker::Worker,
};

/// The running email-sender.
pub struct Application {
    service: Service,
    amqp: Broker,
    db: Database,
    worker: Worker,
    config: Config,
}

impl Application {
    /// Connects, declares and binds (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = mongo::connect(&config.mongo, SERVICE).await?;
        let amqp = Broker::connect(&config.amqp, SERVICE).await?;
        let topology = config.amqp.topology();
        let delays: Arc<[Duration]> = config.worker.delays().into();
        let (declared, waits) = (topology.clone(), delays.clone());
        amqp.declare(move |channel| {
            let (topology, delays) = (declared.clone(), waits.clone());
            async move {
                topology.declare_email(&channel).await?;
                topology.declare_email_retries(&channel, &delays).await?;
                topology.declare_email_cancellations(&channel).await
            }
        })
        .await?;
        let publisher = |exchange| {
            let name = topology.exchange(exchange);
            let amqp = amqp.clone();
            async move { Publisher::new(&amqp, &name, config.amqp.deadline).await }
        };
        let mailer = Mailer::new(&config.smtp)?;
        let metrics = Metrics::new(SERVICE)?;
        let worker = Worker {
            templates: Arc::new(Templates::new()?),
            mailer: mailer.clone(),
            deliveries: Deliveries::open(&db, config.mongo.deadline()).await?,
            retry: publisher(Exchange::EmailRetry).await?,
            results: publisher(Exchange::Domain).await?.broadcast(),
            delays,
            send_lease: config.smtp.send_lease(),
            metrics: MailMetrics::register(metrics.registry())?,
        };
        let checks: Vec<Box<dyn Check>> = vec![
            Box::new(AmqpCheck(amqp.clone())),
            Box::new(MongoCheck(db.clone())),
            Box::new(SmtpCheck(mailer)),
        ];
        let service =
            Service::bind_with_metrics(&config.http, Route::new(), checks, metrics).await?;
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
    pub fn amqp(&self) -> &Broker {
        &self.amqp
    }

    /// Consumes and serves until `shutdown`; mail being sent then is finished and acknowledged.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let topology = self.config.amqp.topology();
        let worker = self.worker;
        let pruning = tokio::spawn({
            let (deliveries, shutdown) = (worker.deliveries.clone(), shutdown.clone());
            async move { deliveries.prune_until(shutdown).await }
        });
        let consume =
            |queue: Queue, handle: fn(Worker, Delivery) -> BoxFuture<'static, Outcome>| {
                let (amqp, shutdown, worker) =
                    (self.amqp.clone(), shutdown.clone(), worker.clone());
                let (queue, prefetch) = (topology.queue(queue), self.config.amqp.prefetch);
                tokio::spawn(async move {
                    let handler = move |delivery| handle(worker.clone(), delivery);
                    amqp::consume(&amqp, &queue, prefetch, shutdown, handler).await
                })
            };
        // Mail found waiting at start (after an outage, say) must not go out ahead of its own
        // cancellations, which wait in the other queue.
        let waiting = amqp::drain(
            &self.amqp,
            &topology.queue(Queue::EmailCancellations),
            |delivery| {
                let worker = worker.clone();
                async move { worker.handle_cancellation(&delivery).await }
            },
        )
        .await?;
        if waiting > 0 {
            tracing::info!(waiting, "took in the cancellations that were waiting");
        }
        let mail = consume(Queue::Emails, |worker, delivery| {
            Box::pin(async move { worker.handle(&delivery).await })
        });
        let cancellations = consume(Queue::EmailCancellations, |worker, delivery| {
            Box::pin(async move { worker.handle_cancellation(&delivery).await })
        });
        self.service.run_until_stopped(shutdown).await?;
        mail.await??;
        cancellations.await??;
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
