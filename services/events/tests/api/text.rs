//! `q`: word forms, prefixes and typos; best matches first; pages that stay stable.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{GRANADA, TestApp, event_at, fields, problem, spawn_app};

/// Three concerts: two say so in the title, one only in its description.
async fn concerts(app: &TestApp) -> anyhow::Result<()> {
    for (title, description, days) in [
        ("Open air concert", "Bring a blanket", 3),
        ("Evening out", "An acoustic concert under the stars", 2),
        ("Concert hall tour", "Backstage and the organ", 1),
        ("Jazz night", "Live music in the square", 4),
    ] {
        let mut body = event_at(title, days, GRANADA, &["music"]);
        body["description"] = description.into();
        app.create_event(&body).await?;
    }
    Ok(())
}

#[tokio::test]
async fn q_finds_word_forms_prefixes_and_one_typo_title_matches_first() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    concerts(&app).await?;
    let in_relevance_order = ["Concert hall tour", "Open air concert", "Evening out"];
    for q in ["concert", "concerts", "concrt", "CONCERT"] {
        let (titles, _) = app.search_titles(&format!("q={q}")).await?;
        assert_eq!(titles, in_relevance_order, "q={q}");
    }
    let (titles, _) = app.search_titles("q=jaz").await?;
    assert_eq!(titles, ["Jazz night"], "the last word is a prefix");
    let (titles, _) = app.search_titles("q=live%20jaz").await?;
    assert_eq!(titles, ["Jazz night"]);
    let (titles, _) = app.search_titles("q=concert&sort=starts_at").await?;
    assert_eq!(
        titles,
        ["Concert hall tour", "Evening out", "Open air concert"]
    );
    app.cleanup().await
}

#[tokio::test]
async fn relevance_pages_cover_every_match_once_in_order() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    concerts(&app).await?;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("q=concert&limit=1&cursor={c}"),
            None => "q=concert&limit=1".to_owned(),
        };
        let (page, next) = app.search_titles(&query).await?;
        seen.extend(page);
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["Concert hall tour", "Open air concert", "Evening out"]
    );
    app.cleanup().await
}

#[tokio::test]
async fn relevance_needs_words_and_cursors_keep_to_their_sort() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    concerts(&app).await?;
    let refused = problem(app.search("sort=relevance").await?, StatusCode::BAD_REQUEST).await?;
    assert_eq!(fields(&refused), ["sort"]);
    let page: Value = app.search("q=concert&limit=1").await?.json().await?;
    let cursor = page["next_cursor"].as_str().unwrap_or_default().to_owned();
    let mixed = format!("q=concert&sort=starts_at&cursor={cursor}");
    let refused = problem(app.search(&mixed).await?, StatusCode::BAD_REQUEST).await?;
    assert_eq!(fields(&refused), ["cursor"]);
    app.cleanup().await
}
