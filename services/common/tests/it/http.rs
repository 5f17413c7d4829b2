//! The shared HTTP stack: problem+json for every failure, request ids, health, metrics,
//! bearer auth and graceful shutdown, exercised through a tiny API served on a free port.

use std::{sync::Arc, time::Duration};

use common::{
    ApiError, ApiResult,
    auth::BearerAuth,
    config::{AuthConfig, HttpConfig, MongoConfig, Secret},
    health::{Check, Checks, MongoCheck},
    json::JsonBody,
    metrics::Metrics,
    mongo,
    problem::{PROBLEM_JSON, Problem},
    server::{self, HttpServer},
    testing,
};
use poem::{EndpointExt, Route};
use poem_openapi::{Object, OpenApi, OpenApiService, param::Path, payload::Json};
use reqwest::StatusCode;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
struct Place {
    name: String,
    lat: Option<f64>,
}

#[derive(Debug, Deserialize, Object)]
#[serde(deny_unknown_fields)]
struct ThingIn {
    title: String,
    place: Place,
}

#[derive(Debug, Object)]
struct ThingOut {
    title: String,
}

struct Api {
    slow_started: Arc<tokio::sync::Notify>,
}

#[OpenApi]
impl Api {
    #[oai(path = "/things", method = "post")]
    async fn create(&self, body: JsonBody<ThingIn>) -> ApiResult<Json<ThingOut>> {
        if body.title.is_empty() {
            return Err(ApiError::invalid("title", "must not be empty"));
        }
        Ok(Json(ThingOut {
            title: body.0.title,
        }))
    }

    #[oai(path = "/things/:id", method = "get")]
    async fn get(&self, id: Path<u32>) -> ApiResult<Json<ThingOut>> {
        Err(ApiError::NotFound(if id.0 == 0 {
            "thing"
        } else {
            "other"
        }))
    }

    #[oai(path = "/me", method = "get")]
    async fn me(&self, auth: BearerAuth) -> ApiResult<Json<ThingOut>> {
        Ok(Json(ThingOut {
            title: auth.0.sub.to_string(),
        }))
    }

    #[oai(path = "/slow", method = "get")]
    async fn slow(&self) -> ApiResult<Json<ThingOut>> {
        // Stands for in-flight work that shutdown must let finish.
        self.slow_started.notify_one();
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(Json(ThingOut {
            title: "done".into(),
        }))
    }

    #[oai(path = "/panic", method = "get")]
    #[expect(
        clippy::panic,
        reason = "the test checks that a panic becomes a 500 problem"
    )]
    async fn explode(&self) -> ApiResult<Json<ThingOut>> {
        panic!("boom")
    }
}

struct TestServer {
    base: String,
    http: reqwest::Client,
    shutdown: CancellationToken,
    slow_started: Arc<tokio::sync::Notify>,
    stopped: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn spawn(mongo: MongoConfig) -> anyhow::Result<TestServer> {
    spawn_draining(mongo, Duration::ZERO).await
}

async fn spawn_draining(mongo: MongoConfig, drain: Duration) -> anyhow::Result<TestServer> {
    testing::init();
    let db = mongo::connect(&mongo, "common-tests").await?;
    let server = HttpServer::bind(&HttpConfig {
        shutdown_drain: drain,
        shutdown_grace: Duration::from_secs(5),
        ..HttpConfig::ephemeral()
    })
    .await?;
    let checks: Checks = Arc::new(vec![
        Box::new(MongoCheck(db)) as Box<dyn Check>,
        Box::new(server.stopping()),
    ]);
    let slow_started = Arc::new(tokio::sync::Notify::new());
    let api = OpenApiService::new(
        Api {
            slow_started: slow_started.clone(),
        },
        "test",
        "1",
    );
    let verifier = Arc::new(common::auth::JwksVerifier::new(AuthConfig {
        jwks_url: "http://127.0.0.1:1/jwks".parse()?,
        ..AuthConfig::default()
    }));
    let route = Route::new().nest("/api", api.data(verifier));
    let endpoint = server::endpoint(route, checks, Metrics::new("test")?);
    let base = format!("http://127.0.0.1:{}", server.port());
    let shutdown = CancellationToken::new();
    let stopped = tokio::spawn(server.serve(endpoint, shutdown.clone()));
    Ok(TestServer {
        base,
        http: reqwest::Client::new(),
        shutdown,
        slow_started,
        stopped,
    })
}

async fn spawn_default() -> anyhow::Result<TestServer> {
    spawn(testing::mongo_config("http")).await
}

impl TestServer {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post_raw(&self, path: &str, body: &str) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await?)
    }
}

