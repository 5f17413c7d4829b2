//! How soon another events instance shows a write: an administrator replaces events on the
//! platform's instance one at a time while the bench polls a second instance (same database,
//! same broker) until it serves the new version. Measured from the moment the write's answer
//! arrives, which is when the writer's own reads already show it.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use common::{auth::Role, domain::EmailAddress, mongo};
use serde_json::Value;

use super::{
    platform::Platform,
    services::{bench_email, event_ids, sign_in, sign_up},
};

/// Replacements measured.
const WRITES: usize = 200;
/// Events they are spread over.
const EVENTS: usize = 20;
/// How often the replica is asked; the figures are this coarse.
const POLL: Duration = Duration::from_millis(1);
/// A write the replica has not shown by then counts as lost.
const GIVE_UP: Duration = Duration::from_secs(10);

#[derive(serde::Serialize)]
pub struct Propagation {
    pub writes: usize,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// Writes the replica never showed within [`GIVE_UP`].
    pub lost: usize,
}

pub async fn measure(platform: &Platform) -> anyhow::Result<Propagation> {
    let token = administrator(platform).await?;
    let http = reqwest::Client::new();
    let ids = event_ids(&platform.events_url, EVENTS).await?;
    let mut lateness_ms = Vec::with_capacity(WRITES);
    let mut lost = 0;
    for write in 0..WRITES {
        let id = &ids[write % ids.len()];
        let url = format!("{}/api/v1/events/{id}", platform.events_url);
        let current: Value = http
            .get(&url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let version = current["version"]
            .as_i64()
            .context("an event without a version")?;
        let replaced = http
            .put(&url)
            .bearer_auth(&token)
            .header("If-Match", format!("\"{version}\""))
            .json(&replacement(current, write))
            .send()
            .await?;
        if !replaced.status().is_success() {
            bail!("replacing {id} answered {}", replaced.status());
        }
        let written = Instant::now();
        let expected = format!("\"{}\"", version + 1);
        match shown(&http, &platform.events_replica_url, id, &expected).await? {
            true => lateness_ms.push(written.elapsed().as_secs_f64() * 1000.0),
            false => lost += 1,
        }
    }
    lateness_ms.sort_by(f64::total_cmp);
    let measured = Propagation {
        writes: WRITES,
        p50_ms: percentile(&lateness_ms, 0.50),
        p99_ms: percentile(&lateness_ms, 0.99),
        max_ms: lateness_ms.last().copied(),
        lost,
    };
    println!(
        "\nA write on one events instance, shown by another ({WRITES} replacements one at a time): p50 {} ms, p99 {} ms, max {} ms, {lost} never shown",
        ms(measured.p50_ms),
        ms(measured.p99_ms),
        ms(measured.max_ms),
    );
    Ok(measured)
}

/// Whether the replica comes to serve event `id` with ETag `expected` before [`GIVE_UP`].
async fn shown(
    http: &reqwest::Client,
    replica_url: &str,
    id: &str,
    expected: &str,
) -> anyhow::Result<bool> {
    let url = format!("{replica_url}/api/v1/events/{id}");
    let deadline = Instant::now() + GIVE_UP;
    while Instant::now() < deadline {
        // The new version's ETag gets a bodiless 304 once the replica holds it.
        let response = http
            .get(&url)
            .header("If-None-Match", expected)
            .send()
            .await?;
        if response.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(true);
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(false)
}

/// `event` as a replacement body: what the API accepts of it, with a new title.
fn replacement(mut event: Value, write: usize) -> Value {
    if let Some(fields) = event.as_object_mut() {
        for read_only in ["id", "created_at", "updated_at", "version", "distance_km"] {
            fields.remove(read_only);
        }
        fields.insert("title".into(), format!("Replaced, write {write}").into());
    }
    event
}

/// An administrator's access token: a new account granted the role in the users database, as
/// `cargo task make-admin` does, then signed in again.
async fn administrator(platform: &Platform) -> anyhow::Result<String> {
    sign_up(&platform.users_url, "admin").await?;
    let email = EmailAddress::parse(&bench_email("admin"))
        .map_err(|err| anyhow::anyhow!("bench address: {err}"))?;
    let config = common::config::MongoConfig::local(&platform.users_database);
    let db = mongo::connect(&config, "cargo-task-bench").await?;
    let store = users::store::Store::open(&db, config.deadline()).await?;
    let user = store
        .find_by_email(&email)
        .await?
        .context("the bench's administrator was not created")?;
    store.set_roles(user.id, &[Role::User, Role::Admin]).await?;
    db.client().clone().shutdown().await;
    sign_in(&platform.users_url, &email.to_string()).await
}

/// The nearest-rank percentile `q` of `sorted`.
fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied()
}

fn ms(value: Option<f64>) -> String {
    value.map_or("?".to_owned(), |v| format!("{v:.1}"))
}
