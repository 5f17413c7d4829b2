//! `cargo task bench`: what the gateway costs, how fast the catalogue answers at growing sizes
//! and what it holds, and how fast the scheduler drains a burst of due reminders. Release
//! builds of the services run on loopback against the local stack; `wrk` (Debian's) loads
//! them. Prints the tables and writes `bench/results/<date>.json`.
//!
//! One module per area: `endpoints` (the platform's endpoints and the GET scenario, on the
//! services `platform` starts), `catalogue` (the events service at each catalogue size),
//! `scheduler` (the reminder burst); `load` runs wrk, `services` starts and reads processes.

#![expect(clippy::print_stdout, reason = "the benchmark's tables are its output")]

mod catalogue;
mod endpoints;
mod load;
mod platform;
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
    scheduler_burst: usize,
    scheduler_drain_seconds: f64,
}

pub async fn run() -> anyhow::Result<()> {
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
        ],
    )?;
    let platform = platform::Platform::start().await?;
    let measured = endpoints::measure(&platform).await;
    platform.stop().await;
    let report = Report {
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        platform: measured?,
        catalogue: catalogue::measure().await?,
        scheduler_burst: scheduler::BURST,
        scheduler_drain_seconds: scheduler::drain().await?,
    };
    write_report(&report)
}

fn write_report(report: &Report) -> anyhow::Result<()> {
    let dir = workspace::root().join("bench").join("results");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.json", report.date));
    std::fs::write(&path, serde_json::to_string_pretty(report)? + "\n")?;
    eprintln!("==> wrote {}", path.display());
    Ok(())
}
