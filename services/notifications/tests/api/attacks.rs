//! Attacks on the platform's services, each refused with the right status and leaving the data
//! as it was (read back): tokens changed or unsigned, operator objects where strings go, line
//! breaks headed for mail headers, JSON nested past reason, a deleted account's tokens.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{Duration, Utc};
use common::testing;
use notifications::config::Role;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Platform, fields, spawn_platform};

async fn problem(response: Response, status: StatusCode) -> anyhow::Result<Value> {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    Ok(response.json().await?)
}

/// A protected read of each service.
fn protected_reads(platform: &Platform) -> [String; 3] {
    [
        format!("{}/api/v1/users/me", platform.users.address),
        format!("{}/api/v1/events/saved", platform.events.address),
        format!("{}/api/v1/notifications", platform.notifications.address),
    ]
}

fn claims_of(token: &str) -> anyhow::Result<Value> {
    let payload = token.split('.').nth(1).unwrap_or_default();
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?)
}

#[tokio::test]
async fn a_token_changed_or_unsigned_is_refused_by_every_service() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let (me, victim) = (platform.user().await?, platform.user().await?);
    let mut as_victim = claims_of(&me)?;
    as_victim["sub"] = claims_of(&victim)?["sub"].clone();
    as_victim["roles"] = json!(["user", "admin"]);
    let changed = URL_SAFE_NO_PAD.encode(as_victim.to_string());
    let [header, _, signature] = <[&str; 3]>::try_from(me.split('.').collect::<Vec<_>>())
        .map_err(|parts| anyhow::anyhow!("not a JWT: {parts:?}"))?;
    let unsigned = URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "JWT" }).to_string());
    let forged = [
        ("payload changed", format!("{header}.{changed}.{signature}")),
        ("alg none", format!("{unsigned}.{changed}.")),
        ("signature dropped", format!("{header}.{changed}.")),
    ];

    for url in protected_reads(&platform) {
        let genuine = platform.send(Method::GET, &url, Some(&me), None).await?;
        assert_eq!(genuine.status(), StatusCode::OK, "{url}");
        for (what, token) in &forged {
            let refused = platform.send(Method::GET, &url, Some(token), None).await?;
            assert_eq!(
                refused.headers()["www-authenticate"],
                "Bearer",
                "{what}: {url}"
            );
            problem(refused, StatusCode::UNAUTHORIZED).await?;
        }
    }
    platform.cleanup().await
}

#[tokio::test]
async fn operator_objects_and_odd_ids_are_refused_and_read_or_change_nothing() -> anyhow::Result<()>
{
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let event = platform
        .event("Untouched", Utc::now() + Duration::days(2))
        .await?;
    let send_at = (Utc::now() + Duration::hours(3)).to_rfc3339();
    let mine = platform
        .create_reminder(&me, &json!({ "event_id": event, "send_at": send_at }))
        .await?;
    let id = mine["id"].as_str().unwrap_or_default();
    let operator = json!({ "$gt": "" });

    let login = platform
        .send(
            Method::POST,
            &format!("{}/api/v1/auth/token", platform.users.address),
            None,
            Some(&json!({ "email": operator, "password": operator })),
        )
        .await?;
    let refused = problem(login, StatusCode::BAD_REQUEST).await?;
    assert_eq!(fields(&refused), ["email"], "{refused}");

    let body = json!({ "event_id": operator, "send_at": send_at });
    let create = platform
        .reminders(Method::POST, "", &me, Some(&body))
        .await?;
    let refused = problem(create, StatusCode::BAD_REQUEST).await?;
    assert_eq!(fields(&refused), ["event_id"], "{refused}");

    let patch = json!({ "subject": { "$set": "Changed" } });
    let change = platform
        .reminders(Method::PATCH, &format!("/{id}"), &me, Some(&patch))
        .await?;
    let refused = problem(change, StatusCode::BAD_REQUEST).await?;
    assert_eq!(fields(&refused), ["subject"], "{refused}");

    let listed = platform
        .reminders(Method::GET, "?event_id=%7B%22%24ne%22%3Anull%7D", &me, None)
        .await?;
    let refused = problem(listed, StatusCode::BAD_REQUEST).await?;
    assert_eq!(fields(&refused), ["event_id"], "{refused}");

    for odd in ["%7B%22%24ne%22%3Anull%7D", "..%2F..%2Fusers", "%24where"] {
        let read = platform
            .reminders(Method::GET, &format!("/{odd}"), &me, None)
            .await?;
        problem(read, StatusCode::NOT_FOUND).await?;
    }

    let searched = platform
        .send(
            Method::GET,
            &format!(
                "{}/api/v1/events?topic=%7B%22%24ne%22%3A%22%22%7D",
                platform.events.address
            ),
            None,
            None,
        )
        .await?;
    let refused = problem(searched, StatusCode::BAD_REQUEST).await?;
    assert_eq!(fields(&refused), ["topic"], "{refused}");

    assert_eq!(platform.reminder(&me, id).await?, mine);
    platform.cleanup().await
}

