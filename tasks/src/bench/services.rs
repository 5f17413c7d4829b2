//! The services under measurement: release builds started on loopback against the local stack,
//! and what the bench reads from them.

use std::{process::Stdio, time::Duration};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::workspace;

pub const USERS_PORT: u16 = 18081;
pub const EVENTS_PORT: u16 = 18082;
pub const EVENTS_REPLICA_PORT: u16 = 18084;
pub const SCHEDULER_PORT: u16 = 18083;
pub const SCALE_PORT: u16 = 18085;
pub const GATEWAY_PORT: u16 = 18080;

/// Resident memory of process `pid`, from `/proc`.
pub fn resident_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A database of the local server, emptied.
pub async fn fresh_database(name: &str) -> anyhow::Result<mongodb::Database> {
    let client =
        mongodb::Client::with_uri_str("mongodb://127.0.0.1:27017/?directConnection=true").await?;
    let db = client.database(name);
    db.drop().await?;
    Ok(db)
}

/// Starts the release build of service `name` with `env`; its warnings and errors go to
/// `.run/logs/bench-<name>.log`, each start's after the last's.
pub fn start(name: &str, env: &[(&str, String)]) -> anyhow::Result<Child> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace::root().join("target"));
    let logs = workspace::run_dir().join("logs");
    std::fs::create_dir_all(&logs)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join(format!("bench-{name}.log")))?;
    let mut command = Command::new(target.join("release").join(name));
    command
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log)
        .kill_on_drop(true);
    command.spawn().with_context(|| format!("starting {name}"))
}

pub async fn wait_ready(url: &str) -> anyhow::Result<()> {
    wait_ready_for(url, Duration::from_secs(10)).await
}

pub async fn wait_ready_for(url: &str, limit: Duration) -> anyhow::Result<()> {
    let polls = limit.as_millis() / 100;
    for _ in 0..polls {
        if reqwest::get(url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{url} did not answer")
}

/// The ids of the first `count` upcoming events in the catalogue at `events_url`.
pub async fn event_ids(events_url: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let page: serde_json::Value = reqwest::get(format!("{events_url}/api/v1/events?limit={count}"))
        .await?
        .error_for_status()?
        .json()
        .await?;
    let ids: Vec<String> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["id"].as_str().map(str::to_owned))
        .collect();
    anyhow::ensure!(!ids.is_empty(), "the benchmark catalogue is empty");
    Ok(ids)
}

/// The address of this run's account for `who`.
pub fn bench_email(who: &str) -> String {
    format!("bench-{who}-{}@example.com", std::process::id())
}

/// The access token of a new account for `who` (see [`bench_email`]).
pub async fn sign_up(users_url: &str, who: &str) -> anyhow::Result<String> {
    let email = bench_email(who);
    let http = reqwest::Client::new();
    http.post(format!("{users_url}/api/v1/users"))
        .json(&credentials(&email))
        .send()
        .await?;
    sign_in(users_url, &email).await
}

/// An access token for the bench's account `email`, with the roles it has now.
pub async fn sign_in(users_url: &str, email: &str) -> anyhow::Result<String> {
    let tokens: serde_json::Value = reqwest::Client::new()
        .post(format!("{users_url}/api/v1/auth/token"))
        .json(&credentials(email))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    tokens["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access token in the login answer")
}

fn credentials(email: &str) -> serde_json::Value {
    serde_json::json!({ "email": email, "password": "benchmark password" })
}
