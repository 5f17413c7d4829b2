//! The links in a reminder mail: each opens a page that only asks, and its button snoozes the
//! reminder (an hour from the click, or tomorrow at 09:00 on the owner's clock) or cancels it.

use chrono::{DateTime, Days, Duration, TimeZone, Utc};
use common::testing::{self, Mailpit};
use reqwest::{Method, StatusCode};

use crate::helpers::{Options, Platform, reminders_to};

const ACTIONS: &str = "/api/v1/notifications/actions/";

#[tokio::test]
async fn a_reminder_mail_snoozes_and_cancels_from_its_links_with_one_click_each()
-> anyhow::Result<()> {
    let platform = Platform::start(Options {
        role: notifications::config::Role::All,
        email_sender: true,
        ..Options::default()
    })
    .await?;
    let me = platform.user().await?;
    platform.set_timezone(&me, "Asia/Tokyo").await?;
    let to = platform.email_of(&me).await?;
    let event = platform
        .event("Sunrise hike", Utc::now() + Duration::days(3))
        .await?;
    let send_at = Utc::now() + Duration::seconds(2);
    let id = &platform.remind(&me, &event, send_at).await?;

    let mailpit = Mailpit::local();
    let mailed = reminders_to(&mailpit, &to, 1).await?;
    let mail = mailpit.message(&mailed[0].id).await?;
    let links = action_links(&mail.text);
    assert_eq!(links.len(), 2, "an hour, and tomorrow: {}", mail.text);
    let html = readable(mail.html);
    for link in &links {
        assert!(
            html.contains(&format!("{ACTIONS}{link}")),
            "both parts carry {link}: {html}"
        );
    }
    let (in_an_hour, tomorrow) = (&links[0], &links[1]);
    platform.wait_for_status(&me, id, "sent").await?;

    // Opening a link changes nothing; the page names the owner's zone once it is known here.
    let page = testing::eventually(
        std::time::Duration::from_secs(10),
        "the owner's zone on the page",
        || async {
            let page = platform
                .send(Method::GET, &action(&platform, tomorrow), None, None)
                .await?;
            assert_eq!(page.status(), StatusCode::OK);
            let policy = page.headers()["content-security-policy"]
                .to_str()?
                .to_owned();
            assert!(policy.contains("default-src 'none'"), "{policy}");
            let body = readable(page.text().await?);
            Ok(body.contains("Asia/Tokyo").then_some(body))
        },
    )
    .await?;
    assert!(page.contains("Remind me again tomorrow?"), "{page}");
    assert!(page.contains("Sunrise hike"), "{page}");
    assert!(page.contains(r#"<form method="post">"#), "{page}");
    assert_eq!(platform.reminder(&me, id).await?["status"], "sent");

    // Its button: tomorrow at 09:00 in Tokyo, from the day of the click.
    let before = Utc::now();
    let done = platform
        .send(Method::POST, &action(&platform, tomorrow), None, None)
        .await?;
    assert_eq!(done.status(), StatusCode::OK);
    let done = readable(done.text().await?);
    assert!(done.contains("Reminder snoozed"), "{done}");
    let snoozed = platform.reminder(&me, id).await?;
    assert_eq!(snoozed["status"], "scheduled");
    let at = parse(&snoozed["send_at"])?;
    assert!(
        [before, Utc::now()]
            .map(nine_tomorrow_in_tokyo)
            .contains(&Some(at)),
        "09:00 tomorrow in Tokyo, not {at}"
    );
    assert!(done.contains("at 09:00 (Asia/Tokyo)"), "{done}");

    // The other link works on a snoozed reminder too: an hour from the click.
    let before = Utc::now();
    let done = platform
        .send(Method::POST, &action(&platform, in_an_hour), None, None)
        .await?;
    assert_eq!(done.status(), StatusCode::OK);
    let done = done.text().await?;
    let at = parse(&platform.reminder(&me, id).await?["send_at"])?;
    assert!(at >= before + Duration::hours(1) && at <= Utc::now() + Duration::hours(1));

    // The page that confirms a snooze offers to cancel instead, on this origin.
    let cancel = done
        .split(r#"action=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a cancel form");
    let cancelled = platform
        .send(Method::POST, &action(&platform, cancel), None, None)
        .await?;
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert!(cancelled.text().await?.contains("Reminder cancelled"));
    assert_eq!(platform.reminder(&me, id).await?["status"], "cancelled");
    let again = platform
        .send(Method::GET, &action(&platform, cancel), None, None)
        .await?;
    let again = again.text().await?;
    assert!(again.contains("Nothing to cancel"), "{again}");
    assert!(
        !again.contains("<form"),
        "no button once cancelled: {again}"
    );

    // A snooze of a cancelled reminder is refused; a link changed by hand opens nothing.
    let refused = platform
        .send(Method::POST, &action(&platform, in_an_hour), None, None)
        .await?;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let refused = refused.text().await?;
    assert!(
        refused.contains("This reminder is cancelled, so it cannot be snoozed any more."),
        "a page a person reads: {refused}"
    );
    let forged = in_an_hour.replacen("snooze-hour", "cancel", 1);
    let forged = platform
        .send(Method::POST, &action(&platform, &forged), None, None)
        .await?;
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    let forged = forged.text().await?;
    assert!(forged.contains("This link does not work"), "{forged}");
    // Documented so: a page, or a problem from elsewhere.
    let document: serde_json::Value = platform
        .send(
            Method::GET,
            &format!("{}/openapi.json", platform.notifications.address),
            None,
            None,
        )
        .await?
        .json()
        .await?;
    for method in ["get", "post"] {
        for status in ["404", "409"] {
            let content = &document["paths"]["/api/v1/notifications/actions/{token}"][method]["responses"]
                [status]["content"];
            assert!(
                content.get("text/html; charset=utf-8").is_some()
                    && content.get("application/problem+json").is_some(),
                "{method} {status}: {content}"
            );
        }
    }
    assert_eq!(platform.reminder(&me, id).await?["status"], "cancelled");
    platform.cleanup().await
}

/// HTML as a browser shows it, as far as these pages need: they escape `/` in what they say.
fn readable(html: String) -> String {
    html.replace("&#x2f;", "/")
}

/// The action tokens in a mail's text, in order.
fn action_links(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter_map(|word| word.split_once(ACTIONS).map(|(_, token)| token.to_owned()))
        .collect()
}

fn action(platform: &Platform, token: &str) -> String {
    format!("{}{ACTIONS}{token}", platform.notifications.address)
}

fn parse(value: &serde_json::Value) -> anyhow::Result<DateTime<Utc>> {
    let raw = value
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("not a time: {value}"))?;
    Ok(raw.parse()?)
}

/// 09:00 in Tokyo on the day after `now`'s there (Tokyo keeps no summer time).
fn nine_tomorrow_in_tokyo(now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let tokyo = chrono_tz::Asia::Tokyo;
    let tomorrow = now.with_timezone(&tokyo).date_naive() + Days::new(1);
    let local = tokyo.from_local_datetime(&tomorrow.and_hms_opt(9, 0, 0)?);
    Some(local.single()?.with_timezone(&Utc))
}
