//! Change notices, end to end: an event a user saved moves twice and they get one mail, with
//! the event attached at its latest version and a one-click unsubscribe that works; turned off,
//! a change is not mailed; turned on again, the event's deletion is mailed with a cancelling
//! `.ics`.

use std::time::Duration;

use chrono::Utc;
use common::testing::{self, MailSummary, Mailpit};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Options, Platform};

const SETTLE: Duration = Duration::from_secs(2);

#[tokio::test]
async fn a_follower_is_mailed_once_per_settled_change_can_unsubscribe_in_one_click_and_hears_of_a_cancellation()
-> anyhow::Result<()> {
    let platform = mailing_platform().await?;
    let me = platform.user().await?;
    let first = platform.email_of(&me).await?;
    let to = format!("{}@example.com", testing::unique_name("follower"));
    // The users service announces a verified primary address; this one becomes it.
    platform.add_verified_address(&me, &first, &to).await?;
    let primary = platform
        .send(
            Method::PUT,
            &format!("{}/api/v1/users/me/emails/primary", platform.users.address),
            Some(&me),
            Some(&json!({ "email": to })),
        )
        .await?;
    assert_eq!(primary.status(), StatusCode::OK);
    let starts_at = Utc::now() + chrono::Duration::days(5);
    let event = platform.event("Jazz in the park", starts_at).await?;
    platform.save_event(Method::PUT, &me, &event).await?;
    let db = platform.notifications.db.clone();
    testing::eventually(
        Duration::from_secs(20),
        "the save and the address heard",
        || {
            let db = db.clone();
            async move {
                let saves = db
                    .collection::<Value>("saves")
                    .count_documents(mongodb::bson::doc! {})
                    .await?;
                let addresses = db
                    .collection::<Value>("addresses")
                    .count_documents(mongodb::bson::doc! {})
                    .await?;
                Ok((saves == 1 && addresses == 1).then_some(()))
            }
        },
    )
    .await?;

    // Two moves within the settle time: one mail, of the second.
    platform
        .move_event(
            &event,
            "Jazz in the park",
            starts_at + chrono::Duration::hours(1),
        )
        .await?;
    platform
        .move_event(
            &event,
            "Jazz in the park",
            starts_at + chrono::Duration::hours(2),
        )
        .await?;
    let mailpit = Mailpit::local();
    let changed = notices_to(&mailpit, &to, 1).await?;
    let mail = mailpit.message(&changed[0].id).await?;
    assert_eq!(mail.subject, "Changed: Jazz in the park");
    let ics = mailpit
        .attachment(&changed[0].id, &mail.attachments[0].part_id)
        .await?;
    assert!(
        ics.contains(&format!("UID:event-{event}@eventpost\r\n")),
        "{ics}"
    );
    assert!(
        ics.contains("SEQUENCE:3\r\n"),
        "created, then moved twice: {ics}"
    );
    let headers = mailpit.headers(&changed[0].id).await?;
    assert_eq!(
        headers["List-Unsubscribe-Post"],
        ["List-Unsubscribe=One-Click"]
    );
    let unsubscribe = headers["List-Unsubscribe"][0]
        .trim_matches(|c| c == '<' || c == '>')
        .to_owned();
    assert!(mail.text.contains(&unsubscribe), "{}", mail.text);

    // A browser opening the link is asked first; nothing changes yet.
    let path = url::Url::parse(&unsubscribe)?.path().to_owned();
    let page = platform
        .client
        .get(format!("{}{path}", platform.notifications.address))
        .send()
        .await?;
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()["content-security-policy"]
        .to_str()?
        .to_owned();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(page.text().await?.contains(r#"<form method="post">"#));
    assert_eq!(mail_choices(&platform, &me).await?["change_notices"], true);
    // The mail client's one click: a form POST to the link, without a login.
    let clicked = platform
        .client
        .post(format!("{}{path}", platform.notifications.address))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await?;
    assert_eq!(clicked.status(), StatusCode::NO_CONTENT);
    let choices = mail_choices(&platform, &me).await?;
    assert_eq!(choices["change_notices"], false);
    let forged = platform
        .client
        .post(format!(
            "{}/api/v1/notifications/mail/unsubscribe/{}",
            platform.notifications.address,
            "A".repeat(43)
        ))
        .send()
        .await?;
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);

    // Off: the next move is decided and dropped, not mailed.
    platform
        .move_event(
            &event,
            "Jazz in the park",
            starts_at + chrono::Duration::hours(3),
        )
        .await?;
    for (what, waiting) in [("the move's notice recorded", 1), ("and settled", 0)] {
        testing::eventually(Duration::from_secs(20), what, || {
            let db = db.clone();
            async move {
                let notices = db.collection::<Value>("change_notices");
                let recorded = notices.count_documents(mongodb::bson::doc! {}).await?;
                Ok((recorded == waiting).then_some(()))
            }
        })
        .await?;
    }

    // On again: the deletion is mailed, cancelling the event in calendars.
    let on = platform
        .send(
            Method::PUT,
            &format!(
                "{}/api/v1/notifications/mail",
                platform.notifications.address
            ),
            Some(&me),
            Some(&json!({ "change_notices": true })),
        )
        .await?;
    assert_eq!(on.status(), StatusCode::OK);
    platform.delete_event(&event).await?;
    let all = notices_to(&mailpit, &to, 2).await?;
    let subjects: Vec<&str> = all.iter().map(|mail| mail.subject.as_str()).collect();
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.starts_with("Changed:"))
            .count(),
        1,
        "the move while off was not mailed: {subjects:?}"
    );
    let cancelled = all
        .iter()
        .find(|mail| mail.subject == "Cancelled: Jazz in the park")
        .expect("a cancellation");
    let mail = mailpit.message(&cancelled.id).await?;
    let ics = mailpit
        .attachment(&cancelled.id, &mail.attachments[0].part_id)
        .await?;
    assert!(ics.contains("METHOD:CANCEL\r\n"), "{ics}");
    assert!(ics.contains("STATUS:CANCELLED\r\n"), "{ics}");
    assert!(
        ics.contains(&format!("UID:event-{event}@eventpost\r\n")),
        "{ics}"
    );
    platform.cleanup().await
}

