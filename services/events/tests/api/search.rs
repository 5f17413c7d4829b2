//! Searching (answered from the catalogue in memory): each filter alone and combined,
//! distances, sorting, pagination, bad parameters.

use std::collections::HashSet;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    BARCELONA, GRANADA, MADRID, SEVILLE, TestApp, event_at, fields, problem, spawn_app, titles,
};

/// A small catalogue: four cities, several topics, days 1 to 8 from now.
async fn catalogue(app: &TestApp) -> anyhow::Result<()> {
    let events = [
        ("Granada jazz", 1, GRANADA, vec!["jazz", "music"]),
        ("Madrid rust meetup", 2, MADRID, vec!["rust", "tech"]),
        ("Seville flamenco", 3, SEVILLE, vec!["flamenco", "music"]),
        ("Barcelona tapas tour", 4, BARCELONA, vec!["food"]),
        ("Granada tapas night", 5, GRANADA, vec!["food", "music"]),
        ("Madrid jazz festival", 8, MADRID, vec!["jazz"]),
    ];
    for (title, days, place, topics) in events {
        app.create_event(&event_at(title, days, place, &topics))
            .await?;
    }
    Ok(())
}

fn days_from_now(days: i64) -> String {
    let at = Utc::now() + chrono::Duration::days(days);
    url_escape(&at.to_rfc3339())
}

fn url_escape(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn each_filter_alone_narrows_the_upcoming_events() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    catalogue(&app).await?;
    let past = event_at("Last week's concert", -7, GRANADA, &["music"]);
    app.create_event(&past).await?;

    let (all, _) = app.search_titles("").await?;
    assert_eq!(all.len(), 6, "the past event is left out: {all:?}");
    assert_eq!(all[0], "Granada jazz", "soonest first");

    let (jazz_or_food, _) = app.search_titles("topic=jazz&topic=food").await?;
    assert_eq!(
        jazz_or_food,
        [
            "Granada jazz",
            "Barcelona tapas tour",
            "Granada tapas night",
            "Madrid jazz festival"
        ]
    );

    let window = format!("from={}&to={}", days_from_now(2), days_from_now(6));
    let (in_window, _) = app.search_titles(&window).await?;
    assert_eq!(
        in_window,
        [
            "Seville flamenco",
            "Barcelona tapas tour",
            "Granada tapas night"
        ]
    );

    let (including_past, _) = app
        .search_titles(&format!("from={}", days_from_now(-10)))
        .await?;
    assert_eq!(
        including_past.first().map(String::as_str),
        Some("Last week's concert")
    );

    let (tapas, _) = app.search_titles("q=TAPAS").await?;
    assert_eq!(tapas, ["Barcelona tapas tour", "Granada tapas night"]);
    let (two_words, _) = app.search_titles("q=tapas%20night").await?;
    assert_eq!(two_words, ["Granada tapas night"]);
    let (described, _) = app.search_titles("q=remember").await?;
    assert_eq!(described.len(), 6, "words of the description count too");
    app.cleanup().await
}

#[tokio::test]
async fn location_search_uses_great_circle_distance() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    catalogue(&app).await?;
    let near_granada = format!("near={},{}", GRANADA.0, GRANADA.1);

    // Madrid is ≈ 360 km from Granada, Seville ≈ 210 km, Barcelona ≈ 680 km.
    let page: Value = app
        .search(&format!("{near_granada}&radius_km=400&sort=distance"))
        .await?
        .json()
        .await?;
    assert_eq!(
        titles(&page),
        [
            "Granada jazz",
            "Granada tapas night",
            "Seville flamenco",
            "Madrid rust meetup",
            "Madrid jazz festival"
        ]
    );
    let distances: Vec<f64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["distance_km"].as_f64().unwrap())
        .collect();
    assert_eq!(distances[0], 0.0);
    assert!(
        (distances[2] - 210.0).abs() < 10.0,
        "Seville: {distances:?}"
    );
    assert!((distances[3] - 360.0).abs() < 5.0, "Madrid: {distances:?}");

    let (within_300, _) = app
        .search_titles(&format!("{near_granada}&radius_km=300"))
        .await?;
    assert_eq!(
        within_300,
        ["Granada jazz", "Seville flamenco", "Granada tapas night"],
        "by start"
    );
    let (within_350, _) = app
        .search_titles(&format!("{near_granada}&radius_km=350"))
        .await?;
    assert!(
        !within_350.iter().any(|t| t.starts_with("Madrid")),
        "Madrid is beyond 350 km"
    );
    let (within_370, _) = app
        .search_titles(&format!("{near_granada}&radius_km=370"))
        .await?;
    assert!(
        within_370.iter().any(|t| t.starts_with("Madrid")),
        "Madrid is within 370 km"
    );
    app.cleanup().await
}

