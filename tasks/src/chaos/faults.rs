//! The faults the scenarios inject into the shared local servers, and the undoing of each, which
//! the runner also does after a scenario fails so the next one (and the machine) is left whole.

use crate::deps::{ferretdb, postgres, rabbitmq};

use crate::platform::signal;

/// The broker goes away: every connection closes and the port stops answering.
pub fn stop_broker() -> anyhow::Result<()> {
    rabbitmq::stop_app()
}

pub async fn start_broker() -> anyhow::Result<()> {
    rabbitmq::start_app().await
}

/// The part of the database server a pause freezes.
#[derive(Clone, Copy, Debug)]
pub enum DatabasePart {
    /// FerretDB, the MongoDB-protocol front: connections stay open and nothing answers.
    Front,
    /// PostgreSQL under it: FerretDB answers nothing that needs storage.
    Storage,
}

/// Whether the database server is one this runner started (a CI service container cannot be
/// paused from here; the database scenario is then skipped, saying so).
pub fn database_is_ours() -> bool {
    ferretdb::pid().is_some() && !postgres::pids().is_empty()
}

/// SIGSTOP of every process of `part`.
pub fn pause_database(part: DatabasePart) -> anyhow::Result<()> {
    for pid in pids(part) {
        signal(Some(pid), "STOP")?;
    }
    Ok(())
}

/// SIGCONT of both parts (undoing either pause, or neither).
pub fn resume_database() -> anyhow::Result<()> {
    for pid in pids(DatabasePart::Front)
        .into_iter()
        .chain(pids(DatabasePart::Storage))
    {
        // A backend that ended while paused has nothing to resume.
        let _gone = signal(Some(pid), "CONT");
    }
    Ok(())
}

/// FerretDB killed (the database down, connections refused), to be started again with
/// [`start_database`].
pub fn stop_database() -> anyhow::Result<()> {
    if let Some(pid) = ferretdb::pid() {
        signal(Some(pid), "KILL")?;
    }
    ferretdb::stop()
}

pub async fn start_database() -> anyhow::Result<()> {
    ferretdb::ensure().await
}

fn pids(part: DatabasePart) -> Vec<u32> {
    match part {
        DatabasePart::Front => ferretdb::pid().into_iter().collect(),
        DatabasePart::Storage => postgres::pids(),
    }
}

/// Everything back as it was, whatever a failed scenario left.
pub async fn heal() -> anyhow::Result<()> {
    resume_database()?;
    start_database().await?;
    start_broker().await
}
