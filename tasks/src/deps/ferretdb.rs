//! FerretDB v1.24.2, the MongoDB-protocol server of the local stack, on our PostgreSQL.

use std::{process::Command, time::Duration};

use common::{config::MongoConfig, mongo};
use mongodb::Database;

use super::{go, logs_dir, postgres};
use crate::{process, workspace};

const VERSION: &str = "v1.24.2";
const LISTEN: &str = "127.0.0.1:27017";

/// Makes a MongoDB-protocol server answer on 27017, starting FerretDB if none does.
pub async fn ensure() -> anyhow::Result<()> {
    if answers().await {
        return Ok(());
    }
    postgres::ensure()?;
    let binary = go::ferretdb(VERSION)?;
    let log = logs_dir().join("ferretdb.log");
    eprintln!("==> starting FerretDB {VERSION} on {LISTEN}");
    let postgres_url = format!(
        "postgres://postgres@127.0.0.1:{}/{}",
        postgres::PORT,
        postgres::DATABASE
    );
    process::spawn_detached(
        Command::new(binary)
            .arg(format!("-postgresql-url={postgres_url}"))
            .arg(format!("-listen-addr={LISTEN}")),
        &log,
        &pid_file(),
    )?;
    process::wait_until("FerretDB", Duration::from_secs(30), &log, answers).await
}

/// Stops FerretDB if this runner started it.
pub fn stop() -> anyhow::Result<()> {
    process::stop_recorded("FerretDB", &pid_file())
}

/// The pid of the FerretDB this runner started, if it did.
pub fn pid() -> Option<u32> {
    std::fs::read_to_string(pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Drops every database named like a test's (`test_…`).
pub async fn drop_test_databases() -> anyhow::Result<()> {
    let db = local("admin").await?;
    let names = db.client().list_database_names().await?;
    let mut dropped = 0;
    for name in names
        .iter()
        .filter(|name| name.starts_with(mongo::TEST_DATABASE_PREFIX))
    {
        db.client().database(name).drop().await?;
        dropped += 1;
    }
    eprintln!("dropped {dropped} test database(s)");
    Ok(())
}

async fn answers() -> bool {
    match local("admin").await {
        Ok(db) => mongo::ping(&db).await.is_ok(),
        Err(_) => false,
    }
}

async fn local(database: &str) -> anyhow::Result<Database> {
    let mut cfg = MongoConfig::local(database);
    cfg.server_selection_timeout = Duration::from_secs(1);
    mongo::connect(&cfg, "cargo-task").await
}

fn pid_file() -> std::path::PathBuf {
    workspace::run_dir().join("ferretdb.pid")
}
