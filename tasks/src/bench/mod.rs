//! `cargo task bench`: what the gateway costs, how fast the catalogue answers at growing sizes
//! and what it holds, and what the scheduler costs idle, how punctual it is and how fast a burst
//! reaches the SMTP server. Release
//! builds of the services run on loopback against the local stack; `wrk` (Debian's) loads
//! them. Prints the tables and writes `bench/results/<date>.json`.
//!
//! One module per area: `endpoints` (the platform's endpoints and the GET scenario, on the
//! services `platform` starts), `catalogue` (the events service at each catalogue size),
//! `propagation` (a write on one events instance seen on another), `scheduler` (idle
//! cost, lateness and the burst); `load` runs wrk, `services` starts and reads processes.

#![expect(clippy::print_stdout, reason = "the benchmark's tables are its output")]

mod catalogue;
mod endpoints;
mod load;
mod platform;
mod propagation;
mod scheduler;
mod services;

use crate::{deps, process, workspace};

/// What one run measured, written to `bench/results/<date>.json`.
#[derive(serde::Serialize)]
struct Report {
    date: String,
    cores: usize,
    platform: endpoints::Endpoints,
    /// The events service at each catalogue size.
    catalogue: Vec<catalogue::Scale>,
    /// The scheduler's idle cost, punctuality and burst.
    scheduler: scheduler::Scheduler,
}

/// One area of the bench, to measure alone while working on it.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Area {
    /// The platform's endpoints and the GET scenario.
    Endpoints,
    /// The events service at each catalogue size.
    Catalogue,
    /// The scheduler's idle cost, punctuality and burst.
    Scheduler,
}

pub async fn run(only: Option<Area>) -> anyhow::Result<()> {
    deps::ensure_all().await?;
    if !process::on_path("wrk") {
        process::apt_install(&["wrk"])?;
    }
    process::run_step(
        "cargo build --release",
        workspace::cargo(),
        &[
            "build",
            "--release",
            "-p",
            "users",
            "-p",
            "events",
            "-p",
            "notifications",
            "-p",
            "gateway",
            "-p",
            "email-sender",
        ],
    )?;
    match only {
        None => {}
        Some(Area::Endpoints) => return measure_endpoints().await.map(drop),
        Some(Area::Catalogue) => return catalogue::measure().await.map(drop),
        Some(Area::Scheduler) => return scheduler::measure().await.map(drop),
    }
    let platform = measure_endpoints().await?;
    let report = Report {
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        platform,
        catalogue: catalogue::measure().await?,
        scheduler: scheduler::measure().await?,
    };
    write_report(&report)
}

async fn measure_endpoints() -> anyhow::Result<endpoints::Endpoints> {
    let platform = platform::Platform::start().await?;
    let measured = endpoints::measure(&platform).await;
    platform.stop().await;
    measured
}

fn write_report(report: &Report) -> anyhow::Result<()> {
    let dir = workspace::root().join("bench").join("results");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.json", report.date));
    std::fs::write(&path, serde_json::to_string_pretty(report)? + "\n")?;
    eprintln!("==> wrote {}", path.display());
    Ok(())
}
