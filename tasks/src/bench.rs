//! `cargo task bench`: what the gateway costs. Release builds of the users service and the
//! gateway run on loopback; `wrk` (Debian's) loads the same endpoints directly and through the
//! gateway, and the table shows both and their ratio.

#![expect(clippy::print_stdout, reason = "the benchmark's table is its output")]

use std::{process::Stdio, time::Duration};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::{deps, process, workspace};

const USERS_PORT: u16 = 18081;
const GATEWAY_PORT: u16 = 18080;
const DURATION: &str = "10s";
const CONNECTIONS: &str = "32";

pub async fn run() -> anyhow::Result<()> {
    deps::ensure_all().await?;
    if !process::on_path("wrk") {
        process::apt_install(&["wrk"])?;
    }
    process::run_step(
        "cargo build --release",
        workspace::cargo(),
        &["build", "--release", "-p", "users", "-p", "gateway"],
    )?;
    let key = deps::signing_key::ensure()?;
    let mut users = start(
        "users",
        &[
            ("EVENTPOST_USERS__HTTP__PORT", USERS_PORT.to_string()),
            ("EVENTPOST_USERS__MONGO__DATABASE", "bench_users".into()),
            ("EVENTPOST_USERS__AMQP__PREFIX", "bench.".into()),
            (
                "EVENTPOST_USERS__TOKENS__SIGNING_KEY_FILE",
                key.display().to_string(),
            ),
            // The benchmark logs in once per run; it measures serving, not the login limit.
            ("EVENTPOST_USERS__LOGIN_ATTEMPTS_PER_CLIENT", "1000".into()),
        ],
    )?;
    let users_url = format!("http://127.0.0.1:{USERS_PORT}");
    let mut gateway = start(
        "gateway",
        &[
            ("EVENTPOST_GATEWAY__HTTP__PORT", GATEWAY_PORT.to_string()),
            (
                "EVENTPOST_GATEWAY__UPSTREAMS__USERS",
                format!("[\"{users_url}/\"]"),
            ),
            (
                "EVENTPOST_GATEWAY__AUTH__JWKS_URL",
                format!("{users_url}/.well-known/jwks.json"),
            ),
            // The load comes from one address and one user; measure forwarding, not limiting.
            (
                "EVENTPOST_GATEWAY__LIMITS__PER_CLIENT_PER_MINUTE",
                "100000000".into(),
            ),
            (
                "EVENTPOST_GATEWAY__LIMITS__PER_USER_PER_MINUTE",
                "100000000".into(),
            ),
        ],
    )?;
    let result = measure(&users_url).await;
    for child in [&mut gateway, &mut users] {
        let _already_gone = child.kill().await;
    }
    result
}

async fn measure(users_url: &str) -> anyhow::Result<()> {
    let gateway_url = format!("http://127.0.0.1:{GATEWAY_PORT}");
    wait_ready(&format!("{users_url}/readyz")).await?;
    wait_ready(&format!("{gateway_url}/healthz")).await?;
    let token = sign_up(users_url).await?;
    let cases = [
        ("GET /.well-known/jwks.json", "/.well-known/jwks.json", None),
        (
            "GET /api/v1/users/me (token, database read)",
            "/api/v1/users/me",
            Some(token.as_str()),
        ),
    ];
    println!("| endpoint | direct req/s | through the gateway req/s | ratio |");
    println!("| --- | --- | --- | --- |");
    for (name, path, token) in cases {
        let direct = wrk(&format!("{users_url}{path}"), token).await?;
        let proxied = wrk(&format!("{gateway_url}{path}"), token).await?;
        println!(
            "| {name} | {direct:.0} | {proxied:.0} | {:.0} % |",
            100.0 * proxied / direct
        );
    }
    println!(
        "\nwrk -c{CONNECTIONS} -t2 -d{DURATION} on {} cores, users and gateway release builds, all on loopback",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    Ok(())
}

fn start(name: &str, env: &[(&str, String)]) -> anyhow::Result<Child> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace::root().join("target"));
    let mut command = Command::new(target.join("release").join(name));
    command
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true);
    command.spawn().with_context(|| format!("starting {name}"))
}

async fn wait_ready(url: &str) -> anyhow::Result<()> {
    for _ in 0..100 {
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

async fn sign_up(users_url: &str) -> anyhow::Result<String> {
    let http = reqwest::Client::new();
    let email = format!("bench-{}@example.com", std::process::id());
    let credentials = serde_json::json!({ "email": email, "password": "benchmark password" });
    http.post(format!("{users_url}/api/v1/users"))
        .json(&credentials)
        .send()
        .await?;
    let tokens: serde_json::Value = http
        .post(format!("{users_url}/api/v1/auth/token"))
        .json(&credentials)
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

/// Requests per second `wrk` reached on `url`.
async fn wrk(url: &str, token: Option<&str>) -> anyhow::Result<f64> {
    let mut command = Command::new("wrk");
    command.args(["-t2", "-c", CONNECTIONS, "-d", DURATION, "--latency"]);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let output = command.arg(url).output().await.context("running wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Non-2xx") {
        bail!("{url} answered errors under load:\n{text}");
    }
    text.lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output:\n{text}"))
}
