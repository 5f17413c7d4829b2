//! `/healthz` (the process is alive), `/readyz` (its dependencies answer) and `/metrics`
//! (Prometheus text, with what `/readyz` would answer as `eventpost_ready` and
//! `eventpost_dependency_up`), which every service mounts at its root.

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use mongodb::Database;
use poem::{
    EndpointExt, IntoResponse, Response, Route, get, handler,
    http::StatusCode,
    web::{Data, Json},
};
use serde::Serialize;

use crate::metrics::Metrics;

/// How long one readiness check may take before it counts as down.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One dependency that must answer for the service to be ready.
pub trait Check: Send + Sync {
    /// The dependency's name, as `/readyz` reports it.
    fn name(&self) -> &'static str;
    /// `Ok` when it answers, otherwise why not.
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
    /// Whether the service is not ready while this dependency is down. A service that still
    /// serves what matters without it (reads from memory) reports it down and stays ready.
    fn is_required(&self) -> bool {
        true
    }
}

/// The service's MongoDB database answers `ping`.
pub struct MongoCheck(pub Database);

/// [`MongoCheck`] for a service that serves reads from memory: reported, never required.
pub struct OptionalMongoCheck(pub Database);

impl Check for OptionalMongoCheck {
    fn name(&self) -> &'static str {
        "mongodb"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        ping_within(self.0.clone())
    }

    fn is_required(&self) -> bool {
        false
    }
}

fn ping_within(db: Database) -> BoxFuture<'static, Result<(), String>> {
    Box::pin(async move {
        // The driver must not have its futures dropped mid-operation (RUST-937).
        let ping = async move { crate::mongo::ping(&db).await };
        match crate::store::within(CHECK_TIMEOUT, ping).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(err.to_string()),
            Err(abandoned) => Err(abandoned.to_string()),
        }
    })
}

impl Check for MongoCheck {
    fn name(&self) -> &'static str {
        "mongodb"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        ping_within(self.0.clone())
    }
}

/// The RabbitMQ connection works (not lost, not being replaced).
pub struct AmqpCheck(pub crate::amqp::Broker);

impl Check for AmqpCheck {
    fn name(&self) -> &'static str {
        "rabbitmq"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        let result = if self.0.is_connected() {
            Ok(())
        } else {
            Err("not connected; connecting again".to_owned())
        };
        Box::pin(async move { result })
    }
}

/// The readiness checks of one service.
pub type Checks = Arc<Vec<Box<dyn Check>>>;

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    checks: Vec<CheckResult>,
}

#[derive(Serialize)]
struct CheckResult {
    name: &'static str,
    ok: bool,
    #[serde(skip)]
    required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[handler]
fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Every check's outcome, asked at once.
async fn evaluate(checks: &Checks) -> Vec<CheckResult> {
    futures::future::join_all(checks.iter().map(|check| async move {
        let outcome = check.check().await;
        CheckResult {
            name: check.name(),
            ok: outcome.is_ok(),
            required: check.is_required(),
            error: outcome.err(),
        }
    }))
    .await
}

/// Ready unless a dependency it cannot serve without is down.
fn is_ready(results: &[CheckResult]) -> bool {
    results.iter().all(|r| r.ok || !r.required)
}

#[handler]
async fn readyz(checks: Data<&Checks>) -> Response {
    let results = evaluate(&checks).await;
    let ready = is_ready(&results);
    let down: Vec<_> = results.iter().filter(|r| !r.ok).map(|r| r.name).collect();
    if !ready {
        tracing::warn!(?down, "not ready");
    } else if !down.is_empty() {
        tracing::warn!(?down, "ready, with a dependency down");
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" },
        checks: results,
    };
    Json(body).with_status(status).into_response()
}

#[handler]
async fn metrics(metrics: Data<&Metrics>, checks: Data<&Checks>) -> Response {
    // What `/readyz` would answer, as gauges an alert can read: Prometheus scrapes only this.
    let results = evaluate(&checks).await;
    metrics.record_readiness(
        is_ready(&results),
        results.iter().map(|result| (result.name, result.ok)),
    );
    match metrics.render() {
        Ok(text) => text
            .with_content_type("text/plain; version=0.0.4")
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "rendering metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Adds the three endpoints to a service's root route.
pub fn mount(route: Route, checks: Checks, metrics_registry: Metrics) -> Route {
    route
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz).data(checks.clone()))
        .at("/metrics", get(metrics).data(metrics_registry).data(checks))
}
