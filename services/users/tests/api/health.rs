use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_service_is_alive_and_ready_when_its_dependencies_answer() -> anyhow::Result<()> {
    let app = spawn_app().await?;

    let alive = app.get("/healthz", None).await?;
    assert_eq!(alive.status(), StatusCode::OK);
    let ready = app.get("/readyz", None).await?;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: serde_json::Value = ready.json().await?;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["checks"][0]["name"], "mongodb");
    assert_eq!(ready["checks"][1]["name"], "rabbitmq");
    assert_eq!(ready["checks"][1]["ok"], true);

    app.cleanup().await
}

#[tokio::test]
async fn an_unknown_path_is_a_404_problem_with_a_request_id() -> anyhow::Result<()> {
    let app = spawn_app().await?;

    let response = app.get("/api/v1/nothing", None).await?;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let request_id = response.headers()["x-request-id"].to_str()?.to_owned();
    let problem: serde_json::Value = response.json().await?;
    assert_eq!(problem["status"], 404);
    assert_eq!(problem["request_id"], request_id.as_str());
    app.cleanup().await
}

#[tokio::test]
async fn metrics_count_answered_requests() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    app.get("/healthz", None).await?;

    let metrics = app.get("/metrics", None).await?.text().await?;

    let healthz = metrics.lines().find(|line| {
        line.starts_with("eventpost_http_requests_total") && line.contains("/healthz")
    });
    assert!(
        healthz.is_some_and(|line| line.contains("service=\"users\"")),
        "{metrics}"
    );
    app.cleanup().await
}

#[tokio::test]
async fn the_openapi_document_lists_every_operation_and_its_problem_answers() -> anyhow::Result<()>
{
    let app = spawn_app().await?;

    let spec: serde_json::Value = app.get("/openapi.json", None).await?.json().await?;

    let paths = spec["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/users",
        "/api/v1/users/me",
        "/api/v1/users/me/emails",
        "/api/v1/users/me/emails/verify",
        "/api/v1/users/me/emails/primary",
        "/api/v1/users/{id}/roles",
        "/api/v1/auth/token",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/.well-known/jwks.json",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    let login_401 = &spec["paths"]["/api/v1/auth/token"]["post"]["responses"]["401"];
    assert!(
        login_401["content"]["application/problem+json"].is_object(),
        "{login_401}"
    );
    app.cleanup().await
}
