//! The platform's endpoints, each loaded directly and through the gateway, and the original
//! EventPost's GET scenario (one list, then five events by id, round and round) at several
//! concurrencies beside the events service's `/healthz`, the ceiling of its HTTP stack.

use super::{
    load::{Load, Wrk, round_robin_script},
    platform::{CATALOGUE, Platform},
    propagation::{self, Propagation},
    services::{event_ids, resident_kib, sign_up},
};

/// Connections for the endpoint table.
const CONNECTIONS: u32 = 32;
/// Concurrencies of the GET scenario, direct and through the gateway.
const SCENARIO_CONNECTIONS: [u32; 2] = [10, 100];
/// The concurrency the gateway must carry the scenario at without an error.
const OVERLOAD_CONNECTIONS: u32 = 500;

/// One endpoint, loaded directly and (when routed) through the gateway.
#[derive(serde::Serialize)]
pub struct Row {
    pub endpoint: &'static str,
    pub direct: Load,
    pub through_gateway: Option<Load>,
}

/// The GET scenario at one concurrency.
#[derive(serde::Serialize)]
pub struct Scenario {
    pub connections: u32,
    /// The events service's `/healthz` at the same concurrency.
    pub healthz: Load,
    pub direct: Load,
    pub through_gateway: Load,
}

/// What the platform run measured.
#[derive(serde::Serialize)]
pub struct Endpoints {
    pub catalogue_events: usize,
    /// The events service's resident memory with the catalogue loaded.
    pub events_rss_kib: Option<u64>,
    pub endpoints: Vec<Row>,
    pub get_scenario: Vec<Scenario>,
    /// The GET scenario through the gateway at [`OVERLOAD_CONNECTIONS`].
    pub get_scenario_overload: Load,
    /// How soon a second instance shows a write.
    pub propagation: Propagation,
}

pub async fn measure(platform: &Platform) -> anyhow::Result<Endpoints> {
    let endpoints = table(platform).await?;
    let (get_scenario, get_scenario_overload) = get_scenario(platform).await?;
    let propagation = propagation::measure(platform).await?;
    Ok(Endpoints {
        catalogue_events: CATALOGUE,
        events_rss_kib: resident_kib(platform.events_pid),
        endpoints,
        get_scenario,
        get_scenario_overload,
        propagation,
    })
}

async fn table(platform: &Platform) -> anyhow::Result<Vec<Row>> {
    let token = sign_up(&platform.users_url, "reader").await?;
    let event = event_ids(&platform.events_url, 1).await?.remove(0);
    let event_path = format!("/api/v1/events/{event}");
    let (users, events) = (platform.users_url.as_str(), platform.events_url.as_str());
    let cases = [
        (
            "GET /healthz (events: the HTTP stack's ceiling)",
            events,
            "/healthz",
            None,
        ),
        (
            "GET /.well-known/jwks.json",
            users,
            "/.well-known/jwks.json",
            None,
        ),
        (
            "GET /api/v1/users/me (token, database read)",
            users,
            "/api/v1/users/me",
            Some(token.as_str()),
        ),
        ("GET /api/v1/events/{id}", events, event_path.as_str(), None),
        (
            "GET /api/v1/events?topic=jazz (search)",
            events,
            "/api/v1/events?topic=jazz",
            None,
        ),
        (
            "GET /api/v1/events?near=…&radius_km=50&sort=distance",
            events,
            "/api/v1/events?near=37.18,-3.60&radius_km=50&sort=distance",
            None,
        ),
    ];
    println!("| endpoint | direct req/s | p50 / p99 ms | through the gateway req/s | ratio |");
    println!("| --- | --- | --- | --- | --- |");
    let mut rows = Vec::new();
    for (endpoint, service_url, path, token) in cases {
        let load = |url: String| async move {
            Wrk {
                token,
                ..Wrk::at(&url, CONNECTIONS)
            }
            .run()
            .await
        };
        let direct = load(format!("{service_url}{path}")).await?;
        // The gateway answers its own /healthz; the services' are not routed.
        let through_gateway = match path {
            "/healthz" => None,
            _ => Some(load(format!("{}{path}", platform.gateway_url)).await?),
        };
        println!(
            "| {endpoint} | {:.0} | {} / {} | {} | {} |",
            direct.requests_per_second,
            ms(direct.p50_ms),
            ms(direct.p99_ms),
            through_gateway.map_or("n/a".to_owned(), |l| format!(
                "{:.0}",
                l.requests_per_second
            )),
            through_gateway.map_or("n/a".to_owned(), |l| ratio(l, direct)),
        );
        rows.push(Row {
            endpoint,
            direct,
            through_gateway,
        });
    }
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "\nwrk -c{CONNECTIONS} -t2 -d10s on {cores} cores, release builds, all on loopback, {CATALOGUE} events"
    );
    Ok(rows)
}