#[tokio::test]
async fn all_filters_combine() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    catalogue(&app).await?;
    let query = format!(
        "topic=music&topic=rust&from={}&to={}&near={},{}&radius_km=400&q=night&sort=distance",
        days_from_now(0),
        days_from_now(7),
        GRANADA.0,
        GRANADA.1
    );
    let (combined, _) = app.search_titles(&query).await?;
    assert_eq!(combined, ["Granada tapas night"]);
    app.cleanup().await
}

#[tokio::test]
async fn pages_cover_every_event_once_even_while_events_are_added() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    for i in 0..25 {
        // Pairs share a start time, so ties are broken by id.
        let body = event_at(&format!("Event {i:02}"), 1 + i / 2, GRANADA, &["music"]);
        app.create_event(&body).await?;
    }
    for (sort, extra) in [
        ("starts_at", String::new()),
        (
            "distance",
            format!("&near={},{}&radius_km=10", GRANADA.0, GRANADA.1),
        ),
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let query = match &cursor {
                Some(c) => format!("limit=10&sort={sort}{extra}&cursor={c}"),
                None => format!("limit=10&sort={sort}{extra}"),
            };
            let (page, next) = app.search_titles(&query).await?;
            if pages == 0 && sort == "starts_at" {
                // Added after the first page, starting later than everything seen so far.
                app.create_event(&event_at("Late addition", 30, GRANADA, &["music"]))
                    .await?;
            }
            seen.extend(page);
            pages += 1;
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "no duplicates with {sort}: {seen:?}"
        );
        assert_eq!(seen.len(), 26, "no gaps with {sort}: {seen:?}");
        assert_eq!(pages, 3);
    }
    app.cleanup().await
}

#[tokio::test]
async fn bad_parameters_are_400_naming_each() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let cases = [
        ("near=91,0", vec!["near"]),
        ("near=37,-181", vec!["near"]),
        ("near=abc", vec!["near"]),
        ("near=37,-3&radius_km=0", vec!["radius_km"]),
        ("near=37,-3&radius_km=-5", vec!["radius_km"]),
        ("near=37,-3&radius_km=50000", vec!["radius_km"]),
        ("radius_km=5", vec!["radius_km"]),
        ("sort=price", vec!["sort"]),
        ("sort=distance", vec!["sort"]),
        ("limit=101", vec!["limit"]),
        ("limit=0", vec!["limit"]),
        ("cursor=bogus", vec!["cursor"]),
        ("topic=Not%20a%20slug", vec!["topic"]),
    ];
    for (query, expected) in cases {
        let refused = problem(app.search(query).await?, StatusCode::BAD_REQUEST).await?;
        assert_eq!(fields(&refused), expected, "{query}");
    }
    // The rule broken, in words, not the validator's notation.
    let huge = problem(app.search("limit=1000000").await?, StatusCode::BAD_REQUEST).await?;
    assert_eq!(huge["detail"], "`limit` must be at most 100", "{huge}");
    let backwards = format!("from={}&to={}", days_from_now(5), days_from_now(1));
    let refused = problem(app.search(&backwards).await?, StatusCode::BAD_REQUEST).await?;
    assert_eq!(fields(&refused), ["to"]);
    let from = problem(app.search("from=yesterday").await?, StatusCode::BAD_REQUEST).await?;
    assert_eq!(fields(&from), ["from"]);
    app.cleanup().await
}

#[tokio::test]
async fn a_restarted_service_reopens_its_indexes() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    events::store::Store::open(&app.db, common::config::MongoConfig::local("-").deadline()).await?;
    let indexes = app
        .db
        .collection::<Value>("events")
        .list_index_names()
        .await?;
    assert!(indexes.contains(&"by_start".to_owned()), "{indexes:?}");
    app.cleanup().await
}

#[tokio::test]
async fn facets_count_every_match_per_topic_leaving_the_topic_filter_out() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    catalogue(&app).await?;

    let everything: Value = app.search("limit=1").await?.json().await?;
    assert_eq!(
        everything["facets"]["topics"],
        serde_json::json!({
            "flamenco": 1, "food": 2, "jazz": 2, "music": 3, "rust": 1, "tech": 1,
        }),
        "the whole search, not the page of one"
    );
    let granada = format!("near={},{}&radius_km=20", GRANADA.0, GRANADA.1);
    let filtered: Value = app
        .search(&format!("topic=jazz&{granada}"))
        .await?
        .json()
        .await?;
    assert_eq!(titles(&filtered), ["Granada jazz"]);
    assert_eq!(
        filtered["facets"]["topics"],
        serde_json::json!({ "food": 1, "jazz": 1, "music": 2 }),
        "what choosing another topic in Granada would add"
    );
    let words: Value = app.search("q=tapas").await?.json().await?;
    assert_eq!(
        words["facets"]["topics"],
        serde_json::json!({ "food": 2, "music": 1 })
    );
    app.cleanup().await
}
