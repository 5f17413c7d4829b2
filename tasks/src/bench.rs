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
    let result = measure(&users_url, &events_url, events.id()).await;
    for child in [&mut gateway, &mut events, &mut users] {
        let _already_gone = child.kill().await;
    }
    let mut report = result?;
    // Closing the clients before the runtime goes spares the driver's background tasks a panic.
    catalogue.client().clone().shutdown().await;
    for size in SCALES {
        report
            .scales
            .push(at_scale(size, &jwks_for_scales()).await?);
    }
    report.scheduler_drain_seconds = scheduler_drain().await?;
    write_report(&report)
}

/// Catalogue sizes the search latency and memory are measured at.
const SCALES: [usize; 2] = [10_000, 100_000];
const SCALE_PORT: u16 = 18085;

/// Only public endpoints are loaded at scale, so no key is ever fetched from here.
fn jwks_for_scales() -> String {
    format!("http://127.0.0.1:{USERS_PORT}/.well-known/jwks.json")
}

/// One catalogue size: how long an instance takes to load it and be ready, what it holds
/// resident, and search and single-event latency at 10 connections.
#[derive(serde::Serialize)]
struct Scale {
    events: usize,
    ready_after_seconds: f64,
    rss_kib: Option<u64>,
    /// Each endpoint at 10 connections.
    loads: Vec<(&'static str, Load)>,
}

async fn at_scale(size: usize, jwks: &str) -> anyhow::Result<Scale> {
    let name = format!("bench_events_{size}");
    let db = fresh_database(&name).await?;
    let store =
        events::store::Store::open(&db, common::config::MongoConfig::local(&name).deadline())
            .await?;
    events::seed::bulk(&store, size, chrono::Utc::now()).await?;
    let started = std::time::Instant::now();
    let mut instance = start(
        "events",
        &[
            ("EVENTPOST_EVENTS__HTTP__PORT", SCALE_PORT.to_string()),
            ("EVENTPOST_EVENTS__MONGO__DATABASE", name.clone()),
            ("EVENTPOST_EVENTS__AMQP__PREFIX", "bench.".into()),
            ("EVENTPOST_EVENTS__AUTH__JWKS_URL", jwks.to_owned()),
        ],
    )?;
    let url = format!("http://127.0.0.1:{SCALE_PORT}");
    let measured = async {
        wait_ready_for(&format!("{url}/readyz"), Duration::from_secs(300)).await?;
        let ready_after_seconds = started.elapsed().as_secs_f64();
        let rss_kib = resident_kib(instance.id());
        let event = first_event(&url).await?;
        let mut loads = Vec::new();
        for (what, path) in [
            ("GET /api/v1/events/{id}", format!("/api/v1/events/{event}")),
            (
                "GET /api/v1/events?topic=jazz",
                "/api/v1/events?topic=jazz".to_owned(),
            ),
            (
                "GET /api/v1/events?q=concert",
                "/api/v1/events?q=concert".to_owned(),
            ),
            (
                "GET /api/v1/events?near=…&radius_km=10&sort=distance",
                "/api/v1/events?near=37.18,-3.60&radius_km=10&sort=distance".to_owned(),
            ),
        ] {
            loads.push((what, wrk_at(&format!("{url}{path}"), "10").await?));
        }
        anyhow::Ok(Scale {
            events: size,
            ready_after_seconds,
            rss_kib,
            loads,
        })
    }
    .await;
    let _already_gone = instance.kill().await;
    db.drop().await?;
    db.client().clone().shutdown().await;
    let scale = measured?;
    println!(
        "\n{size} events: ready after {:.1} s, {} KiB resident",
        scale.ready_after_seconds,
        scale.rss_kib.map_or("?".to_owned(), |k| k.to_string())
    );
    for (what, load) in &scale.loads {
        println!(
            "  {what}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms (10 connections)",
            load.requests_per_second,
            load.p50_ms.unwrap_or(f64::NAN),
            load.p99_ms.unwrap_or(f64::NAN)
        );
    }
    Ok(scale)
}

/// What one run measured, written to `bench/results/<date>.json`.
#[derive(serde::Serialize)]
struct Report {
    date: String,
    cores: usize,
    catalogue_events: usize,
    /// The events service's resident memory with the catalogue loaded and after the load.
    events_rss_kib: Option<u64>,
    endpoints: Vec<Row>,
    /// The events service at larger catalogues.
    scales: Vec<Scale>,
    scheduler_burst: usize,
    scheduler_drain_seconds: f64,
}

#[derive(serde::Serialize)]
struct Row {
    endpoint: &'static str,
    direct: Load,
    through_gateway: Option<Load>,
}

/// What `wrk` reached on one URL.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Load {
    requests_per_second: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
}

