//! The monitoring kept as code in `deploy/monitoring/`, checked with `promtool` (Debian's
//! `prometheus` package): the scrape configuration and the alert rules are valid, every alert
//! passes its unit tests (`alerts.test.yml`), and every query of the Grafana dashboard is valid
//! PromQL.

use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use crate::{process, workspace};

pub fn check() -> anyhow::Result<()> {
    if !process::on_path("promtool") {
        eprintln!("==> installing promtool (apt-get prometheus)");
        process::apt_install(&["prometheus"])?;
    }
    let dir = workspace::root().join("deploy").join("monitoring");
    let path = |name: &str| dir.join(name).display().to_string();
    process::run_step(
        "promtool check config",
        "promtool",
        &["check", "config", &path("prometheus.yml")],
    )?;
    process::run_step(
        "promtool test rules",
        "promtool",
        &["test", "rules", &path("alerts.test.yml")],
    )?;
    check_dashboard(&dir.join("grafana").join("eventpost.json"))
}

/// Every panel's queries, with Grafana's own variable given a value, checked as recording
/// rules: promtool parses them as Prometheus would.
fn check_dashboard(dashboard: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(dashboard)
        .with_context(|| format!("reading {}", dashboard.display()))?;
    let dashboard: Value = serde_json::from_str(&text)?;
    let queries = dashboard["panels"]
        .as_array()
        .context("a dashboard without panels")?
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|target| target["expr"].as_str().map(str::to_owned))
        .map(|expr| expr.replace("$__rate_interval", "5m"))
        .collect::<Vec<_>>();
    anyhow::ensure!(!queries.is_empty(), "the dashboard has no queries");
    let rules = serde_json::json!({
        "groups": [{
            "name": "dashboard",
            "rules": queries
                .iter()
                .enumerate()
                .map(|(n, expr)| serde_json::json!({ "record": format!("dashboard:query_{n}"), "expr": expr }))
                .collect::<Vec<_>>(),
        }]
    });
    // JSON is YAML: promtool reads it as a rule file.
    let file = workspace::run_dir().join("dashboard-queries.yml");
    std::fs::create_dir_all(workspace::run_dir())?;
    std::fs::write(&file, serde_json::to_string_pretty(&rules)?)?;
    process::run_step(
        &format!(
            "promtool check rules (the dashboard's {} queries)",
            queries.len()
        ),
        "promtool",
        &["check", "rules", &file.display().to_string()],
    )
}
