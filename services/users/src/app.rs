//! Assembling the users service: connect, declare what it publishes to, mount, bind.

use std::sync::Arc;

use common::{
    amqp::{Broker, Publisher},
    auth::JwksVerifier,
    config::{AmqpConfig, AuthConfig},
    health::{AmqpCheck, Check, MongoCheck},
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
    config::Config,
    limits::LoginLimits,
    mail_links::MailLinks,
    outbox::{self, Outbox, Relay},
    passwords::Passwords,
    store::Store,
    tokens::Signer,
};

/// The running users service.
pub struct Application {
    service: Service,
    db: Database,
    amqp: Broker,
    relay: Relay,
    deletions: revocation::Follower,
    config: Config,
}

impl Application {
    /// Connects, declares, mounts and binds (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let signer = Arc::new(Signer::from_config(&config.tokens)?);
        let db = mongo::connect(&config.mongo, SERVICE).await?;
        let store = Store::open(&db, config.mongo.deadline()).await?;
        let amqp = Broker::connect(&config.amqp, SERVICE).await?;
        let metrics = Metrics::new(SERVICE)?;
        let revocations = Revocations::new(&db, config.mongo.deadline());
        let relay = relay(
            &amqp,
            &config.amqp,
            Outbox {
                store: store.clone(),
                tombstones: revocations.tombstones.clone(),
            },
            &metrics,
        )
        .await?;
        let verifier = JwksVerifier::with_keys(
            AuthConfig {
                issuer: config.tokens.issuer.clone(),
                audience: config.tokens.audience.clone(),
                ..AuthConfig::default()
            },
            signer.jwks().clone(),
        );
        let verifier = Arc::new(verifier.refusing(revocations.revoked.clone()));
        let revoked = revocations.revoked.clone();
        // Before the port is bound, so no request is served unaware of a deletion.
        let deletions = revocations
            .subscribe(&amqp, &config.amqp.topology(), SERVICE)
            .await?;
        let ctx = Ctx {
            store,
            passwords: Passwords::new().await?,
            signer,
            relay: relay.clone(),
            limits: Arc::new(LoginLimits::per_minute(
                config.login_attempts_per_account,
                config.login_attempts_per_client,
            )),
            admin_emails: config.admin_emails.clone().into(),
            refresh_ttl: config.tokens.refresh_ttl,
            trusted_proxies: config.trusted_proxies.clone(),
            revoked,
            links: MailLinks::new(config.public_url.clone()),
        };
        let checks: Vec<Box<dyn Check>> = vec![
            Box::new(MongoCheck(db.clone())),
            Box::new(AmqpCheck(amqp.clone())),
        ];
        let keys = IdempotencyKeys::new(&db, config.mongo.deadline());
        let routes = api::routes(ctx, verifier, keys);
        let service = Service::bind_with_metrics(&config.http, routes, checks, metrics).await?;
        Ok(Self {
            service,
            db,
            amqp,
            relay,
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

    /// Serves and relays the outbox until `shutdown` is cancelled, then lets in-flight requests
    /// finish.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let relay = tokio::spawn(self.relay.run(
            "outbox relay",
            self.config.outbox_interval,
            outbox::PARKED_RETRY_EVERY,
            shutdown.clone(),
        ));
        let deletions = tokio::spawn(self.deletions.run(shutdown.clone()));
        self.service.run_until_stopped(shutdown).await?;
        relay.await?;
        deletions.await??;
        Ok(())
    }
}

async fn relay(
    amqp: &Broker,
    config: &AmqpConfig,
    outbox: Outbox,
    metrics: &Metrics,
) -> anyhow::Result<Relay> {
    let topology = config.topology();
    let declared = topology.clone();
    amqp.declare(move |channel| {
        let topology = declared.clone();
        async move {
            topology.declare_email(&channel).await?;
            topology.declare_domain_exchange(&channel).await
        }
    })
    .await?;
    let email_exchange = topology.exchange(Exchange::Email);
    let email = Publisher::new(amqp, &email_exchange, config.deadline).await?;
    let domain_exchange = topology.exchange(Exchange::Domain);
    let domain = Publisher::new(amqp, &domain_exchange, config.deadline)
        .await?
        .broadcast();
    Ok(Relay::new(
        outbox,
        vec![(Exchange::Email, email), (Exchange::Domain, domain)],
        metrics.registry(),
    )?)
}