fn write_report(report: &Report) -> anyhow::Result<()> {
    let dir = workspace::root().join("bench").join("results");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.json", report.date));
    std::fs::write(&path, serde_json::to_string_pretty(report)? + "\n")?;
    eprintln!("==> wrote {}", path.display());
    Ok(())
}

/// Resident memory of process `pid`, from `/proc`.
fn resident_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
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
async fn scheduler_drain() -> anyhow::Result<f64> {
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
    Ok(drained.as_secs_f64())
}

async fn measure(
    users_url: &str,
    events_url: &str,
    events_pid: Option<u32>,
) -> anyhow::Result<Report> {
    let gateway_url = format!("http://127.0.0.1:{GATEWAY_PORT}");
    wait_ready(&format!("{users_url}/readyz")).await?;
    wait_ready(&format!("{events_url}/readyz")).await?;
    // Its readiness wants every upstream, and notifications does not run here.
    wait_ready(&format!("{gateway_url}/healthz")).await?;
    let token = sign_up(users_url).await?;
    let event = first_event(events_url).await?;
    let event_path = format!("/api/v1/events/{event}");
    let events_rss_kib = resident_kib(events_pid);
    let cases = [
        (
            "GET /healthz (events: the HTTP stack's ceiling)",
            events_url,
            "/healthz",
            None,
        ),
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
    println!("| endpoint | direct req/s | p50 / p99 ms | through the gateway req/s | ratio |");
    println!("| --- | --- | --- | --- | --- |");
    let mut endpoints = Vec::new();
    for (name, service_url, path, token) in cases {
        let direct = wrk(&format!("{service_url}{path}"), token).await?;
        // The gateway answers its own /healthz; the services' are not routed.
        let proxied = match path {
            "/healthz" => None,
            _ => Some(wrk(&format!("{gateway_url}{path}"), token).await?),
        };
        let rps = |load: Option<Load>| load.map_or(0.0, |l| l.requests_per_second);
        // Under one request a second, a ratio is noise.
        let ratio = match proxied {
            Some(proxied) if direct.requests_per_second >= 1.0 => format!(
                "{:.0} %",
                100.0 * proxied.requests_per_second / direct.requests_per_second
            ),
            _ => "n/a".to_owned(),
        };
        let ms = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:.2}"));
        println!(
            "| {name} | {:.0} | {} / {} | {:.0} | {ratio} |",
            direct.requests_per_second,
            ms(direct.p50_ms),
            ms(direct.p99_ms),
            rps(proxied)
        );
        endpoints.push(Row {
            endpoint: name,
            direct,
            through_gateway: proxied,
        });
    }
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "\nwrk -c{CONNECTIONS} -t2 -d{DURATION} on {cores} cores, release builds, all on loopback, {CATALOGUE} events; the events service held {} KiB resident",
        events_rss_kib.map_or("?".to_owned(), |k| k.to_string())
    );
    Ok(Report {
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        cores,
        catalogue_events: CATALOGUE,
        events_rss_kib,
        endpoints,
        scales: Vec::new(),
        scheduler_burst: BURST,
        scheduler_drain_seconds: 0.0,
    })
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
    wait_ready_for(url, Duration::from_secs(10)).await
}

async fn wait_ready_for(url: &str, limit: Duration) -> anyhow::Result<()> {
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

/// What `wrk` reached on `url` at `connections`.
async fn wrk_at(url: &str, connections: &str) -> anyhow::Result<Load> {
    wrk_with(url, None, connections).await
}

/// What `wrk` reached on `url`: requests per second and latency percentiles.
async fn wrk(url: &str, token: Option<&str>) -> anyhow::Result<Load> {
    wrk_with(url, token, CONNECTIONS).await
}

async fn wrk_with(url: &str, token: Option<&str>, connections: &str) -> anyhow::Result<Load> {
    let mut command = Command::new("wrk");
    command.args(["-t2", "-c", connections, "-d", DURATION, "--latency"]);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let output = command.arg(url).output().await.context("running wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Non-2xx") {
        bail!("{url} answered errors under load:\n{text}");
    }
    let requests_per_second = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    Ok(Load {
        requests_per_second,
        p50_ms: percentile_ms(&text, "50%"),
        p99_ms: percentile_ms(&text, "99%"),
    })
}

/// A percentile of wrk's `--latency` distribution (`  99%    4.56ms`), in milliseconds.
fn percentile_ms(output: &str, label: &str) -> Option<f64> {
    let value = output
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))?
        .trim();
    let (number, scale) = if let Some(us) = value.strip_suffix("us") {
        (us, 0.001)
    } else if let Some(ms) = value.strip_suffix("ms") {
        (ms, 1.0)
    } else if let Some(s) = value.strip_suffix('s') {
        (s, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}
