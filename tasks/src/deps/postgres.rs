//! PostgreSQL, FerretDB's storage: Debian's server binaries, a cluster of our own in
//! `.run/postgres` on port 54320, so nothing on the machine is touched.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::Context;

use crate::{process, workspace};

/// The port our cluster listens on (loopback only).
pub const PORT: u16 = 54320;

/// The database FerretDB stores everything in.
pub const DATABASE: &str = "ferretdb";

/// Makes our cluster run and hold the `ferretdb` database.
pub fn ensure() -> anyhow::Result<()> {
    let bin = bin_dir()?;
    let dir = cluster_dir();
    let data = dir.join("data");
    if !data.join("PG_VERSION").exists() {
        init(&bin, &dir, &data)?;
    }
    let running = as_owner(&bin.join("pg_ctl"))
        .args(["status", "-D"])
        .arg(&data)
        .output()
        .is_ok_and(|out| out.status.success());
    if !running {
        eprintln!("==> starting PostgreSQL on 127.0.0.1:{PORT}");
        let options = format!(
            "-p {PORT} -c listen_addresses=127.0.0.1 -k {}",
            dir.display()
        );
        process::run_quiet(
            "pg_ctl start",
            as_owner(&bin.join("pg_ctl"))
                .args(["start", "-w", "-t", "60", "-D"])
                .arg(&data)
                .arg("-l")
                .arg(dir.join("postgres.log"))
                .args(["-o", &options]),
        )?;
    }
    create_database(&bin)
}

/// Stops our cluster if it runs.
pub fn stop() -> anyhow::Result<()> {
    let data = cluster_dir().join("data");
    if !data.join("postmaster.pid").exists() {
        return Ok(());
    }
    let bin = bin_dir()?;
    process::run_quiet(
        "pg_ctl stop",
        as_owner(&bin.join("pg_ctl"))
            .args(["stop", "-m", "fast", "-D"])
            .arg(&data),
    )?;
    eprintln!("stopped PostgreSQL");
    Ok(())
}

/// The pids of our cluster's server processes, the postmaster first; empty if it does not run.
pub fn pids() -> Vec<u32> {
    let recorded = std::fs::read_to_string(cluster_dir().join("data").join("postmaster.pid"));
    let Some(postmaster) = recorded
        .ok()
        .and_then(|pid_file| pid_file.lines().next()?.trim().parse::<u32>().ok())
    else {
        return Vec::new();
    };
    let children = Command::new("pgrep")
        .args(["-P", &postmaster.to_string()])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    std::iter::once(postmaster)
        .chain(children.lines().filter_map(|pid| pid.trim().parse().ok()))
        .collect()
}

fn init(bin: &Path, dir: &Path, data: &Path) -> anyhow::Result<()> {
    eprintln!("==> creating a PostgreSQL cluster in {}", data.display());
    std::fs::create_dir_all(data)?;
    if workspace::is_root() {
        if let Some(home) = dir
            .parent()
            .filter(|p| p.starts_with("/var/lib/postgresql"))
        {
            eprintln!(
                "    (the postgres user cannot enter .run/, so the cluster lives in {})",
                home.display()
            );
        }
        // PostgreSQL refuses to run as root; the cluster belongs to the `postgres` user.
        process::run_quiet(
            "chown postgres",
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir),
        )?;
    }
    process::run_quiet(
        "initdb",
        as_owner(&bin.join("initdb"))
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "-D"])
            .arg(data),
    )?;
    Ok(())
}

fn create_database(bin: &Path) -> anyhow::Result<()> {
    let exists = psql(
        bin,
        "postgres",
        &format!("SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"),
    )?;
    if exists.trim() != "1" {
        psql(bin, "postgres", &format!("CREATE DATABASE {DATABASE}"))?;
    }
    Ok(())
}

/// Vacuums and analyses what FerretDB stores, so that a measurement taken after a large write
/// does not share its window with autovacuum catching up on it (MongoDB has no such step).
pub fn vacuum() -> anyhow::Result<()> {
    psql(&bin_dir()?, DATABASE, "VACUUM (ANALYZE)").map(drop)
}

fn psql(bin: &Path, database: &str, sql: &str) -> anyhow::Result<String> {
    process::run_quiet(
        "psql",
        Command::new(bin.join("psql")).args([
            "-h",
            "127.0.0.1",
            "-p",
            &PORT.to_string(),
            "-U",
            "postgres",
            "-d",
            database,
            "-tAc",
            sql,
        ]),
    )
}

/// `.run/postgres`, unless the `postgres` user cannot reach it (a clone under a private home
/// directory), then a folder of ours under PostgreSQL's own home, one per clone.
fn cluster_dir() -> PathBuf {
    let preferred = workspace::run_dir().join("postgres");
    if !workspace::is_root() || postgres_can_enter(&workspace::run_dir()) {
        return preferred;
    }
    let clone = workspace::root().to_string_lossy().replace(['/', ' '], "_");
    PathBuf::from("/var/lib/postgresql/eventpost").join(clone.trim_start_matches('_'))
}

fn postgres_can_enter(dir: &Path) -> bool {
    let _exists = std::fs::create_dir_all(dir);
    Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

/// A command run as the cluster's owner: `postgres` when we are root, ourselves otherwise.
fn as_owner(program: &Path) -> Command {
    if workspace::is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Debian keeps the server binaries off PATH, in /usr/lib/postgresql/<version>/bin.
fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = newest_debian_bin_dir() {
        return Ok(dir);
    }
    process::apt_install(&["postgresql"])?;
    newest_debian_bin_dir().context("PostgreSQL was installed but its binaries were not found")
}

fn newest_debian_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}
