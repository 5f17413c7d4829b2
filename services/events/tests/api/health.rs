use crate::helpers::spawn_app;

#[tokio::test]
async fn the_service_serves_health_readiness_problems_and_metrics() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    common::testing::assert_serves_health(&app.address, "events", &["mongodb", "rabbitmq"]).await?;
    common::testing::assert_routes_match_the_table(&app.address, "events").await?;
    common::testing::assert_optional_fields_are_nullable(&app.address).await?;
    app.cleanup().await
}