/// The GET scenario at each concurrency, directly and through the gateway beside `/healthz`,
/// then through the gateway at [`OVERLOAD_CONNECTIONS`].
async fn get_scenario(platform: &Platform) -> anyhow::Result<(Vec<Scenario>, Load)> {
    let mut paths = vec!["/api/v1/events".to_owned()];
    paths.extend(
        event_ids(&platform.events_url, 5)
            .await?
            .into_iter()
            .map(|id| format!("/api/v1/events/{id}")),
    );
    let script = std::env::temp_dir().join("eventpost-bench-get-scenario.lua");
    round_robin_script(&paths, &script)?;
    let scenario = |url: &str, connections: u32| {
        let url = url.to_owned();
        let script = script.clone();
        async move {
            Wrk {
                script: Some(&script),
                ..Wrk::at(&url, connections)
            }
            .run()
            .await
        }
    };
    println!("\nGET scenario (one list, then five events by id, round and round):");
    println!(
        "| connections | /healthz req/s | direct req/s (of /healthz) | p50 / p99 ms | gateway req/s (of direct) | p50 / p99 ms | errors |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut measured = Vec::new();
    for connections in SCENARIO_CONNECTIONS {
        let healthz = Wrk::at(&format!("{}/healthz", platform.events_url), connections)
            .run()
            .await?;
        let direct = scenario(&platform.events_url, connections).await?;
        let through_gateway = scenario(&platform.gateway_url, connections).await?;
        println!(
            "| {connections} | {:.0} | {:.0} ({}) | {} / {} | {:.0} ({}) | {} / {} | {} |",
            healthz.requests_per_second,
            direct.requests_per_second,
            ratio(direct, healthz),
            ms(direct.p50_ms),
            ms(direct.p99_ms),
            through_gateway.requests_per_second,
            ratio(through_gateway, direct),
            ms(through_gateway.p50_ms),
            ms(through_gateway.p99_ms),
            direct.errors + through_gateway.errors,
        );
        measured.push(Scenario {
            connections,
            healthz,
            direct,
            through_gateway,
        });
    }
    let overload = scenario(&platform.gateway_url, OVERLOAD_CONNECTIONS).await?;
    println!(
        "through the gateway at {OVERLOAD_CONNECTIONS} connections: {:.0} req/s, p50 / p99 {} / {} ms, {} errors",
        overload.requests_per_second,
        ms(overload.p50_ms),
        ms(overload.p99_ms),
        overload.errors
    );
    Ok((measured, overload))
}

fn ms(value: Option<f64>) -> String {
    value.map_or("?".to_owned(), |v| format!("{v:.2}"))
}

/// `part`'s throughput as a share of `whole`'s (under one request a second, a ratio is noise).
fn ratio(part: Load, whole: Load) -> String {
    if whole.requests_per_second < 1.0 {
        return "n/a".to_owned();
    }
    format!(
        "{:.0} %",
        100.0 * part.requests_per_second / whole.requests_per_second
    )
}
