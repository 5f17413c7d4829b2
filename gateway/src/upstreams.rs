//! The instances behind each service: round robin over the healthy ones. An instance is healthy
//! while its `/readyz` answers 200 (polled) and no request to it failed to connect since the last
//! poll (passive ejection).

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures::future::{BoxFuture, join_all};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{config, routes::Upstream};

/// How long one health poll may take.
const POLL_TIMEOUT: Duration = Duration::from_secs(1);

/// One instance of a service.
pub struct Instance {
    /// Its base URL.
    pub base: Url,
    healthy: AtomicBool,
}

impl Instance {
    /// Takes the instance out until its next successful poll.
    pub fn eject(&self) {
        if self.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(upstream = %self.base, "instance ejected after a failed request");
        }
    }
}

/// The instances of one service.
pub struct Pool {
    instances: Vec<Arc<Instance>>,
    next: AtomicUsize,
}

impl Pool {
    fn new(bases: &[Url]) -> Self {
        Self {
            // Optimistic until the first poll, so a gateway started with its services serves
            // at once.
            instances: bases
                .iter()
                .map(|base| {
                    Arc::new(Instance {
                        base: base.clone(),
                        healthy: AtomicBool::new(true),
                    })
                })
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// The next healthy instance in turn; when none is healthy, the next one all the same.
    ///
    /// A health poll that times out under load says "slow", not "down": refusing every request
    /// then would turn an overloaded service into an outage (Envoy calls this panic routing).
    /// An instance that is really down refuses the connection, and the proxy answers 503.
    pub fn pick(&self) -> Option<Arc<Instance>> {
        let count = self.instances.len();
        if count == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let in_turn = (0..count).map(|offset| &self.instances[(start + offset) % count]);
        in_turn
            .clone()
            .find(|instance| instance.healthy.load(Ordering::Relaxed))
            .or_else(|| in_turn.clone().next())
            .cloned()
    }

    /// How many instances there are.
    pub fn instance_count(&self) -> usize {
        self.instances.len()
    }

    /// Whether any instance is healthy.
    pub fn has_healthy(&self) -> bool {
        self.instances
            .iter()
            .any(|i| i.healthy.load(Ordering::Relaxed))
    }
}

/// Every service's pool.
#[derive(Clone)]
pub struct Upstreams {
    pools: Arc<HashMap<Upstream, Pool>>,
    http: reqwest::Client,
}

impl Upstreams {
    /// Pools from the configuration.
    pub fn new(cfg: &config::Upstreams) -> Self {
        let pools = [
            (Upstream::Users, Pool::new(&cfg.users)),
            (Upstream::Events, Pool::new(&cfg.events)),
            (Upstream::Notifications, Pool::new(&cfg.notifications)),
            (Upstream::Web, Pool::new(&cfg.web)),
        ];
        Self {
            pools: Arc::new(pools.into_iter().collect()),
            http: reqwest::Client::builder()
                .timeout(POLL_TIMEOUT)
                .build()
                .unwrap_or_default(),
        }
    }

    /// The pool of `upstream`.
    pub fn pool(&self, upstream: Upstream) -> &Pool {
        &self.pools[&upstream]
    }

    /// Polls every instance's `/readyz` every `interval` until `shutdown`.
    pub async fn watch(self, interval: Duration, shutdown: CancellationToken) {
        loop {
            self.poll_all().await;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Polls every instance once.
    pub async fn poll_all(&self) {
        let polls = self
            .pools
            .values()
            .flat_map(|pool| pool.instances.iter())
            .map(|instance| self.poll(instance));
        join_all(polls).await;
    }

    async fn poll(&self, instance: &Instance) {
        let url = instance
            .base
            .join("readyz")
            .unwrap_or_else(|_| instance.base.clone());
        let healthy = self
            .http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        let was = instance.healthy.swap(healthy, Ordering::Relaxed);
        if was != healthy {
            tracing::info!(upstream = %instance.base, healthy, "instance health changed");
        }
    }
}

/// Readiness: every service of the API has at least one healthy instance (without the web app
/// the API still serves).
pub struct UpstreamsCheck(pub Upstreams);

impl common::health::Check for UpstreamsCheck {
    fn name(&self) -> &'static str {
        "upstreams"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        let down: Vec<_> = Upstream::APIS
            .into_iter()
            .filter(|u| !self.0.pool(*u).has_healthy())
            .map(Upstream::name)
            .collect();
        Box::pin(async move {
            if down.is_empty() {
                Ok(())
            } else {
                Err(format!("no healthy instance of {}", down.join(", ")))
            }
        })
    }
}
