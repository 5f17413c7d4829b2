//! Sessions whose access token runs out: the pages a session asks for at once refresh its
//! tokens once between them, whichever instance of the web app serves each, so the login
//! survives (two refreshes with one refresh token would end it: the users service takes a
//! replay for a stolen token).

use reqwest::StatusCode;
use std::time::Duration;

use crate::helpers::{Options, Site};

#[tokio::test]
async fn pages_asked_for_at_once_with_an_ending_token_keep_the_login() -> anyhow::Result<()> {
    pages_at_once_keep_the_login(1).await
}

#[tokio::test]
async fn pages_served_at_once_by_two_instances_with_an_ending_token_keep_the_login()
-> anyhow::Result<()> {
    pages_at_once_keep_the_login(2).await
}

async fn pages_at_once_keep_the_login(web_instances: usize) -> anyhow::Result<()> {
    // Every page finds the access token about to end, and refreshes it.
    let site = Site::start(Options {
        access_ttl: Duration::from_secs(5),
        web_instances,
        ..Options::default()
    })
    .await?;
    let id = site.event("Chess club", "Play.", "games").await?;
    let browser = site.browser()?;
    browser.register().await?;
    let csrf = browser.get(&format!("/events/{id}")).await?.csrf()?;
    browser
        .post(
            &format!("/events/{id}/saved"),
            &[("csrf", &csrf), ("saved", "true")],
        )
        .await?;

    for round in 0..3 {
        let pages = futures::future::join_all((0..4).map(|_| browser.get("/saved"))).await;
        for page in pages {
            let page = page?;
            assert_eq!(
                page.status,
                StatusCode::OK,
                "round {round}: {:?}",
                page.location()
            );
            assert!(page.body.contains("Chess club"), "round {round}");
        }
    }
    site.cleanup().await
}
