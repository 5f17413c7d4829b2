//! The web app in a real browser: `tests/browser/journey.mjs` drives Debian's Chromium
//! (playwright-core) through a new person's first hour (registering, verifying the address
//! from the mail read in Mailpit, finding an event by a misspelt word, saving it, a reminder
//! due in seconds mailed and snoozed from the mail's link, a forgotten password reset from the
//! mail) and an administrator's edit that meets another's, on a desktop's and a phone's width,
//! with axe-core's checks on every page. `EVENTPOST_SCREENSHOTS=<dir>` keeps the README's
//! screenshots there.

use std::path::PathBuf;

use serde_json::Value;

use common::testing::Mailpit;

use crate::helpers::{Options, PASSWORD, PUBLIC_URL, Site};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test]
async fn people_register_are_reminded_and_edit_events_in_chromium_without_serious_accessibility_violations()
-> anyhow::Result<()> {
    let site = Site::start(Options {
        mail: true,
        ..Options::default()
    })
    .await?;
    site.event(
        "Jazz workshop in the park",
        "Bring your instrument; we play from four.",
        "music",
    )
    .await?;
    site.event("Sunday market", "Local food.", "food").await?;

    let mut journey = tokio::process::Command::new("node");
    journey
        .arg(repository().join("tests/browser/journey.mjs"))
        .env("SITE_URL", site.url.as_str())
        .env("PUBLIC_URL", PUBLIC_URL)
        .env("MAILPIT_URL", Mailpit::local().url())
        .env("SEARCH", "worksop")
        .env("EVENT_TITLE", "Jazz workshop in the park")
        .env("ADMIN_EMAIL", &site.admin_email)
        .env("ADMIN_PASSWORD", PASSWORD);
    if let Ok(browser) = std::env::var("EVENTPOST_TEST_CHROMIUM") {
        journey.env("CHROMIUM", browser);
    }
    if let Ok(shots) = std::env::var("EVENTPOST_SCREENSHOTS") {
        journey.env("SCREENSHOTS", repository().join(shots));
    }
    let output = journey.output().await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no report from the journey: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    assert_eq!(report["failed"], Value::Null, "{report:#}");
    assert_eq!(
        report["steps"].as_array().map(Vec::len),
        Some(13),
        "every step: {report:#}"
    );
    let serious: Vec<&Value> = report["violations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|violation| matches!(violation["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(serious.is_empty(), "accessibility: {serious:#?}");
    assert!(output.status.success(), "{report:#}");
    site.cleanup().await
}