#[tokio::test]
async fn line_breaks_headed_for_a_mail_header_are_refused() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let event = platform
        .event("Plain", Utc::now() + Duration::days(2))
        .await?;
    let injected = "Hello\r\nBcc: everyone@example.com";

    let register = platform
        .send(
            Method::POST,
            &format!("{}/api/v1/users", platform.users.address),
            None,
            Some(&json!({
                "email": "crlf@example.com",
                "password": crate::helpers::PASSWORD,
                "display_name": injected,
            })),
        )
        .await?;
    let refused = problem(register, StatusCode::UNPROCESSABLE_ENTITY).await?;
    assert_eq!(fields(&refused), ["display_name"], "{refused}");

    let send_at = (Utc::now() + Duration::hours(3)).to_rfc3339();
    let body = json!({ "event_id": event, "send_at": send_at, "subject": injected });
    let create = platform
        .reminders(Method::POST, "", &me, Some(&body))
        .await?;
    let refused = problem(create, StatusCode::UNPROCESSABLE_ENTITY).await?;
    assert_eq!(fields(&refused), ["subject"], "{refused}");

    // An event's title becomes the subject of the reminders of it.
    let titled = json!({
        "title": injected,
        "starts_at": (Utc::now() + Duration::days(2)).to_rfc3339(),
        "timezone": "Europe/Madrid",
        "place": { "name": "Granada" },
        "organizer": injected,
    });
    let create_event = platform
        .send(
            Method::POST,
            &format!("{}/api/v1/events", platform.events.address),
            Some(&platform.admin),
            Some(&titled),
        )
        .await?;
    let refused = problem(create_event, StatusCode::UNPROCESSABLE_ENTITY).await?;
    assert_eq!(fields(&refused), ["title", "organizer"], "{refused}");

    assert!(platform.reminder_ids(&me, "").await?.is_empty());
    let login = platform
        .send(
            Method::POST,
            &format!("{}/api/v1/auth/token", platform.users.address),
            None,
            Some(&json!({ "email": "crlf@example.com", "password": crate::helpers::PASSWORD })),
        )
        .await?;
    problem(login, StatusCode::UNAUTHORIZED).await?;
    platform.cleanup().await
}

#[tokio::test]
async fn json_nested_past_reason_is_a_400() -> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let me = platform.user().await?;
    let depth = 10_000;
    let nested = format!(
        "{{\"event_id\": {}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let url = format!("{}/api/v1/notifications", platform.notifications.address);
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(&me)
        .header("content-type", "application/json")
        .body(nested)
        .send()
        .await?;
    problem(response, StatusCode::BAD_REQUEST).await?;
    assert!(platform.reminder_ids(&me, "").await?.is_empty());
    platform.cleanup().await
}

#[tokio::test]
async fn a_deleted_accounts_token_is_refused_by_every_service_within_five_seconds()
-> anyhow::Result<()> {
    let platform = spawn_platform().await?;
    let (doomed, bystander) = (platform.user().await?, platform.user().await?);
    let me = format!("{}/api/v1/users/me", platform.users.address);
    let password = json!({ "password": PASSWORD });

    let deleted = platform
        .send(Method::DELETE, &me, Some(&doomed), Some(&password))
        .await?;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let reads = protected_reads(&platform);
    testing::eventually(
        std::time::Duration::from_secs(5),
        "every service to refuse the deleted account's token",
        || async {
            for url in &reads {
                let read = platform.send(Method::GET, url, Some(&doomed), None).await?;
                if read.status() != StatusCode::UNAUTHORIZED {
                    return Ok(None);
                }
                let problem: Value = read.json().await?;
                assert!(
                    problem["detail"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("deleted"),
                    "{url}: {problem}"
                );
            }
            Ok(Some(()))
        },
    )
    .await?;
    for url in &reads {
        let read = platform
            .send(Method::GET, url, Some(&bystander), None)
            .await?;
        assert_eq!(read.status(), StatusCode::OK, "{url}");
    }

    // An instance started after the deletion knows it from the service's own record.
    let tombstones = platform
        .notifications
        .db
        .collection::<Value>("deleted_accounts");
    testing::eventually(
        std::time::Duration::from_secs(5),
        "the deletion to be recorded",
        || async {
            Ok((tombstones.count_documents(mongodb::bson::doc! {}).await? == 1).then_some(()))
        },
    )
    .await?;
    let later = platform.start_process(Role::Api).await?;
    let url = format!("{}/api/v1/notifications", later.address);
    let refused = platform
        .send(Method::GET, &url, Some(&doomed), None)
        .await?;
    problem(refused, StatusCode::UNAUTHORIZED).await?;
    let served = platform
        .send(Method::GET, &url, Some(&bystander), None)
        .await?;
    assert_eq!(served.status(), StatusCode::OK);
    later.stop().await?;
    platform.cleanup().await
}
