//! `cargo task fuzz`: schemathesis, with every check it has on by default, against the gateway's
//! merged OpenAPI document on the whole platform (real processes, rate limits raised), once as a
//! user and once as an administrator. Any failure fails the run: the document must tell the truth.

use std::{path::Path, process::Command, time::Duration};

use crate::{
    deps,
    platform::{self, Stack},
    python, workspace,
};

/// Pinned: a new release adds checks, and a new check failing is a change to review, not noise.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// Operations not fuzzed; every other one is. Two would end the run's own login. The third:
/// the stateful phase links `POST /api/v1/users` to removing an address by the new account's
/// `email` and expects it found on the caller's account (404 is the truth: it is another
/// account's), and schemathesis 4.32.5 did not honour turning that check off for this
/// operation in its stateful phase (CI, 2026-12-04). Its tests are in `services/users`.
const NOT_FUZZED: [&str; 3] = ["users.delete_me", "users.set_roles", "users.remove_email"];

pub async fn run(budget: Duration) -> anyhow::Result<()> {
    deps::ensure_all().await?;
    let st = python::venv("fuzz", &[SCHEMATHESIS])?.join("st");
    platform::build()?;
    let stack = Stack::start("fuzz").await?;
    let reports = workspace::run_dir().join("fuzz");
    let mut failed = Vec::new();
    for (who, token) in [("user", &stack.user), ("admin", &stack.admin)] {
        eprintln!("==> schemathesis as {who} ({} s)", budget.as_secs());
        if !schemathesis(&st, &stack.gateway(), token, budget, &reports.join(who))? {
            failed.push(who);
        }
    }
    stack.cleanup().await?;
    anyhow::ensure!(
        failed.is_empty(),
        "schemathesis found failures as {failed:?} (reports in {})",
        reports.display()
    );
    Ok(())
}

fn schemathesis(
    st: &Path,
    gateway: &str,
    token: &str,
    budget: Duration,
    reports: &Path,
) -> anyhow::Result<bool> {
    let mut command = Command::new(st);
    command
        .arg("--config-file")
        .arg(workspace::root().join("tests/fuzz/schemathesis.toml"))
        .arg("run")
        .arg(format!("{gateway}/openapi.json"))
        // No `--checks all`: every check is on by default but the response-time one, which
        // `all` adds with a 10 s limit. Speed is measured by `cargo task bench` on release
        // builds, not here, on debug builds sharing two cores with the whole platform: a CI run
        // once measured 26.7 s for the key set, which the users service answers from memory
        // (the gateway's slowest answer in a local run of the same phases: 80 ms).
        .args(["--request-timeout", "20"])
        // One worker: with two, hypothesis once failed inside CPython 3.11.7 ("AST constructor
        // recursion depth mismatch"), an error of the tool, not of the API.
        .args(["--workers", "1"])
        .args(["--max-time", &budget.as_secs().to_string()])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--report", "junit", "--report-dir"])
        .arg(reports)
        // Its cache of past failures, which it replays first, stays with the run's files.
        .current_dir(workspace::run_dir())
        .env("NO_COLOR", "1");
    for operation in NOT_FUZZED {
        command.args(["--exclude-operation-id", operation]);
    }
    // The token is on the command line of a process that lives as long as this run, on a
    // platform made for it and dropped after; schemathesis masks it in what it prints.
    Ok(command.status()?.success())
}