/// Asserts a problem+json answer with `status` and returns the problem.
async fn problem(response: reqwest::Response, status: StatusCode) -> anyhow::Result<Problem> {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"].to_str()?.to_owned();
    assert_eq!(content_type, PROBLEM_JSON);
    let header_id = response.headers()["x-request-id"].to_str()?.to_owned();
    let problem: Problem = response.json().await?;
    assert_eq!(problem.status, status.as_u16());
    assert_eq!(problem.request_id.as_deref(), Some(header_id.as_str()));
    Ok(problem)
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() -> anyhow::Result<()> {
    let app = spawn_default().await?;
    let response = app.post_raw("/api/things", r#"{"title": "#).await?;
    let problem = problem(response, StatusCode::BAD_REQUEST).await?;
    assert_eq!(problem.kind, "urn:eventpost:problem:malformed-request");
    Ok(())
}

#[tokio::test]
async fn a_wrong_type_in_a_nested_field_names_that_field() -> anyhow::Result<()> {
    let app = spawn_default().await?;
    let body = r#"{"title":"t","place":{"name":"club","lat":"north"}}"#;
    let problem = problem(
        app.post_raw("/api/things", body).await?,
        StatusCode::BAD_REQUEST,
    )
    .await?;
    assert_eq!(problem.errors.expect("field errors")[0].field, "place.lat");
    Ok(())
}

#[tokio::test]
async fn a_domain_rule_violation_is_a_422_listing_the_field() -> anyhow::Result<()> {
    let app = spawn_default().await?;
    let body = r#"{"title":"","place":{"name":"club"}}"#;
    let response = app.post_raw("/api/things", body).await?;
    let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await?;
    let errors = problem.errors.expect("field errors");
    assert_eq!(
        (errors[0].field.as_str(), errors[0].message.as_str()),
        ("title", "must not be empty")
    );
    Ok(())
}

#[tokio::test]
async fn a_good_request_is_answered_and_its_request_id_echoed() -> anyhow::Result<()> {
    let app = spawn_default().await?;
    let response = app
        .http
        .post(app.url("/api/things"))
        .header("x-request-id", "client-chosen-1")
        .json(&serde_json::json!({"title": "Jazz", "place": {"name": "club", "lat": 40.4}}))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"], "client-chosen-1");
    let body: serde_json::Value = response.json().await?;
    assert_eq!(body["title"], "Jazz");
    Ok(())
}

#[tokio::test]
async fn a_malformed_request_id_is_replaced() -> anyhow::Result<()> {
    let app = spawn_default().await?;
    let response = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "has spaces and ; semicolons")
        .send()
        .await?;
    let echoed = response.headers()["x-request-id"].to_str()?;
    assert_ne!(echoed, "has spaces and ; semicolons");
    assert!(uuid::Uuid::parse_str(echoed).is_ok(), "{echoed}");
    Ok(())
}

#[tokio::test]
async fn bad_path_parameters_unknown_routes_and_handler_errors_are_problems() -> anyhow::Result<()>
{
    let app = spawn_default().await?;

    let bad_id = app.http.get(app.url("/api/things/abc")).send().await?;
    let bad_id = problem(bad_id, StatusCode::BAD_REQUEST).await?;
    assert!(bad_id.detail.contains("path segment"), "{}", bad_id.detail);

    let unknown = app.http.get(app.url("/api/nothing-here")).send().await?;
    problem(unknown, StatusCode::NOT_FOUND).await?;

    let missing = app.http.get(app.url("/api/things/0")).send().await?;
    assert_eq!(
        problem(missing, StatusCode::NOT_FOUND).await?.detail,
        "no such thing"
    );

    let wrong_media = app
        .http
        .post(app.url("/api/things"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await?;
    problem(wrong_media, StatusCode::UNSUPPORTED_MEDIA_TYPE).await?;
    Ok(())
}

#[tokio::test]
async fn a_missing_or_bad_token_is_a_401_with_a_bearer_challenge() -> anyhow::Result<()> {
    let app = spawn_default().await?;
    let missing = app.http.get(app.url("/api/me")).send().await?;
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    problem(missing, StatusCode::UNAUTHORIZED).await?;

    let garbage = app
        .http
        .get(app.url("/api/me"))
        .bearer_auth("not-a-jwt")
        .send()
        .await?;
    assert_eq!(garbage.headers()["www-authenticate"], "Bearer");
    problem(garbage, StatusCode::UNAUTHORIZED).await?;
    Ok(())
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_problem_without_details() -> anyhow::Result<()> {
    let app = spawn_default().await?;
    let response = app.http.get(app.url("/api/panic")).send().await?;
    let problem = problem(response, StatusCode::INTERNAL_SERVER_ERROR).await?;
    assert!(!problem.detail.contains("boom"));
    Ok(())
}

#[tokio::test]
async fn health_readiness_and_metrics_are_served() -> anyhow::Result<()> {
    let app = spawn_default().await?;
    let health: serde_json::Value = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(health["status"], "ok");

    let ready = app.http.get(app.url("/readyz")).send().await?;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: serde_json::Value = ready.json().await?;
    assert_eq!(ready["checks"][0]["name"], "mongodb");
    assert_eq!(ready["checks"][0]["ok"], true);

    app.http.get(app.url("/api/things/0")).send().await?;
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("eventpost_http_requests_total") && l.contains("status=\"404\""))
        .unwrap_or_else(|| panic!("no 404 counter in:\n{metrics}"));
    // poem-openapi names path parameters by position; the pattern still bounds the labels.
    assert!(line.contains("route=\"/api/things/:param0\""), "{line}");
    assert!(line.contains("service=\"test\""), "{line}");
    Ok(())
}

#[tokio::test]
async fn readiness_names_the_dependency_that_is_down() -> anyhow::Result<()> {
    let unreachable = MongoConfig {
        uri: Secret::new("mongodb://127.0.0.1:1/?directConnection=true"),
        server_selection_timeout: Duration::from_millis(300),
        ..MongoConfig::local("nowhere")
    };
    let app = spawn(unreachable).await?;
    let ready = app.http.get(app.url("/readyz")).send().await?;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: serde_json::Value = ready.json().await?;
    assert_eq!(ready["status"], "unavailable");
    assert_eq!(ready["checks"][0]["name"], "mongodb");
    assert_eq!(ready["checks"][0]["ok"], false);
    Ok(())
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_then_stops() -> anyhow::Result<()> {
    let app = spawn_default().await?;
    let in_flight = tokio::spawn({
        let (http, url) = (app.http.clone(), app.url("/api/slow"));
        async move {
            http.get(url)
                .send()
                .await?
                .json::<serde_json::Value>()
                .await
        }
    });
    tokio::time::timeout(Duration::from_secs(5), app.slow_started.notified()).await?;
    app.shutdown.cancel();

    let answered = in_flight.await??;
    assert_eq!(answered["title"], "done");
    app.stopped.await??;
    let after = reqwest::get(format!("{}/healthz", app.base)).await;
    assert!(after.is_err(), "the server still answers after shutdown");
    Ok(())
}

#[tokio::test]
async fn a_stopping_server_says_so_on_readiness_and_serves_on_through_its_drain()
-> anyhow::Result<()> {
    let app = spawn_draining(testing::mongo_config("http"), Duration::from_secs(2)).await?;
    app.shutdown.cancel();

    let ready = app.http.get(app.url("/readyz")).send().await?;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: serde_json::Value = ready.json().await?;
    let shutdown = ready["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == "shutdown"))
        .unwrap_or_else(|| panic!("no shutdown check in {ready}"));
    assert_eq!(shutdown["ok"], false);
    // A request routed here before the router saw the 503 is still answered, on a new connection.
    let late = reqwest::Client::new()
        .post(app.url("/api/things"))
        .json(&serde_json::json!({ "title": "late", "place": { "name": "here" } }))
        .send()
        .await?;
    assert_eq!(late.status(), StatusCode::OK);
    assert_eq!(late.json::<serde_json::Value>().await?["title"], "late");

    tokio::time::timeout(Duration::from_secs(10), app.stopped).await???;
    let after = reqwest::get(format!("{}/healthz", app.base)).await;
    assert!(after.is_err(), "the server still answers after its drain");
    Ok(())
}
