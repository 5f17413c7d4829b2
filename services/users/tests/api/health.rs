use crate::helpers::spawn_app;

#[tokio::test]
async fn the_service_serves_health_readiness_problems_and_metrics() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    common::testing::assert_serves_health(&app.address, "users", &["mongodb", "rabbitmq"]).await?;
    common::testing::assert_routes_match_the_table(&app.address, "users").await?;
    common::testing::assert_optional_fields_are_nullable(&app.address).await?;
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
