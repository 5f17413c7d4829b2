//! Python tools the task runner needs (hadolint, Ansible, moto), each set in its own virtual
//! environment under the tools directory, built once from PyPI with pinned versions.

use std::{path::PathBuf, process::Command};

use crate::{process, workspace};

/// A virtual environment named `name` holding `packages` (pinned `name==version`); returns its
/// `bin/` directory. A set of packages changes the name's marker, so changing a pin rebuilds it.
pub fn venv(name: &str, packages: &[&str]) -> anyhow::Result<PathBuf> {
    let dir = workspace::tools_dir().join(format!("venv-{name}"));
    let bin = dir.join("bin");
    let marker = dir.join("eventpost-packages.txt");
    let wanted = packages.join("\n");
    if std::fs::read_to_string(&marker).is_ok_and(|have| have == wanted) {
        return Ok(bin);
    }
    eprintln!(
        "==> installing {} (pip, first time only)",
        packages.join(" ")
    );
    let python = if process::on_path("python3") {
        "python3"
    } else {
        "python"
    };
    process::run_quiet(
        "python3 -m venv",
        Command::new(python)
            .arg("-m")
            .arg("venv")
            .arg("--clear")
            .arg(&dir),
    )?;
    process::run_quiet(
        "pip install",
        Command::new(bin.join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(packages),
    )?;
    std::fs::write(&marker, wanted)?;
    Ok(bin)
}
