//! `cargo task chaos`: faults injected into the real platform (every service as its own
//! process on the local servers), one scenario at a time, since each stops or pauses a server
//! every test shares. After each scenario, failed or not, every fault is undone.

mod faults;
mod scenarios;

use std::{future::Future, pin::Pin, time::Duration};

use crate::{deps, platform};

/// One scenario, by the name `--only` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Broker,
    Database,
    Smtp,
    Kill,
    Catchup,
    Sigterm,
    Rolling,
    Restore,
}

type Run = Pin<Box<dyn Future<Output = anyhow::Result<()>>>>;

impl Scenario {
    const ALL: [Self; 8] = [
        Self::Broker,
        Self::Database,
        Self::Smtp,
        Self::Kill,
        Self::Catchup,
        Self::Sigterm,
        Self::Rolling,
        Self::Restore,
    ];

    fn describe(self) -> &'static str {
        match self {
            Self::Broker => "RabbitMQ stopped for 30 s during creations and due reminders",
            Self::Database => "the database paused (FerretDB, then PostgreSQL), then stopped",
            Self::Smtp => "the SMTP server stopped for 60 s",
            Self::Kill => "each service SIGKILLed and restarted under load",
            Self::Catchup => "reminders due while everything was down",
            Self::Sigterm => "SIGTERM with requests and deliveries in flight",
            Self::Rolling => "two replicas of each service restarted one by one under load",
            Self::Restore => "a backup restored after more was written and mailed",
        }
    }

    /// Past this the scenario has failed, whatever it was waiting for.
    fn limit(self) -> Duration {
        Duration::from_secs(match self {
            Self::Broker | Self::Database | Self::Smtp => 240,
            Self::Kill => 300,
            Self::Catchup | Self::Sigterm | Self::Restore => 180,
            Self::Rolling => 300,
        })
    }

    fn run(self) -> Run {
        match self {
            Self::Broker => Box::pin(scenarios::broker_outage()),
            Self::Database => Box::pin(scenarios::database_outage()),
            Self::Smtp => Box::pin(scenarios::smtp_outage()),
            Self::Kill => Box::pin(scenarios::killed_services()),
            Self::Catchup => Box::pin(scenarios::catch_up_after_downtime()),
            Self::Sigterm => Box::pin(scenarios::terminated_under_load()),
            Self::Rolling => Box::pin(scenarios::rolling_restart()),
            Self::Restore => Box::pin(scenarios::backup_and_restore()),
        }
    }
}

pub async fn run(only: Option<Scenario>) -> anyhow::Result<()> {
    deps::ensure_all().await?;
    platform::build()?;

    let mut failed = Vec::new();
    for scenario in Scenario::ALL
        .into_iter()
        .filter(|s| only.is_none_or(|o| o == *s))
    {
        eprintln!("==> chaos: {}", scenario.describe());
        let started = std::time::Instant::now();
        let outcome = match tokio::time::timeout(scenario.limit(), scenario.run()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(anyhow::anyhow!("not done within {:?}", scenario.limit())),
        };
        faults::heal().await?;
        let took = started.elapsed().as_secs_f64();
        match outcome {
            Ok(()) => eprintln!("    ok ({took:.0} s)"),
            Err(err) => {
                eprintln!("    FAILED ({took:.0} s): {err:#}");
                failed.push(scenario);
            }
        }
    }
    anyhow::ensure!(
        failed.is_empty(),
        "chaos scenarios failed: {failed:?} (the services' logs are in .run/logs/chaos_*.log)"
    );
    Ok(())
}
