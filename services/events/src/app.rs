//! Assembling the events service: connect, declare its queues, mount, bind; then serve, relay
//! changes and consume deleted accounts until stopped.

use std::sync::Arc;

use common::{
    amqp::{Broker, Publisher},
    auth::JwksVerifier,
    health::{AmqpCheck, Check, OptionalMongoCheck},
    idempotency::IdempotencyKeys,
    metrics::Metrics,
    mongo,
    revocation::{self, Revocations},
    server::Service,
    topology::Exchange,
};
use mongodb::Database;
use tokio_util::sync::CancellationToken;

use crate::{
    SERVICE,
    api::{self, Ctx},
    catalogue::{self, Catalogue, Follower},
    config::Config,
    consumer,
    relay::{self, Relay, VersionLog},
    saves_relay::{SaveLog, SavesRelay},
    store::Store,
};

/// The running events service.
pub struct Application {
    service: Service,
    db: Database,
    store: Store,
    catalogue: Catalogue,
    follower: Follower,
    deletions: revocation::Follower,
    tombstones: revocation::Tombstones,
    amqp: Broker,
    relay: Relay,
    saves: SavesRelay,
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
        let domain = Publisher::new(
            &amqp,
            &topology.exchange(Exchange::Domain),
            config.amqp.deadline,
        )
        .await?
        .broadcast();
        let metrics = Metrics::new(SERVICE)?;
        let relay = Relay::new(
            VersionLog {
                store: store.clone(),
            },
            vec![(Exchange::Domain, domain.clone())],
            metrics.registry(),
        )?;
        let saves = relay.beside(SaveLog {
            store: store.clone(),
        });
        // Subscribed, then loaded, before the port is bound: an instance is never ready with
        // an empty catalogue or unaware of a deletion, and misses nothing written while it loads.
        let revocations = Revocations::new(&db, config.mongo.deadline());
        let tombstones = revocations.tombstones.clone();
        let verifier =
            Arc::new(JwksVerifier::new(config.auth.clone()).refusing(revocations.revoked.clone()));
        let deletions = revocations.subscribe(&amqp, &topology, SERVICE).await?;
        let follower = Follower::subscribe(&amqp, &topology, metrics.registry()).await?;
        let catalogue = Catalogue::default();
        catalogue::load(&catalogue, &store).await?;
        let ctx = Ctx {
            store: store.clone(),
            catalogue: catalogue.clone(),
            relay: relay.clone(),
            saves: saves.clone(),
            domain: domain.clone(),
        };
        let checks: Vec<Box<dyn Check>> = vec![
            // Reads are served from the catalogue, so the database being down leaves the
            // instance ready: the gateway keeps routing reads to it, and writes answer 503.
            Box::new(OptionalMongoCheck(db.clone())),
            Box::new(AmqpCheck(amqp.clone())),
        ];
        let keys = IdempotencyKeys::new(&db, config.mongo.deadline());
        let routes = api::routes(ctx, verifier, keys);
        let service = Service::bind_with_metrics(&config.http, routes, checks, metrics).await?;
        Ok(Self {
            service,
            db,
            store,
            catalogue,
            follower,
            deletions,
            tombstones,
            amqp,
            relay,
            saves,
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

    /// The store, for tests that look behind the API.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The catalogue this instance serves from.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// Serves, relays changes and consumes deleted accounts until `shutdown` is cancelled, then
    /// lets in-flight work finish.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let relay = tokio::spawn(relay::run(
            self.relay,
            self.store.clone(),
            self.config.relay_interval,
            shutdown.clone(),
        ));
        let saves = tokio::spawn(self.saves.run(
            "save relay",
            self.config.relay_interval,
            relay::PARKED_RETRY_EVERY,
            shutdown.clone(),
        ));
        let following = tokio::spawn(self.follower.run(
            self.catalogue.clone(),
            self.store.clone(),
            shutdown.clone(),
        ));
        let consumer = tokio::spawn(consumer::consume_user_deletions(
            self.amqp.clone(),
            self.config.amqp.topology(),
            self.config.amqp.prefetch,
            self.store.clone(),
            self.tombstones,
            shutdown.clone(),
        ));
        let deletions = tokio::spawn(self.deletions.run(shutdown.clone()));
        self.service.run_until_stopped(shutdown).await?;
        relay.await?;
        saves.await?;
        consumer.await??;
        following.await??;
        deletions.await??;
        Ok(())
    }
}
