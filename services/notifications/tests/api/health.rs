use crate::helpers::spawn_platform;

#[tokio::test]
async fn the_service_serves_health_readiness_problems_and_metrics() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let address = platform.notifications.address.clone();
    common::testing::assert_serves_health(&address, "notifications", &["mongodb", "rabbitmq"])
        .await?;
    common::testing::assert_routes_match_the_table(&address, "notifications").await?;
    common::testing::assert_optional_fields_are_nullable(&address).await?;
    platform.cleanup().await
}
