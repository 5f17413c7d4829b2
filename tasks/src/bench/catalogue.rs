//! The events service alone over catalogues of growing size (bulk loaded: no versions left to
//! relay): how long an instance takes to load one and be ready, what it then holds resident,
//! and single-event and search latency at 10 connections. Then the memory a catalogue of long
//! descriptions costs.

use std::time::Duration;

use super::{
    load::{Load, Wrk},
    services::{
        SCALE_PORT, USERS_PORT, event_ids, fresh_database, resident_kib, start, wait_ready_for,
    },
};

/// Catalogue sizes measured.
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// The size and description length of the long-description catalogue.
const LONG: (usize, usize) = (10_000, 4_000);
const CONNECTIONS: u32 = 10;

/// What each search reads, beside a single event.
const SEARCHES: [(&str, &str); 5] = [
    ("topic=jazz", "/api/v1/events?topic=jazz"),
    ("q=jazz", "/api/v1/events?q=jazz"),
    ("q=wrokshop (a typo)", "/api/v1/events?q=wrokshop"),
    (
        "near 10 km by distance",
        "/api/v1/events?near=37.18,-3.60&radius_km=10&sort=distance",
    ),
    (
        "topic, q and near combined",
        "/api/v1/events?topic=jazz&q=night&near=37.18,-3.60&radius_km=25",
    ),
];

/// One catalogue size.
#[derive(serde::Serialize)]
pub struct Scale {
    pub events: usize,
    pub description_chars: Option<usize>,
    pub ready_after_seconds: f64,
    pub rss_kib: Option<u64>,
    /// Each endpoint at [`CONNECTIONS`]; none for the long-description catalogue.
    pub loads: Vec<(&'static str, Load)>,
}

/// Every size, then the long descriptions.
pub async fn measure() -> anyhow::Result<Vec<Scale>> {
    let mut scales = Vec::new();
    for size in SIZES {
        scales.push(at(size, None).await?);
    }
    scales.push(at(LONG.0, Some(LONG.1)).await?);
    Ok(scales)
}

async fn at(size: usize, description_chars: Option<usize>) -> anyhow::Result<Scale> {
    let name = format!("bench_events_{size}");
    let db = fresh_database(&name).await?;
    let store =
        events::store::Store::open(&db, common::config::MongoConfig::local(&name).deadline())
            .await?;
    events::seed::bulk_described(&store, size, chrono::Utc::now(), description_chars).await?;
    let started = std::time::Instant::now();
    let mut instance = start(
        "events",
        &[
            ("EVENTPOST_EVENTS__HTTP__PORT", SCALE_PORT.to_string()),
            ("EVENTPOST_EVENTS__MONGO__DATABASE", name.clone()),
            ("EVENTPOST_EVENTS__AMQP__PREFIX", "bench.".into()),
            // Only public endpoints are loaded, so no key is ever fetched from here.
            (
                "EVENTPOST_EVENTS__AUTH__JWKS_URL",
                format!("http://127.0.0.1:{USERS_PORT}/.well-known/jwks.json"),
            ),
        ],
    )?;
    let url = format!("http://127.0.0.1:{SCALE_PORT}");
    let measured = async {
        wait_ready_for(&format!("{url}/readyz"), Duration::from_secs(300)).await?;
        let ready_after_seconds = started.elapsed().as_secs_f64();
        let rss_kib = resident_kib(instance.id());
        let mut loads = Vec::new();
        if description_chars.is_none() {
            let event = event_ids(&url, 1).await?.remove(0);
            let single = format!("{url}/api/v1/events/{event}");
            loads.push(("/events/{id}", Wrk::at(&single, CONNECTIONS).run().await?));
            for (what, path) in SEARCHES {
                let load = Wrk::at(&format!("{url}{path}"), CONNECTIONS).run().await?;
                loads.push((what, load));
            }
        }
        anyhow::Ok(Scale {
            events: size,
            description_chars,
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
    print(&scale);
    Ok(scale)
}

fn print(scale: &Scale) {
    let described = scale.description_chars.map_or(String::new(), |chars| {
        format!(" of {chars}-character descriptions")
    });
    println!(
        "\n{} events{described}: ready after {:.1} s, {} KiB resident",
        scale.events,
        scale.ready_after_seconds,
        scale.rss_kib.map_or("?".to_owned(), |k| k.to_string())
    );
    for (what, load) in &scale.loads {
        println!(
            "  {what}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms ({CONNECTIONS} connections, {} errors)",
            load.requests_per_second,
            load.p50_ms.unwrap_or(f64::NAN),
            load.p99_ms.unwrap_or(f64::NAN),
            load.errors
        );
    }
}
