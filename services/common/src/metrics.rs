//! Prometheus metrics, one registry per service instance (so tests running several services in
//! one process do not share counters), recorded with `prometheus` directly; see tech-notes §8
//! for why poem's OpenTelemetry middleware is not used.

use std::time::Instant;

use poem::{Endpoint, Middleware, PathPattern, Request, Response};
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The registry and the HTTP instruments every service has.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    ready: IntGauge,
    dependency_up: IntGaugeVec,
}

impl Metrics {
    /// A fresh registry with the HTTP instruments, labelled with the service name.
    pub fn new(service: &str) -> prometheus::Result<Self> {
        let registry = Registry::new_custom(
            Some("eventpost".into()),
            Some([("service".to_owned(), service.to_owned())].into()),
        )?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer a request"),
            &["method", "route"],
        )?;
        let ready = IntGauge::new("ready", "1 when /readyz would answer 200, 0 when 503")?;
        let dependency_up = IntGaugeVec::new(
            Opts::new(
                "dependency_up",
                "1 when a dependency /readyz checks answers",
            ),
            &["dependency"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(ready.clone()))?;
        registry.register(Box::new(dependency_up.clone()))?;
        registry.register(Box::new(crate::domain::unparsable_counter().clone()))?;
        Ok(Self {
            registry,
            requests,
            duration,
            ready,
            dependency_up,
        })
    }

    /// Sets the readiness gauges: the service's, and each dependency's.
    pub fn record_readiness<'a>(
        &self,
        ready: bool,
        dependencies: impl IntoIterator<Item = (&'a str, bool)>,
    ) {
        self.ready.set(i64::from(ready));
        for (name, up) in dependencies {
            self.dependency_up
                .with_label_values(&[name])
                .set(i64::from(up));
        }
    }

    /// The registry, for services to add their own instruments.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Everything in the Prometheus text format.
    pub fn render(&self) -> prometheus::Result<String> {
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}

impl<E: Endpoint<Output = Response>> Middleware<E> for Metrics {
    type Output = MetricsEndpoint<E>;

    fn transform(&self, next: E) -> Self::Output {
        MetricsEndpoint {
            next,
            metrics: self.clone(),
        }
    }
}

/// The endpoint [`Metrics`] wraps around a route.
pub struct MetricsEndpoint<E> {
    next: E,
    metrics: Metrics,
}

impl<E: Endpoint<Output = Response>> Endpoint for MetricsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let method = req.method().to_string();
        let started = Instant::now();
        let response = self.next.call(req).await?;
        // The matched pattern (`/api/v1/events/:id`), not the path, keeps label values bounded.
        let route = response
            .data::<PathPattern>()
            .map_or("unmatched", |p| p.0.as_ref());
        self.metrics
            .requests
            .with_label_values(&[method.as_str(), route, response.status().as_str()])
            .inc();
        self.metrics
            .duration
            .with_label_values(&[method.as_str(), route])
            .observe(started.elapsed().as_secs_f64());
        Ok(response)
    }
}
