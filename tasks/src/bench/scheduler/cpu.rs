//! CPU time of processes, from `/proc`: the notifications process, and the database (FerretDB
//! and every PostgreSQL process).

use std::time::{Duration, Instant};

/// CPU seconds used by `pids` so far (user and system).
pub fn cpu_seconds(pids: &[u32]) -> f64 {
    let ticks: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| {
            // Fields after the command (which may hold spaces), from the third on.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let user: u64 = fields.get(11)?.parse().ok()?;
            let system: u64 = fields.get(12)?.parse().ok()?;
            Some(user + system)
        })
        .sum();
    ticks as f64 / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|out| out.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The database's processes: FerretDB and PostgreSQL's.
pub fn database_pids() -> Vec<u32> {
    pids_where(|comm| comm.starts_with("ferretdb") || comm == "postgres")
}

/// The processes whose command name passes `wanted`.
pub fn pids_where(wanted: impl Fn(&str) -> bool) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| wanted(comm.trim()))
        })
        .collect()
}

/// Percent of one core each group of processes used over `window`.
pub async fn usage(groups: &[Vec<u32>], window: Duration) -> Vec<f64> {
    let before: Vec<f64> = groups.iter().map(|pids| cpu_seconds(pids)).collect();
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let elapsed = started.elapsed().as_secs_f64();
    groups
        .iter()
        .zip(before)
        .map(|(pids, before)| (cpu_seconds(pids) - before) / elapsed * 100.0)
        .collect()
}
