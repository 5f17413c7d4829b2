//! Assembling the notifications service: connect, declare its queues, mount, bind; then serve,
//! consume and schedule, as its role says, until stopped.

use std::sync::Arc;

use common::{
    amqp::{Broker, Publisher},
    auth::JwksVerifier,
    clock::SystemClock,
    health::{AmqpCheck, Check, MongoCheck},
    idempotency::IdempotencyKeys,
    metrics::Metrics,
    mongo,
    revocation::{self, Revocations},
    server::Service,
    topology::Exchange,
};
use mongodb::Database;
use poem::Route;
use tokio_util::sync::CancellationToken;

use crate::{
    SERVICE,
    action_links::ActionLinks,
    api::{self, Ctx},
    cancellation::Canceller,
    clients::Services,
    config::Config,
    consumer::{self, Handler},
    metrics::SchedulerMetrics,
    results::Results,
    scheduler::{Scheduler, notices::Notices},
    store::Store,
};

/// The running notifications service.
pub struct Application {
    service: Service,
    db: Database,
    amqp: Broker,
    handler: Handler,
    results: Results,
    scheduler: Scheduler,
    deletions: Option<revocation::Follower>,
    config: Config,
}

impl Application {
    /// Connects, declares, mounts and binds (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = mongo::connect(&config.mongo, SERVICE).await?;
        let store = Store::open(&db, config.mongo.deadline()).await?;
        let amqp = Broker::connect(&config.amqp, SERVICE).await?;
        let topology = config.amqp.topology();
        consumer::declare(&amqp, &topology).await?;
        let metrics = Metrics::new(SERVICE)?;
        let scheduler_metrics = SchedulerMetrics::register(metrics.registry())?;
        let email = Publisher::new(
            &amqp,
            &topology.exchange(Exchange::Email),
            config.amqp.deadline,
        )
        .await?;
        let links = ActionLinks::new(&config.action_link_key, config.public_url.clone());
        let scheduler = Scheduler::new(
            store.clone(),
            email,
            config.scheduler.clone(),
            scheduler_metrics.clone(),
            SystemClock::shared(),
            links.clone(),
        );
        let domain = Publisher::new(
            &amqp,
            &topology.exchange(Exchange::Domain),
            config.amqp.deadline,
        )
        .await?;
        let notices = Notices {
            domain: domain.clone().broadcast(),
        };
        let canceller = Canceller {
            store: store.clone(),
            domain,
        };
        let revocations = Revocations::new(&db, config.mongo.deadline());
        let results = Results::new(store.clone(), scheduler_metrics);
        let handler = Handler::new(
            store.clone(),
            revocations.tombstones.clone(),
            canceller.clone(),
            notices.clone(),
            results.clone(),
            config.change_notice_settle,
        );
        // Subscribed before the port is bound, so no request is served unaware of a deletion.
        let mut deletions = None;
        let route = if config.role.runs_api() {
            let ctx = Ctx {
                store,
                canceller,
                notices,
                links,
                results: results.clone(),
                services: Services::new(config.users_url.clone(), config.events_url.clone())?,
            };
            let verifier = Arc::new(
                JwksVerifier::new(config.auth.clone()).refusing(revocations.revoked.clone()),
            );
            deletions = Some(revocations.subscribe(&amqp, &topology, SERVICE).await?);
            api::routes(
                ctx,
                config.public_url.clone(),
                verifier,
                IdempotencyKeys::new(&db, config.mongo.deadline()),
            )
        } else {
            Route::new()
        };
        let checks: Vec<Box<dyn Check>> = vec![
            Box::new(MongoCheck(db.clone())),
            Box::new(AmqpCheck(amqp.clone())),
        ];
        let service = Service::bind_with_metrics(&config.http, route, checks, metrics).await?;
        Ok(Self {
            service,
            db,
            amqp,
            handler,
            results,
            scheduler,
            deletions,
            config,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The service's own database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The broker connection.
    pub fn amqp(&self) -> &Broker {
        &self.amqp
    }

    /// Serves, consumes and schedules (as the role says) until `shutdown` is cancelled, then
    /// lets in-flight work finish.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let role = self.config.role;
        let consumer = role.runs_api().then(|| {
            tokio::spawn(consumer::consume(
                self.amqp.clone(),
                self.config.amqp.topology(),
                self.config.amqp.prefetch,
                self.handler.clone(),
                shutdown.clone(),
            ))
        });
        // Stopped after the consumer, so that what it hands in while draining is recorded.
        let recording = CancellationToken::new();
        let recorder = role
            .runs_api()
            .then(|| tokio::spawn(self.results.clone().run(recording.clone())));
        let scheduler = role.runs_scheduler().then(|| {
            tokio::spawn(self.scheduler.clone().run(
                self.amqp.clone(),
                self.config.amqp.topology(),
                shutdown.clone(),
            ))
        });
        let deletions = self
            .deletions
            .map(|deletions| tokio::spawn(deletions.run(shutdown.clone())));
        self.service.run_until_stopped(shutdown).await?;
        if let Some(deletions) = deletions {
            deletions.await??;
        }
        if let Some(consumer) = consumer {
            consumer.await??;
        }
        recording.cancel();
        if let Some(recorder) = recorder {
            recorder.await?;
        }
        if let Some(scheduler) = scheduler {
            scheduler.await??;
        }
        Ok(())
    }
}
