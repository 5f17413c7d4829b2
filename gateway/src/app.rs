//! Assembling the gateway: upstream pools and their health polling, token checks, limits, the
//! proxy, the merged API document and its docs page.

use std::sync::Arc;

use common::{auth::JwksVerifier, health::Check, metrics::Metrics, server::Service};
use poem::{
    EndpointExt, Route, get,
    middleware::{Cors, SetHeader},
};
use tokio_util::sync::CancellationToken;

use crate::{
    SERVICE,
    config::Config,
    limits::RateLimits,
    openapi::{self, Docs, DocsPage},
    proxy::{Proxy, ProxyMetrics},
    upstreams::{Upstreams, UpstreamsCheck},
};

/// The running gateway.
pub struct Application {
    service: Service,
    upstreams: Upstreams,
    config: Config,
}

impl Application {
    /// Builds the pools and routes and binds (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let upstreams = Upstreams::new(&config.upstreams);
        let metrics = Metrics::new(SERVICE)?;
        let proxy = Proxy {
            upstreams: upstreams.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            // A redirect is the client's to follow (the web app's answers to its forms are).
            http: reqwest::Client::builder()
                .pool_idle_timeout(std::time::Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            verifier: Arc::new(JwksVerifier::new(config.auth.clone())),
            limits: Arc::new(RateLimits::new(&config.limits)),
            max_body_bytes: config.limits.max_body_bytes,
            timeout: config.limits.upstream_timeout,
            metrics: ProxyMetrics::register(metrics.registry())?,
        };
        let docs = Docs::new(upstreams.clone());
        let routes = Route::new()
            .at(
                "/openapi.json",
                get(openapi::openapi_json).data(docs.clone()),
            )
            .at("/docs", get(DocsPage { docs }))
            .at("/*path", proxy);
        let cors = Cors::new()
            .allow_origins(config.cors_origins.iter().map(String::as_str))
            .allow_credentials(false);
        let hardened = routes.with(cors).with(
            SetHeader::new()
                .overriding("x-content-type-options", "nosniff")
                .overriding("referrer-policy", "no-referrer"),
        );
        let checks: Vec<Box<dyn Check>> = vec![Box::new(UpstreamsCheck(upstreams.clone()))];
        let service = Service::bind_with_metrics(
            &config.http,
            Route::new().nest("/", hardened),
            checks,
            metrics,
        )
        .await?;
        Ok(Self {
            service,
            upstreams,
            config,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// Serves and polls upstream health until `shutdown` is cancelled, then lets in-flight
    /// requests finish.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let watcher = tokio::spawn(
            self.upstreams
                .watch(self.config.upstreams.health_interval, shutdown.clone()),
        );
        self.service.run_until_stopped(shutdown).await?;
        watcher.await?;
        Ok(())
    }
}
