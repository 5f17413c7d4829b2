use web::{Application, SERVICE, config::Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load()?;
    common::telemetry::init(SERVICE, &config.telemetry)?;
    let app = Application::build(config).await?;
    app.run_until_stopped(common::server::shutdown_on_signals())
        .await
}
