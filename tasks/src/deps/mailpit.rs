//! Mailpit v1.27.11: the SMTP server of the local stack (127.0.0.1:1025) with a web UI and the
//! HTTP API tests read (127.0.0.1:8025).

use std::{process::Command, time::Duration};

use super::{go, logs_dir};
use crate::{process, workspace};

const VERSION: &str = "v1.27.11";
const INFO_URL: &str = "http://127.0.0.1:8025/api/v1/info";

/// Makes Mailpit answer, starting it if it does not.
pub async fn ensure() -> anyhow::Result<()> {
    if answers().await {
        return Ok(());
    }
    let binary = go::mailpit(VERSION)?;
    let data = workspace::run_dir().join("mailpit");
    std::fs::create_dir_all(&data)?;
    let log = logs_dir().join("mailpit.log");
    eprintln!("==> starting Mailpit {VERSION}");
    process::spawn_detached(
        Command::new(binary)
            .args(["--listen", "127.0.0.1:8025", "--smtp", "127.0.0.1:1025"])
            .arg("--database")
            .arg(data.join("mailpit.db"))
            // Parallel tests send thousands of mails; keep enough that none is pruned mid-test.
            .args(["--max", "20000"]),
        &log,
        &pid_file(),
    )?;
    process::wait_until("Mailpit", Duration::from_secs(30), &log, answers).await
}

/// Stops Mailpit if this runner started it.
pub fn stop() -> anyhow::Result<()> {
    process::stop_recorded("Mailpit", &pid_file())
}

async fn answers() -> bool {
    reqwest::get(INFO_URL)
        .await
        .is_ok_and(|r| r.status().is_success())
}

fn pid_file() -> std::path::PathBuf {
    workspace::run_dir().join("mailpit.pid")
}
