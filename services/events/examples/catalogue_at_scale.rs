//! The catalogue in memory at a given size, without HTTP or a database: how long searches take
//! and what the process holds resident. For profiling (`perf record` on this binary); the
//! figures the README reports come from `cargo task bench`.
//!
//! `cargo run --release -p events --example catalogue_at_scale -- 100000 [rounds] [search]`,
//! where `search` picks the searches whose name contains it.

#![expect(clippy::print_stdout, reason = "the timings are the program's output")]

use std::time::Instant;

use chrono::Utc;
use events::{
    api::{SearchPage, SearchParams},
    catalogue::Catalogue,
};

fn main() -> anyhow::Result<()> {
    let size: usize = std::env::args()
        .nth(1)
        .map_or(Ok(100_000), |arg| arg.parse())?;
    let rounds: usize = std::env::args().nth(2).map_or(Ok(200), |arg| arg.parse())?;
    let only = std::env::args().nth(3).unwrap_or_default();
    let now = Utc::now();
    let before = resident_kib();
    let catalogue = Catalogue::default();
    let started = Instant::now();
    // Loaded as an instance loads it at start.
    let docs = (0..size)
        .map(|index| events::seed::demo_doc(index, now))
        .collect::<anyhow::Result<_>>()?;
    catalogue.reload(docs, now);
    let loaded = started.elapsed();
    let after = resident_kib();
    println!(
        "{size} events applied in {:.2} s; resident {before} KiB before, {after} KiB after ({:.0} B/event)",
        loaded.as_secs_f64(),
        (after - before) as f64 * 1024.0 / size as f64
    );
    let searches: [(&str, SearchParams); 6] = [
        ("topic=jazz", params(|p| p.topics = vec!["jazz".into()])),
        ("q=jazz", params(|p| p.q = Some("jazz".into()))),
        ("q=night (many)", params(|p| p.q = Some("night".into()))),
        (
            "q=wrokshop (a typo)",
            params(|p| p.q = Some("wrokshop".into())),
        ),
        (
            "near, 10 km, by distance",
            params(|p| {
                p.near = Some("37.18,-3.60".into());
                p.radius_km = Some(10.0);
                p.sort = Some("distance".into());
            }),
        ),
        (
            "topic=jazz&q=night&near",
            params(|p| {
                p.topics = vec!["jazz".into()];
                p.q = Some("night".into());
                p.near = Some("37.18,-3.60".into());
            }),
        ),
    ];
    for (what, params) in searches
        .into_iter()
        .filter(|(what, _)| what.contains(&only))
    {
        let search = params
            .parse(now)
            .map_err(|err| anyhow::anyhow!("{err:?}"))?;
        let mut took: Vec<f64> = (0..rounds)
            .map(|_| {
                let started = Instant::now();
                let page = SearchPage::of(&catalogue, &search);
                std::hint::black_box(page);
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        took.sort_by(f64::total_cmp);
        let page = SearchPage::of(&catalogue, &search);
        println!(
            "  {what}: p50 {:.3} ms, p99 {:.3} ms ({} on the page, facets {:?})",
            took[took.len() / 2],
            took[took.len() * 99 / 100],
            page.items.len(),
            page.facets.topics
        );
    }
    Ok(())
}

fn params(change: impl FnOnce(&mut SearchParams)) -> SearchParams {
    let mut params = SearchParams::default();
    change(&mut params);
    params
}

fn resident_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
