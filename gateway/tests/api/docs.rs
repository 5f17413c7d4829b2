use serde_json::Value;

use crate::helpers::{Users, spawn_gateway, trust};

#[tokio::test]
async fn the_merged_document_lists_every_answering_services_paths() -> anyhow::Result<()> {
    let users = Users::start().await?;
    let gateway = spawn_gateway(|c| trust(c, &users)).await?;

    let doc: Value = gateway.get("/openapi.json").await?.json().await?;

    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/api/v1/auth/token"));
    assert!(paths.contains_key("/api/v1/users/me"));
    assert!(doc["components"]["schemas"].get("Problem").is_some());
    let description = doc["info"]["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("events") && description.contains("notifications"),
        "{description}"
    );
    gateway.stop();
    users.cleanup().await
}

#[tokio::test]
async fn the_docs_page_embeds_the_merged_document_under_a_strict_policy() -> anyhow::Result<()> {
    let users = Users::start().await?;
    let gateway = spawn_gateway(|c| trust(c, &users)).await?;

    let page = gateway.get("/docs").await?;

    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()?
        .to_owned();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    let html = page.text().await?;
    assert!(html.contains("SwaggerUIBundle"));
    assert!(
        html.contains("/api/v1/auth/token"),
        "the merged document is embedded"
    );
    gateway.stop();
    users.cleanup().await
}

/// The browser the docs test drives: `EVENTPOST_TEST_CHROMIUM`, else Debian's `chromium`
/// (which `cargo task deps` installs).
fn chromium() -> String {
    std::env::var("EVENTPOST_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

#[tokio::test]
async fn the_docs_page_renders_the_api_in_a_real_browser() -> anyhow::Result<()> {
    let users = Users::start().await?;
    let gateway = spawn_gateway(|c| trust(c, &users)).await?;
    let profile = std::env::temp_dir().join(common::testing::unique_name("chromium"));

    let output = tokio::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(gateway.url("/docs"))
        .output()
        .await?;

    let dom = String::from_utf8_lossy(&output.stdout);
    // Only Swagger UI's script creates these: the page ran, not just arrived.
    assert!(
        dom.contains("class=\"title\">eventpost API"),
        "no rendered title in:\n{dom:.2000}"
    );
    assert!(
        dom.contains("/api/v1/auth/token") && dom.contains("opblock"),
        "no operations rendered"
    );
    let _removed = std::fs::remove_dir_all(&profile);
    gateway.stop();
    users.cleanup().await
}
