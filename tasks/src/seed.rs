//! `cargo task seed`: loads the demo catalogue into the local events database.

use crate::deps;

/// Upcoming demo events the catalogue is filled up to.
const DEMO_EVENTS: usize = 1200;

pub async fn run() -> anyhow::Result<()> {
    deps::ensure_all().await?;
    let config = events::config::Config::load()?;
    events::seed::run(&config, DEMO_EVENTS).await?;
    eprintln!("the catalogue holds at least {DEMO_EVENTS} upcoming demo events");
    Ok(())
}
