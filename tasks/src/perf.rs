//! `cargo task perf`: the Taurus scenario (`tests/performance/eventpost.yml`, locust) against a
//! running platform's gateway (`EVENTPOST_PERF_TARGET`, default `http://127.0.0.1:8080`).

use std::process::Command;

use anyhow::{Context, ensure};

use crate::{python, workspace};

const PACKAGES: &[&str] = &["bzt==1.17.2", "locust==2.47.0"];

pub async fn run() -> anyhow::Result<()> {
    let target =
        std::env::var("EVENTPOST_PERF_TARGET").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let host = url::Url::parse(&target)?
        .host_str()
        .map(str::to_owned)
        .unwrap_or_default();
    ensure!(
        host == "127.0.0.1" || host == "localhost" || host == "[::1]",
        "load is only ever sent to this machine; {target} is not a loopback address"
    );
    reqwest::get(format!("{target}/readyz"))
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| {
            format!(
                "the gateway at {target} is not ready: start the platform first (cargo task up)"
            )
        })?;
    let bin = python::venv("perf", PACKAGES)?;
    let dir = workspace::root().join("tests/performance");
    let status = Command::new(bin.join("bzt"))
        .arg("eventpost.yml")
        .arg("-o")
        .arg(format!("scenarios.browse.default-address={target}"))
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .current_dir(dir)
        .status()
        .context("running bzt")?;
    ensure!(
        status.success(),
        "the load run failed its pass/fail criteria ({status})"
    );
    Ok(())
}
