//! The reminder API: creating, reading, listing, changing, snoozing, cancelling; ownership;
//! bad input.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{fields, spawn_platform};

#[tokio::test]
async fn a_relative_reminder_defaults_to_the_primary_address_and_a_text_from_the_event()
-> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let starts_at = Utc::now() + Duration::days(2);
    let event = platform
        .event("Flamenco at the Alhambra", starts_at)
        .await?;

    let created = platform
        .reminders(
            Method::POST,
            "",
            &me,
            Some(&json!({ "event_id": event, "remind_before_minutes": 90 })),
        )
        .await?;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str()?.to_owned();
    let reminder: Value = created.json().await?;
    assert_eq!(
        location,
        format!("/api/v1/notifications/{}", reminder["id"].as_str().unwrap())
    );
    assert_eq!(reminder["status"], "scheduled");
    assert_eq!(reminder["attempts"], 0);
    assert_eq!(reminder["remind_before_minutes"], 90);
    assert_eq!(reminder["to_email"], platform.email_of(&me).await?);
    assert_eq!(reminder["subject"], "Reminder: Flamenco at the Alhambra");
    let content = reminder["content"].as_str().unwrap();
    assert!(
        content.starts_with("Flamenco at the Alhambra starts on "),
        "{content}"
    );
    assert!(
        content.contains("(CET)") || content.contains("(CEST)"),
        "local time: {content}"
    );
    let send_at = chrono::DateTime::parse_from_rfc3339(reminder["send_at"].as_str().unwrap())?;
    assert_eq!(
        send_at.timestamp(),
        (starts_at - Duration::minutes(90)).timestamp()
    );

    let read = platform
        .reminder(&me, reminder["id"].as_str().unwrap())
        .await?;
    assert_eq!(read, reminder);
    platform.cleanup().await
}

#[tokio::test]
async fn reminders_are_private_to_their_owner() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let (me, someone) = (platform.user().await?, platform.user().await?);
    let event = platform
        .event("Private", Utc::now() + Duration::days(1))
        .await?;
    let send_at = (Utc::now() + Duration::hours(2)).to_rfc3339();
    let mine = platform
        .create_reminder(
            &me,
            &json!({ "event_id": event, "send_at": send_at, "subject": "Mine" }),
        )
        .await?;
    let id = mine["id"].as_str().unwrap();

    for (method, path, body) in [
        (Method::GET, format!("/{id}"), None),
        (
            Method::PATCH,
            format!("/{id}"),
            Some(json!({ "subject": "Stolen" })),
        ),
        (
            Method::POST,
            format!("/{id}/snooze"),
            Some(json!({ "minutes": 5 })),
        ),
        (Method::DELETE, format!("/{id}"), None),
    ] {
        let response = platform
            .reminders(method.clone(), &path, &someone, body.as_ref())
            .await?;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
        let problem: Value = response.json().await?;
        assert_eq!(problem["detail"], "no such reminder");
    }
    let theirs: Value = platform
        .reminders(Method::GET, "", &someone, None)
        .await?
        .json()
        .await?;
    assert_eq!(theirs["items"], json!([]));
    assert_eq!(platform.reminder(&me, id).await?["subject"], "Mine");
    let anonymous = platform
        .send(
            Method::GET,
            &format!("{}/api/v1/notifications", platform.notifications.address),
            None,
            None,
        )
        .await?;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    platform.cleanup().await
}

