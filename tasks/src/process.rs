//! Running commands: steps that must succeed, background servers that outlive us, waiting.

use std::{
    fs::File,
    future::Future,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{Context, bail};
use tokio::time::Instant;

/// Runs `program args…` with inherited output; fails naming `what` if it fails.
pub fn run_step(
    what: &str,
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&str],
) -> anyhow::Result<()> {
    eprintln!("==> {what}");
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Runs a prepared command quietly; on failure its output goes into the error.
pub fn run_quiet(what: &str, command: &mut Command) -> anyhow::Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Starts `command` in its own process group with output to `log`, so it keeps running after
/// this task runner exits; records its pid in `pid_file`.
pub fn spawn_detached(command: &mut Command, log: &Path, pid_file: &Path) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    let child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    std::fs::write(pid_file, child.id().to_string())?;
    Ok(())
}

/// Sends SIGTERM to the process recorded in `pid_file`, if any, and removes the file.
pub fn stop_recorded(name: &str, pid_file: &Path) -> anyhow::Result<()> {
    let Ok(pid) = std::fs::read_to_string(pid_file) else {
        return Ok(());
    };
    let pid = pid.trim();
    // A stale pid (the process already gone) is not an error.
    let _gone_already = Command::new("kill").args(["-TERM", pid]).status();
    std::fs::remove_file(pid_file)?;
    eprintln!("stopped {name} (pid {pid})");
    Ok(())
}

/// Polls `ready` every 250 ms until it holds, failing after `limit` with `log` named.
pub async fn wait_until<F, Fut>(
    what: &str,
    limit: Duration,
    log: &Path,
    mut ready: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let give_up = Instant::now() + limit;
    while !ready().await {
        if Instant::now() >= give_up {
            bail!(
                "{what} did not answer within {limit:?}; see {}",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

/// Whether `program` can be found on `PATH`.
pub fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `apt-get install -y packages…` (after one `apt-get update`), or a clear error saying what to
/// install when this process is not root.
pub fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    if !crate::workspace::is_root() {
        bail!(
            "missing system packages; install them with: sudo apt-get install -y {}",
            packages.join(" ")
        );
    }
    run_quiet(
        "apt-get update",
        Command::new("apt-get").args(["update", "-q"]),
    )?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive");
    run_quiet(
        &format!("apt-get install {}", packages.join(" ")),
        &mut install,
    )?;
    Ok(())
}
