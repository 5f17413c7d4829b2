//! `cargo task relay-replay`: makes every message the relays parked fresh again (the users
//! service's outbox, the events service's version log), once what made them unpublishable is
//! fixed. Reads each service's own configuration, so it acts on the databases they use; the
//! running relays publish them on their next pass.

use common::mongo;

pub async fn replay() -> anyhow::Result<()> {
    let users = users::config::Config::load()?;
    let db = mongo::connect(&users.mongo, "cargo-task-relay").await?;
    let store = users::store::Store::open(&db, users.mongo.deadline()).await?;
    let messages = store.unpark_messages().await?;

    let events = events::config::Config::load()?;
    let db = mongo::connect(&events.mongo, "cargo-task-relay").await?;
    let store = events::store::Store::open(&db, events.mongo.deadline()).await?;
    let versions = store.unpark_versions().await?;

    eprintln!("unparked {messages} outbox message(s) and {versions} event change(s)");
    Ok(())
}
