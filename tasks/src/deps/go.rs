//! Building the Go tools (FerretDB, Mailpit) into the tool cache, once per version.

use std::{path::PathBuf, process::Command};

use anyhow::bail;

use crate::{process, workspace};

/// Builds `tasks/go/ferretdb`, our small command around FerretDB's embeddable package (see its
/// `main.go` for why not the upstream command); our go.sum pins every dependency.
pub fn ferretdb(version: &str) -> anyhow::Result<PathBuf> {
    let binary = workspace::tools_dir().join(format!("ferretdb-{version}"));
    if binary.exists() {
        return Ok(binary);
    }
    require_go()?;
    eprintln!("==> building FerretDB {version} (first time only)");
    let module = workspace::root().join("tasks/go/ferretdb");
    process::run_quiet(
        "go build ferretdb",
        Command::new("go")
            .current_dir(module)
            .args(["build", "-o"])
            .arg(&binary)
            .arg("."),
    )?;
    Ok(binary)
}

/// Installs Mailpit at `version` with `go install`.
pub fn mailpit(version: &str) -> anyhow::Result<PathBuf> {
    let dir = workspace::tools_dir().join(format!("mailpit-{version}"));
    let binary = dir.join("mailpit");
    if binary.exists() {
        return Ok(binary);
    }
    require_go()?;
    eprintln!("==> building Mailpit {version} (first time only)");
    process::run_quiet(
        "go install mailpit",
        Command::new("go")
            .env("GOBIN", &dir)
            .args(["install", &format!("github.com/axllent/mailpit@{version}")]),
    )?;
    Ok(binary)
}

fn require_go() -> anyhow::Result<()> {
    if !process::on_path("go") {
        bail!(
            "Go 1.24 or newer is needed to build FerretDB and Mailpit: install it from https://go.dev/dl/ and put `go` on PATH"
        );
    }
    Ok(())
}