#[tokio::test]
async fn listing_filters_by_status_and_event_and_pages() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let first = platform
        .event("First", Utc::now() + Duration::days(1))
        .await?;
    let second = platform
        .event("Second", Utc::now() + Duration::days(2))
        .await?;
    let mut ids = Vec::new();
    for (event, minutes) in [(&first, 10), (&first, 20), (&second, 30)] {
        let reminder = platform
            .create_reminder(
                &me,
                &json!({ "event_id": event, "remind_before_minutes": minutes }),
            )
            .await?;
        ids.push(reminder["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        platform
            .reminders(Method::DELETE, &format!("/{}", ids[0]), &me, None)
            .await?
            .status(),
        StatusCode::NO_CONTENT
    );

    let page: Value = platform
        .reminders(Method::GET, "?limit=2", &me, None)
        .await?
        .json()
        .await?;
    let listed: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str()], "newest first");
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: Value = platform
        .reminders(Method::GET, &format!("?limit=2&cursor={cursor}"), &me, None)
        .await?
        .json()
        .await?;
    assert_eq!(rest["items"][0]["id"], ids[0].as_str());
    assert!(rest["next_cursor"].is_null());

    let of_first: Value = platform
        .reminders(
            Method::GET,
            &format!("?event_id={first}&status=scheduled"),
            &me,
            None,
        )
        .await?
        .json()
        .await?;
    assert_eq!(of_first["items"].as_array().unwrap().len(), 1);
    assert_eq!(of_first["items"][0]["id"], ids[1].as_str());
    let cancelled: Value = platform
        .reminders(Method::GET, "?status=cancelled", &me, None)
        .await?
        .json()
        .await?;
    assert_eq!(cancelled["items"][0]["id"], ids[0].as_str());

    let bad = platform
        .reminders(Method::GET, "?status=lost&limit=500", &me, None)
        .await?;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad = platform
        .reminders(Method::GET, "?cursor=nope&event_id=42", &me, None)
        .await?;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(fields(&bad.json().await?), ["event_id", "cursor"]);
    platform.cleanup().await
}

#[tokio::test]
async fn bad_reminders_are_refused_naming_the_field() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let soon = platform
        .event("Soon", Utc::now() + Duration::minutes(30))
        .await?;
    let past = (Utc::now() - Duration::minutes(1)).to_rfc3339();
    let later = (Utc::now() + Duration::minutes(10)).to_rfc3339();
    let cases = [
        (
            json!({ "event_id": soon, "send_at": past }),
            vec!["send_at"],
        ),
        (
            json!({ "event_id": soon, "send_at": later, "remind_before_minutes": 5 }),
            vec!["send_at"],
        ),
        (json!({ "event_id": soon }), vec!["send_at"]),
        (
            json!({ "event_id": soon, "remind_before_minutes": 60 }),
            vec!["remind_before_minutes"],
        ),
        (
            json!({ "event_id": soon, "remind_before_minutes": -1 }),
            vec!["remind_before_minutes"],
        ),
        (
            json!({ "event_id": "65f1c0ffee0000000000abcd", "send_at": later }),
            vec!["event_id"],
        ),
        (
            json!({ "event_id": "nope", "send_at": later }),
            vec!["event_id"],
        ),
        (
            json!({ "event_id": soon, "send_at": later, "to_email": "stranger@example.com" }),
            vec!["to_email"],
        ),
        (
            json!({ "event_id": soon, "send_at": later, "to_email": "not-an-address" }),
            vec!["to_email"],
        ),
        (
            json!({ "event_id": soon, "send_at": later, "subject": "two\nlines" }),
            vec!["subject"],
        ),
    ];
    platform.assert_creation_refused(&me, &cases).await?;
    let wrong_type = platform
        .reminders(
            Method::POST,
            "",
            &me,
            Some(&json!({ "event_id": soon, "remind_before_minutes": "an hour" })),
        )
        .await?;
    assert_eq!(wrong_type.status(), StatusCode::BAD_REQUEST);
    assert_eq!(fields(&wrong_type.json().await?), ["remind_before_minutes"]);
    let listed: Value = platform
        .reminders(Method::GET, "", &me, None)
        .await?
        .json()
        .await?;
    assert_eq!(listed["items"], json!([]), "nothing was stored");
    platform.cleanup().await
}

#[tokio::test]
async fn an_unverified_address_cannot_receive_reminders() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let email = format!("{}@example.com", common::testing::unique_name("unverified"));
    let body = json!({ "email": email, "password": crate::helpers::PASSWORD });
    let users = format!("{}/api/v1/users", platform.users.address);
    platform
        .send(Method::POST, &users, None, Some(&body))
        .await?;
    let token = platform.token(&email).await?;
    let event = platform
        .event("Unverified", Utc::now() + Duration::days(1))
        .await?;
    let send_at = (Utc::now() + Duration::hours(1)).to_rfc3339();
    for body in [
        json!({ "event_id": event, "send_at": send_at }),
        json!({ "event_id": event, "send_at": send_at, "to_email": email }),
    ] {
        let refused = platform
            .reminders(Method::POST, "", &token, Some(&body))
            .await?;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem: Value = refused.json().await?;
        assert_eq!(fields(&problem), ["to_email"]);
    }
    platform.cleanup().await
}

