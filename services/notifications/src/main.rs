use clap::Parser;
use notifications::{
    Application, SERVICE,
    config::{Config, Role},
};

#[derive(Parser)]
#[command(
    name = "notifications",
    about = "eventpost's reminders and their scheduler"
)]
struct Cli {
    /// What this process runs (overrides `EVENTPOST_NOTIFICATIONS__ROLE`).
    #[arg(long, value_enum)]
    role: Option<Role>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = Config::load()?;
    if let Some(role) = cli.role {
        config.role = role;
    }
    common::telemetry::init(SERVICE, &config.telemetry)?;
    let app = Application::build(config).await?;
    app.run_until_stopped(common::server::shutdown_on_signals())
        .await
}
