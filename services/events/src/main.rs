use clap::{Parser, Subcommand};
use events::{Application, SERVICE, config::Config};

#[derive(Parser)]
#[command(name = "events", about = "eventpost's event catalogue")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Fill the catalogue with demo events (up to COUNT upcoming ones), then exit.
    Seed {
        #[arg(long, default_value_t = 1200)]
        count: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load()?;
    common::telemetry::init(SERVICE, &config.telemetry)?;
    match cli.command {
        Some(Command::Seed { count }) => events::seed::run(&config, count).await,
        None => {
            let app = Application::build(config).await?;
            app.run_until_stopped(common::server::shutdown_on_signals())
                .await
        }
    }
}
