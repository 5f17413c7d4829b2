//! A reminder made through the API, mailed by the email-sender through Mailpit, recorded sent.

use chrono::{Duration, Utc};
use common::testing::{self, Mailpit, PrivateMailpit};
use serde_json::json;

use crate::helpers::{Options, Platform, reminders_to};

#[tokio::test]
async fn a_reminder_arrives_on_time_with_the_event_attached_and_ends_sent() -> anyhow::Result<()> {
    let platform = Platform::start(Options {
        role: notifications::config::Role::All,
        email_sender: true,
        ..Options::default()
    })
    .await?;
    let me = platform.user().await?;
    let to = platform.email_of(&me).await?;
    let event = platform
        .event("Jazz under the stars", Utc::now() + Duration::days(3))
        .await?;
    let send_at = Utc::now() + Duration::seconds(3);
    let reminder = platform
        .create_reminder(&me, &json!({ "event_id": event, "send_at": send_at.to_rfc3339(), "content": "Bring a blanket." }))
        .await?;
    let id = reminder["id"].as_str().unwrap();

    let mailpit = Mailpit::local();
    let received = reminders_to(&mailpit, &to, 1).await?;
    let arrived = Utc::now();
    assert!(arrived >= send_at, "not before its time");
    assert!(
        arrived - send_at < Duration::seconds(5),
        "within a few seconds: {}",
        arrived - send_at
    );
    let mail = mailpit.message(&received[0].id).await?;
    assert_eq!(mail.subject, "Reminder: Jazz under the stars");
    assert!(mail.text.contains("Bring a blanket."), "{}", mail.text);
    assert!(mail.html.contains("Bring a blanket."));
    assert_eq!(
        mail.message_id,
        format!("reminder-{id}-{}@eventpost", send_at.timestamp_millis())
    );
    assert_eq!(mail.attachments.len(), 1);
    assert!(mail.attachments[0].file_name.ends_with(".ics"));
    assert!(
        mail.attachments[0]
            .content_type
            .starts_with("text/calendar")
    );
    let ics = mailpit
        .attachment(&received[0].id, &mail.attachments[0].part_id)
        .await?;
    assert!(
        ics.contains(&format!("UID:event-{event}@eventpost\r\n")),
        "{ics}"
    );
    assert!(ics.contains("SEQUENCE:1\r\n"), "the event's version: {ics}");

    let sent = platform.wait_for_status(&me, id, "sent").await?;
    assert_eq!(sent["attempts"], 1);
    assert!(sent["sent_at"].is_string());
    assert_eq!(
        reminders_to(&mailpit, &to, 1).await?.len(),
        1,
        "exactly once"
    );

    // How late it reached the SMTP server, for the alert on the delivery promise.
    let metrics = reqwest::get(format!("{}/metrics", platform.notifications.address))
        .await?
        .text()
        .await?;
    let value = |name: &str| {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}{{service=\"notifications\"}} ")))
            .and_then(|value| value.parse::<f64>().ok())
    };
    assert_eq!(
        value("eventpost_reminder_smtp_lateness_seconds_count"),
        Some(1.0),
        "{metrics}"
    );
    let late = value("eventpost_reminder_smtp_lateness_seconds_sum").unwrap_or(f64::NAN);
    assert!((0.0..5.0).contains(&late), "{late} s late");
    platform.cleanup().await
}