#[tokio::test]
async fn one_whose_primary_address_was_never_announced_is_told_where_their_reminder_goes()
-> anyhow::Result<()> {
    let platform = mailing_platform().await?;
    // Verified behind the users service's back, as accounts were before it announced them.
    let me = platform.user().await?;
    let to = platform.email_of(&me).await?;
    let starts_at = Utc::now() + chrono::Duration::days(2);
    let event = platform.event("Flamenco", starts_at).await?;
    platform
        .create_reminder(
            &me,
            &json!({ "event_id": event, "remind_before_minutes": 60 }),
        )
        .await?;

    platform
        .move_event(&event, "Flamenco", starts_at + chrono::Duration::days(1))
        .await?;

    let told = notices_to(&Mailpit::local(), &to, 1).await?;
    assert_eq!(told[0].subject, "Changed: Flamenco");
    platform.cleanup().await
}

/// The whole platform with the email-sender, changes settling in [`SETTLE`].
async fn mailing_platform() -> anyhow::Result<Platform> {
    Platform::start(Options {
        role: notifications::config::Role::All,
        email_sender: true,
        change_notice_settle: SETTLE,
        ..Options::default()
    })
    .await
}

async fn mail_choices(platform: &Platform, token: &str) -> anyhow::Result<Value> {
    let url = format!(
        "{}/api/v1/notifications/mail",
        platform.notifications.address
    );
    let choices = platform.send(Method::GET, &url, Some(token), None).await?;
    assert_eq!(choices.status(), StatusCode::OK);
    Ok(choices.json().await?)
}

/// Waits for `count` change notices to `to`.
async fn notices_to(mailpit: &Mailpit, to: &str, count: usize) -> anyhow::Result<Vec<MailSummary>> {
    testing::eventually(Duration::from_secs(30), "change notices", || async {
        let notices: Vec<MailSummary> = mailpit
            .messages_to(to)
            .await?
            .into_iter()
            .filter(|mail| mail.message_id.starts_with("change-"))
            .collect();
        Ok((notices.len() >= count).then_some(notices))
    })
    .await
}
