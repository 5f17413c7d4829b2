//! The private calendar feed: made, shown, read by a calendar (with its ETag), rotated, closed.

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{Platform, spawn_platform};

/// The feed at `url` (as handed out), read from the notifications service itself.
async fn read_feed(
    platform: &Platform,
    url: &str,
    if_none_match: Option<&str>,
) -> anyhow::Result<reqwest::Response> {
    let path = url::Url::parse(url)?.path().to_owned();
    let mut request = platform
        .client
        .get(format!("{}{path}", platform.notifications.address));
    if let Some(tag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    Ok(request.send().await?)
}

fn trigger(at: &str) -> String {
    let at: DateTime<Utc> = at.parse().unwrap_or_default();
    format!("TRIGGER;VALUE=DATE-TIME:{}", at.format("%Y%m%dT%H%M%SZ"))
}

#[tokio::test]
async fn my_feed_holds_the_events_i_am_reminded_of_with_alarms_and_answers_304_until_it_changes()
-> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let none = platform.reminders(Method::GET, "/feed", &me, None).await?;
    assert_eq!(none.status(), StatusCode::NOT_FOUND);

    let kept = platform
        .event("Jazz in the park", Utc::now() + Duration::days(3))
        .await?;
    let dropped = platform
        .event("Called off", Utc::now() + Duration::days(4))
        .await?;
    let fixed = platform
        .create_reminder(
            &me,
            &json!({ "event_id": kept, "send_at": (Utc::now() + Duration::days(1)).to_rfc3339() }),
        )
        .await?;
    let relative = platform
        .create_reminder(
            &me,
            &json!({ "event_id": kept, "remind_before_minutes": 60 }),
        )
        .await?;
    let cancelled = platform
        .create_reminder(
            &me,
            &json!({ "event_id": dropped, "remind_before_minutes": 60 }),
        )
        .await?;
    let cancel_path = format!("/{}", cancelled["id"].as_str().unwrap());
    platform
        .reminders(Method::DELETE, &cancel_path, &me, None)
        .await?;

    let made: Value = platform
        .reminders(Method::PUT, "/feed", &me, None)
        .await?
        .json()
        .await?;
    let url = made["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:8080/feeds/"), "{made}");
    assert!(url.ends_with(".ics"), "{made}");
    assert_eq!(made["webcal_url"], url.replacen("http", "webcal", 1));
    let shown: Value = platform
        .reminders(Method::GET, "/feed", &me, None)
        .await?
        .json()
        .await?;
    assert_eq!(shown["url"], url);

    let response = read_feed(&platform, &url, None).await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()?
            .starts_with("text/calendar")
    );
    let etag = response.headers()[header::ETAG].to_str()?.to_owned();
    let ics = response.text().await?;
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), 1, "{ics}");
    assert!(
        ics.contains(&format!("UID:event-{kept}@eventpost\r\n")),
        "{ics}"
    );
    assert!(ics.contains("SEQUENCE:1\r\n"), "{ics}");
    assert!(
        !ics.contains(&dropped),
        "a cancelled reminder's event is not in it: {ics}"
    );
    assert_eq!(ics.matches("BEGIN:VALARM").count(), 2, "{ics}");
    for reminder in [&fixed, &relative] {
        let at = reminder["send_at"].as_str().unwrap();
        assert!(ics.contains(&trigger(at)), "{at}: {ics}");
    }

    let unchanged = read_feed(&platform, &url, Some(&etag)).await?;
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.headers()[header::ETAG].to_str()?, etag);

    let snooze_path = format!("/{}/snooze", fixed["id"].as_str().unwrap());
    let snoozed: Value = platform
        .reminders(
            Method::POST,
            &snooze_path,
            &me,
            Some(&json!({ "minutes": 30 })),
        )
        .await?
        .json()
        .await?;
    let changed = read_feed(&platform, &url, Some(&etag)).await?;
    assert_eq!(
        changed.status(),
        StatusCode::OK,
        "a snooze changes the feed"
    );
    assert_ne!(changed.headers()[header::ETAG].to_str()?, etag);
    let ics = changed.text().await?;
    assert!(
        ics.contains(&trigger(snoozed["send_at"].as_str().unwrap())),
        "{ics}"
    );
    platform.cleanup().await
}