#[tokio::test]
async fn a_reminder_the_smtp_server_refuses_ends_failed_and_is_sent_once_replayed()
-> anyhow::Result<()> {
    // This SMTP server accepts one recipient only: ours get a permanent 550.
    let strict =
        PrivateMailpit::start(&["--smtp-allowed-recipients", "^nobody@nowhere[.]example$"]).await?;
    let mut platform = Platform::start(Options {
        role: notifications::config::Role::All,
        email_sender: true,
        smtp: Some(strict.smtp_address()),
        ..Options::default()
    })
    .await?;
    let me = platform.user().await?;
    let to = platform.email_of(&me).await?;
    let event = platform
        .event("Refused", Utc::now() + Duration::days(1))
        .await?;
    let send_at = Utc::now() + Duration::seconds(2);
    let id = &platform.remind(&me, &event, send_at).await?;

    let failed = platform.wait_for_status(&me, id, "failed").await?;
    let error = failed["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("550") || error.to_lowercase().contains("recipient"),
        "{error}"
    );
    // The sender announces the failure before it rejects the delivery into the parking queue.
    let message_id = format!("reminder-{id}-{}", send_at.timestamp_millis());
    let topology = common::topology::Topology::new(&platform.prefix);
    testing::eventually(
        std::time::Duration::from_secs(20),
        "the refused reminder parked",
        || async {
            let parked = email_sender::dlq::list(&platform.amqp, &topology).await?;
            Ok(parked
                .iter()
                .any(|p| p.message_id.as_deref() == Some(message_id.as_str()))
                .then_some(()))
        },
    )
    .await?;

    // Fixed: the email-sender now sends to a server that takes the recipient.
    platform.start_email_sender(Mailpit::smtp_address()).await?;
    let replayed = email_sender::dlq::replay(&platform.amqp, &topology).await?;
    assert!(replayed >= 1);
    let mails = reminders_to(&Mailpit::local(), &to, 1).await?;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].message_id, format!("{message_id}@eventpost"));
    platform.wait_for_status(&me, id, "sent").await?;
    platform.cleanup().await
}

#[tokio::test]
async fn a_deleted_events_queued_reminder_is_not_mailed() -> anyhow::Result<()> {
    // No email-sender yet: both reminders wait, queued, in the email queue.
    let mut platform = Platform::start(Options {
        role: notifications::config::Role::All,
        ..Options::default()
    })
    .await?;
    let me = platform.user().await?;
    let to = platform.email_of(&me).await?;
    let send_at = (Utc::now() + Duration::seconds(3)).to_rfc3339();
    let mut reminders = Vec::new();
    for title in ["Called off", "Still on"] {
        let event = platform
            .event(title, Utc::now() + Duration::days(1))
            .await?;
        let body = json!({ "event_id": event, "send_at": send_at });
        let reminder = platform.create_reminder(&me, &body).await?;
        reminders.push((
            event,
            reminder["id"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    let [(called_off, cancelled), (_, kept)] = &reminders[..] else {
        unreachable!("two reminders were made")
    };
    platform.wait_for_status(&me, cancelled, "queued").await?;
    platform.wait_for_status(&me, kept, "queued").await?;

    platform.delete_event(called_off).await?;
    platform
        .wait_for_status(&me, cancelled, "cancelled")
        .await?;
    platform.start_email_sender(Mailpit::smtp_address()).await?;

    platform.wait_for_status(&me, kept, "sent").await?;
    let email_sender = platform.email_sender.as_ref().map(|e| e.address.clone());
    testing::eventually(
        std::time::Duration::from_secs(20),
        "the cancelled reminder's request handled",
        || async {
            let metrics =
                reqwest::get(format!("{}/metrics", email_sender.as_deref().unwrap_or("")))
                    .await?
                    .text()
                    .await?;
            Ok(metrics
                .lines()
                .any(|line| line.contains("outcome=\"cancelled\"") && line.ends_with(" 1"))
                .then_some(()))
        },
    )
    .await?;
    let mailed = reminders_to(&Mailpit::local(), &to, 1).await?;
    assert_eq!(mailed.len(), 1, "only the kept reminder: {mailed:?}");
    assert!(
        mailed[0]
            .message_id
            .starts_with(&format!("reminder-{kept}-"))
    );
    let cancelled = platform.reminder(&me, cancelled).await?;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert!(cancelled["sent_at"].is_null(), "{cancelled}");
    platform.cleanup().await
}