#[tokio::test]
async fn removing_a_secondary_address_moves_its_reminders_to_the_primary() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let primary = format!("{}@example.com", common::testing::unique_name("primary"));
    let secondary = format!("{}@example.com", common::testing::unique_name("secondary"));
    let me = platform.user_with_email(&primary).await?;
    platform
        .add_verified_address(&me, &primary, &secondary)
        .await?;
    let event = platform
        .event("Readdressed", Utc::now() + Duration::days(1))
        .await?;
    let send_at = (Utc::now() + Duration::hours(1)).to_rfc3339();
    let body = json!({ "event_id": event, "send_at": send_at, "to_email": secondary });
    let created = platform.create_reminder(&me, &body).await?;
    assert_eq!(created["to_email"], secondary.as_str());
    let id = created["id"].as_str().unwrap_or_default();

    let removal = format!(
        "{}/api/v1/users/me/emails/{secondary}",
        platform.users.address
    );
    let removed = platform
        .send(Method::DELETE, &removal, Some(&me), None)
        .await?;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);

    let moved = common::testing::eventually(
        std::time::Duration::from_secs(10),
        "the reminder readdressed",
        || async {
            let reminder = platform.reminder(&me, id).await?;
            Ok((reminder["to_email"] == primary.as_str()).then_some(reminder))
        },
    )
    .await?;
    assert_eq!(moved["status"], "scheduled", "{moved}");
    platform.cleanup().await
}

#[tokio::test]
async fn a_scheduled_reminder_can_be_changed_snoozed_and_cancelled_and_then_not_changed()
-> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let starts_at = Utc::now() + Duration::days(1);
    let event = platform.event("Editable", starts_at).await?;
    let reminder = platform
        .create_reminder(
            &me,
            &json!({ "event_id": event, "remind_before_minutes": 60 }),
        )
        .await?;
    let id = reminder["id"].as_str().unwrap();

    let absolute = (Utc::now() + Duration::hours(3)).to_rfc3339();
    let patched: Value = platform
        .reminders(Method::PATCH, &format!("/{id}"), &me, Some(&json!({ "send_at": absolute, "subject": "Leave early", "content": "Bring a coat." })))
        .await?
        .json()
        .await?;
    assert_eq!(
        (patched["subject"].as_str(), patched["content"].as_str()),
        (Some("Leave early"), Some("Bring a coat."))
    );
    assert!(patched["remind_before_minutes"].is_null(), "now absolute");
    let patched_at = chrono::DateTime::parse_from_rfc3339(patched["send_at"].as_str().unwrap())?;

    let snoozed: Value = platform
        .reminders(
            Method::POST,
            &format!("/{id}/snooze"),
            &me,
            Some(&json!({ "minutes": 15 })),
        )
        .await?
        .json()
        .await?;
    let snoozed_at = chrono::DateTime::parse_from_rfc3339(snoozed["send_at"].as_str().unwrap())?;
    assert_eq!(snoozed_at - patched_at, Duration::minutes(15));
    for minutes in [0, 43_201] {
        let refused = platform
            .reminders(
                Method::POST,
                &format!("/{id}/snooze"),
                &me,
                Some(&json!({ "minutes": minutes })),
            )
            .await?;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&refused.json().await?), ["minutes"]);
    }

    assert_eq!(
        platform
            .reminders(Method::DELETE, &format!("/{id}"), &me, None)
            .await?
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        platform
            .reminders(Method::DELETE, &format!("/{id}"), &me, None)
            .await?
            .status(),
        StatusCode::NO_CONTENT
    );
    let late = platform
        .reminders(
            Method::PATCH,
            &format!("/{id}"),
            &me,
            Some(&json!({ "subject": "Too late" })),
        )
        .await?;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    let problem: Value = late.json().await?;
    assert!(problem["detail"].as_str().unwrap().contains("cancelled"));
    assert_eq!(platform.reminder(&me, id).await?["subject"], "Leave early");
    platform.cleanup().await
}