#[tokio::test]
async fn a_rotated_feed_address_stops_working_and_a_closed_feed_has_none() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let first: Value = platform
        .reminders(Method::PUT, "/feed", &me, None)
        .await?
        .json()
        .await?;
    let second: Value = platform
        .reminders(Method::PUT, "/feed", &me, None)
        .await?
        .json()
        .await?;
    let (first, second) = (
        first["url"].as_str().unwrap(),
        second["url"].as_str().unwrap(),
    );
    assert_ne!(first, second);
    let old = read_feed(&platform, first, None).await?;
    assert_eq!(old.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        old.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let empty = read_feed(&platform, second, None).await?;
    assert_eq!(empty.status(), StatusCode::OK);
    let ics = empty.text().await?;
    assert!(
        ics.contains("BEGIN:VCALENDAR") && !ics.contains("BEGIN:VEVENT"),
        "{ics}"
    );

    let closed = platform
        .reminders(Method::DELETE, "/feed", &me, None)
        .await?;
    assert_eq!(closed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        read_feed(&platform, second, None).await?.status(),
        StatusCode::NOT_FOUND
    );
    let shown = platform.reminders(Method::GET, "/feed", &me, None).await?;
    assert_eq!(shown.status(), StatusCode::NOT_FOUND);
    for guess in ["/feeds/nope.ics", "/feeds/", "/feeds/%00.ics"] {
        let url = format!("http://127.0.0.1:8080{guess}");
        let status = read_feed(&platform, &url, None).await?.status();
        assert_eq!(status, StatusCode::NOT_FOUND, "{guess}");
    }
    platform.cleanup().await
}

#[tokio::test]
async fn an_event_i_save_joins_my_feed_without_an_alarm_follows_its_changes_and_leaves_when_unsaved()
-> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let made: Value = platform
        .reminders(Method::PUT, "/feed", &me, None)
        .await?
        .json()
        .await?;
    let url = made["url"].as_str().unwrap().to_owned();
    let event = platform
        .event("Saved for later", Utc::now() + Duration::days(6))
        .await?;
    let uid = format!("UID:event-{event}@eventpost\r\n");

    platform.save_event(Method::PUT, &me, &event).await?;
    let ics = feed_until(&platform, &url, "the saved event", |ics| ics.contains(&uid)).await?;
    assert!(!ics.contains("BEGIN:VALARM"), "{ics}");
    assert!(ics.contains("SUMMARY:Saved for later"), "{ics}");

    platform
        .move_event(&event, "Saved, and moved", Utc::now() + Duration::days(7))
        .await?;
    let ics = feed_until(&platform, &url, "the event's change", |ics| {
        ics.contains("SUMMARY:Saved\\, and moved")
    })
    .await?;
    assert!(ics.contains("SEQUENCE:2\r\n"), "{ics}");

    platform.save_event(Method::DELETE, &me, &event).await?;
    feed_until(&platform, &url, "the unsaved event gone", |ics| {
        !ics.contains(&uid)
    })
    .await?;
    platform.cleanup().await
}

/// The feed at `url` once `wanted` holds of it.
async fn feed_until(
    platform: &Platform,
    url: &str,
    what: &str,
    wanted: impl Fn(&str) -> bool,
) -> anyhow::Result<String> {
    common::testing::eventually(std::time::Duration::from_secs(10), what, || async {
        let ics = read_feed(platform, url, None).await?.text().await?;
        Ok(wanted(&ics).then_some(ics))
    })
    .await
}
