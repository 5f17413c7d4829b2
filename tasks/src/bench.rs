//! `cargo task bench`: what the gateway costs, how fast the catalogue answers, and how fast the
//! scheduler drains a burst of due reminders. Release builds of the services run on loopback
//! against the local stack; `wrk` (Debian's) loads the same endpoints directly and through the
//! gateway, and the table shows both and their ratio.

#![expect(clippy::print_stdout, reason = "the benchmark's table is its output")]

use std::{process::Stdio, time::Duration};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::{deps, process, workspace};

const USERS_PORT: u16 = 18081;
const EVENTS_PORT: u16 = 18082;
const SCHEDULER_PORT: u16 = 18083;
const GATEWAY_PORT: u16 = 18080;
/// Events in the benchmark's catalogue.
const CATALOGUE: usize = 1200;
/// Due reminders the scheduler drains.
const BURST: usize = 1000;
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
    let catalogue = fresh_database("bench_events").await?;
    events::seed::seed(
        &events::store::Store::open(
            &catalogue,
            common::config::MongoConfig::local("bench").deadline(),
        )
        .await?,
        CATALOGUE,
        chrono::Utc::now(),
    )
    .await?;
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
    let jwks = format!("{users_url}/.well-known/jwks.json");
    let mut events = start(
        "events",
        &[
            ("EVENTPOST_EVENTS__HTTP__PORT", EVENTS_PORT.to_string()),
            ("EVENTPOST_EVENTS__MONGO__DATABASE", "bench_events".into()),
            ("EVENTPOST_EVENTS__AMQP__PREFIX", "bench.".into()),
            ("EVENTPOST_EVENTS__AUTH__JWKS_URL", jwks.clone()),
        ],
    )?;
    let events_url = format!("http://127.0.0.1:{EVENTS_PORT}");
    let mut gateway = start(
        "gateway",
        &[
            ("EVENTPOST_GATEWAY__HTTP__PORT", GATEWAY_PORT.to_string()),
            (
                "EVENTPOST_GATEWAY__UPSTREAMS__USERS",
                format!("[\"{users_url}/\"]"),
            ),
            (
                "EVENTPOST_GATEWAY__UPSTREAMS__EVENTS",
                format!("[\"{events_url}/\"]"),
            ),
            ("EVENTPOST_GATEWAY__AUTH__JWKS_URL", jwks),
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
    let result = measure(&users_url, &events_url).await;
    for child in [&mut gateway, &mut events, &mut users] {
        let _already_gone = child.kill().await;
    }
    result?;
    // Closing the clients before the runtime goes spares the driver's background tasks a panic.
    catalogue.client().clone().shutdown().await;
    scheduler_drain().await
}

/// A database of the local server, emptied.
async fn fresh_database(name: &str) -> anyhow::Result<mongodb::Database> {
    let client =
        mongodb::Client::with_uri_str("mongodb://127.0.0.1:27017/?directConnection=true").await?;
    let db = client.database(name);
    db.drop().await?;
    Ok(db)
}

/// Seconds a scheduler process takes to claim and publish [`BURST`] reminders that are all due.
async fn scheduler_drain() -> anyhow::Result<()> {
    let db = fresh_database("bench_notifications").await?;
    let reminders = db.collection::<mongodb::bson::Document>("reminders");
    let due = mongodb::bson::DateTime::from_millis(
        mongodb::bson::DateTime::now().timestamp_millis() - 1000,
    );
    // Stored as the service stores them: the owner and the event's id as hex, the event's id
    // as an ObjectId.
    let (owner, event) = (
        mongodb::bson::oid::ObjectId::new(),
        mongodb::bson::oid::ObjectId::new(),
    );
    let burst: Vec<mongodb::bson::Document> = (0..BURST)
        .map(|i| {
            mongodb::bson::doc! {
                "user_id": owner.to_hex(), "event_id": event,
                "event": { "id": event.to_hex(), "title": format!("Bench {i}"), "starts_at": "2030-01-01T00:00:00Z",
                           "ends_at": null, "timezone": "Europe/Madrid", "place": "Granada" },
                "event_version": 1_i64, "to_email": format!("bench{i}@example.com"),
                "subject": null, "content": null, "send_at": due, "remind_before_minutes": null,
                "status": "scheduled", "attempts": 0_i64, "lease_until": null, "sent_at": null,
                "last_error": null, "created_at": due, "updated_at": due,
            }
        })
        .collect();
    reminders.insert_many(burst).await?;
    let started = std::time::Instant::now();
    let mut scheduler = start(
        "notifications",
        &[
            ("EVENTPOST_NOTIFICATIONS__ROLE", "scheduler".into()),
            (
                "EVENTPOST_NOTIFICATIONS__HTTP__PORT",
                SCHEDULER_PORT.to_string(),
            ),
            (
                "EVENTPOST_NOTIFICATIONS__MONGO__DATABASE",
                "bench_notifications".into(),
            ),
            ("EVENTPOST_NOTIFICATIONS__AMQP__PREFIX", "bench.".into()),
        ],
    )?;
    // A reminder is published once the broker's confirm is recorded on its claim.
    let claims = db.collection::<mongodb::bson::Document>("claims");
    let mut drained = None;
    for _ in 0..1200 {
        let published = claims
            .count_documents(mongodb::bson::doc! { "published": true })
            .await?;
        if published as usize == BURST {
            drained = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _already_gone = scheduler.kill().await;
    let drained = drained.context("the scheduler did not publish the burst within 2 minutes")?;
    common::testing::RabbitAdmin::local()
        .delete_prefixed("bench.")
        .await?;
    db.client().clone().shutdown().await;
    println!(
        "\nscheduler: {BURST} due reminders claimed and published in {:.1} s from process start ({:.0}/s)",
        drained.as_secs_f64(),
        BURST as f64 / drained.as_secs_f64()
    );
    Ok(())
}

async fn measure(users_url: &str, events_url: &str) -> anyhow::Result<()> {
    let gateway_url = format!("http://127.0.0.1:{GATEWAY_PORT}");
    wait_ready(&format!("{users_url}/readyz")).await?;
    wait_ready(&format!("{events_url}/readyz")).await?;
    // Its readiness wants every upstream, and notifications does not run here.
    wait_ready(&format!("{gateway_url}/healthz")).await?;
    let token = sign_up(users_url).await?;
    let event = first_event(events_url).await?;
    let event_path = format!("/api/v1/events/{event}");
    let cases = [
        (
            "GET /.well-known/jwks.json",
            users_url,
            "/.well-known/jwks.json",
            None,
        ),
        (
            "GET /api/v1/users/me (token, database read)",
            users_url,
            "/api/v1/users/me",
            Some(token.as_str()),
        ),
        (
            "GET /api/v1/events/{id}",
            events_url,
            event_path.as_str(),
            None,
        ),
        (
            "GET /api/v1/events?topic=jazz (search)",
            events_url,
            "/api/v1/events?topic=jazz",
            None,
        ),
        (
            "GET /api/v1/events?near=…&radius_km=50&sort=distance",
            events_url,
            "/api/v1/events?near=37.18,-3.60&radius_km=50&sort=distance",
            None,
        ),
    ];
    println!("| endpoint | direct req/s | through the gateway req/s | ratio |");
    println!("| --- | --- | --- | --- |");
    for (name, service_url, path, token) in cases {
        let direct = wrk(&format!("{service_url}{path}"), token).await?;
        let proxied = wrk(&format!("{gateway_url}{path}"), token).await?;
        // Under one request a second, a ratio is noise.
        let ratio = if direct >= 1.0 {
            format!("{:.0} %", 100.0 * proxied / direct)
        } else {
            "n/a".to_owned()
        };
        println!("| {name} | {direct:.0} | {proxied:.0} | {ratio} |");
    }
    println!(
        "\nwrk -c{CONNECTIONS} -t2 -d{DURATION} on {} cores, release builds, all on loopback, {CATALOGUE} events",
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

/// The id of some event in the catalogue.
async fn first_event(events_url: &str) -> anyhow::Result<String> {
    let page: serde_json::Value = reqwest::get(format!("{events_url}/api/v1/events?limit=1"))
        .await?
        .error_for_status()?
        .json()
        .await?;
    page["items"][0]["id"]
        .as_str()
        .map(str::to_owned)
        .context("the benchmark catalogue is empty")
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
