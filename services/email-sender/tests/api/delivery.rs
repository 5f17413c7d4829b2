use std::time::Duration;

use common::testing::{self, Mailpit};
use email_sender::deliveries::Claim;

use crate::helpers::{spawn_app, spawn_with, unique_address, welcome};

#[tokio::test]
async fn a_requested_mail_arrives_with_both_parts_and_a_stable_message_id() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let to = unique_address("ada");
    let message_id = uuid::Uuid::new_v4().to_string();

    app.request(&message_id, &welcome(&to, Some("Ada"))).await?;

    let mailpit = Mailpit::local();
    let received = mailpit.wait_for(&to, 1).await?;
    let mail = mailpit.message(&received[0].id).await?;
    assert_eq!(mail.subject, "Welcome to eventpost");
    assert_eq!(mail.message_id, format!("{message_id}@eventpost"));
    assert_eq!(mail.from.address, "noreply@eventpost.local");
    assert!(mail.text.starts_with("Hello Ada,"), "{}", mail.text);
    assert!(
        mail.html.contains("<strong>eventpost</strong>"),
        "{}",
        mail.html
    );
    app.cleanup().await
}

#[tokio::test]
async fn a_message_delivered_twice_is_mailed_once() -> anyhow::Result<()> {
    // One delivery at a time, so the marker below is handled after both copies.
    let app = spawn_with(|config| config.amqp.prefetch = 1).await?;
    let to = unique_address("once");
    let marker = unique_address("marker");
    let message_id = uuid::Uuid::new_v4().to_string();

    app.request(&message_id, &welcome(&to, None)).await?;
    app.request(&message_id, &welcome(&to, None)).await?;
    app.request(&uuid::Uuid::new_v4().to_string(), &welcome(&marker, None))
        .await?;

    let mailpit = Mailpit::local();
    mailpit.wait_for(&marker, 1).await?;
    assert_eq!(mailpit.messages_to(&to).await?.len(), 1);
    app.cleanup().await
}

#[tokio::test]
async fn two_workers_given_the_same_message_at_once_mail_it_once() -> anyhow::Result<()> {
    // One delivery at a time each, so the two copies go one to each worker at the same moment.
    let first = spawn_with(|config| config.amqp.prefetch = 1).await?;
    let second = first.another().await?;
    let to = unique_address("at-once");
    let message_id = uuid::Uuid::new_v4().to_string();

    first.request(&message_id, &welcome(&to, None)).await?;
    first.request(&message_id, &welcome(&to, None)).await?;

    let workers = [&first, &second];
    testing::eventually(Duration::from_secs(15), "both copies handled", || async {
        let mut duplicates = 0;
        for worker in workers {
            duplicates += worker.handled("duplicate").await?;
        }
        Ok((duplicates == 1).then_some(()))
    })
    .await?;
    let mut mailed = 0;
    for worker in workers {
        mailed += worker.handled("mailed").await?;
    }
    assert_eq!(mailed, 1, "one worker mailed it, the other saw it mailed");
    assert_eq!(Mailpit::local().messages_to(&to).await?.len(), 1);
    second.stop().await?;
    first.cleanup().await
}

#[tokio::test]
async fn a_claim_is_won_once_taken_over_after_its_lease_and_remembered_until_pruned()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    let deliveries = email_sender::deliveries::Deliveries::open(
        &app.db,
        common::config::MongoConfig::local("-").deadline(),
    )
    .await?;
    let message_id = uuid::Uuid::new_v4().to_string();
    let now = chrono::Utc::now();
    let lease = chrono::Duration::minutes(2);

    assert_eq!(deliveries.claim(&message_id, now, lease).await?, Claim::Won);
    assert_eq!(
        deliveries.claim(&message_id, now, lease).await?,
        Claim::Busy
    );
    let later = now + lease + chrono::Duration::seconds(1);
    assert_eq!(
        deliveries.claim(&message_id, later, lease).await?,
        Claim::Won,
        "the first worker died mid-send"
    );
    deliveries.release(&message_id).await?;
    assert_eq!(
        deliveries.claim(&message_id, later, lease).await?,
        Claim::Won
    );
    deliveries.mark_sent(&message_id).await?;
    let much_later = later + lease * 10;
    assert_eq!(
        deliveries.claim(&message_id, much_later, lease).await?,
        Claim::Sent,
        "a mailed message stays mailed"
    );

    assert_eq!(
        deliveries.prune(now - chrono::Duration::minutes(1)).await?,
        0
    );
    assert!(deliveries.was_sent(&message_id).await?);
    assert_eq!(
        deliveries
            .prune(chrono::Utc::now() + chrono::Duration::minutes(1))
            .await?,
        1
    );
    assert!(!deliveries.was_sent(&message_id).await?);
    app.cleanup().await
}

#[tokio::test]
async fn mail_the_smtp_server_never_takes_is_retried_then_parked() -> anyhow::Result<()> {
    // Nothing listens on port 1: every attempt is refused, as when the server is down.
    let app = spawn_with(|config| config.smtp.port = 1).await?;
    let to = unique_address("unlucky");

    app.request(&uuid::Uuid::new_v4().to_string(), &welcome(&to, None))
        .await?;

    let parked = app.next_parked().await?;
    assert_eq!(parked.to.as_str(), to);
    assert!(Mailpit::local().messages_to(&to).await?.is_empty());
    app.cleanup().await
}

#[tokio::test]
async fn parked_mail_is_listed_and_sent_once_replayed_after_the_cause_is_fixed()
-> anyhow::Result<()> {
    let to = unique_address("replayed");
    let message_id = uuid::Uuid::new_v4().to_string();
    // The SMTP server is unreachable: the mail ends parked.
    let broken = spawn_with(|config| config.smtp.port = 1).await?;
    let (prefix, db) = (broken.prefix.clone(), broken.db.clone());
    broken.request(&message_id, &welcome(&to, None)).await?;
    common::testing::eventually(
        std::time::Duration::from_secs(15),
        "the mail to be parked",
        || async {
            let parked =
                email_sender::dlq::list(&broken.amqp, &common::topology::Topology::new(&prefix))
                    .await?;
            Ok((parked.len() == 1).then_some(parked))
        },
    )
    .await
    .map(|parked| assert_eq!(parked[0].message_id.as_deref(), Some(message_id.as_str())))?;
    broken.stop().await?;

    // Fixed: the same queues and database, a reachable server.
    let fixed = spawn_with(|config| {
        config.amqp.prefix = prefix.clone();
        config.mongo.database = db.name().to_owned();
    })
    .await?;
    let replayed =
        email_sender::dlq::replay(&fixed.amqp, &common::topology::Topology::new(&prefix)).await?;

    assert_eq!(replayed, 1);
    let mailpit = Mailpit::local();
    let received = mailpit.wait_for(&to, 1).await?;
    assert_eq!(received[0].message_id, format!("{message_id}@eventpost"));
    assert!(
        email_sender::dlq::list(&fixed.amqp, &common::topology::Topology::new(&prefix))
            .await?
            .is_empty()
    );
    fixed.cleanup().await
}

#[tokio::test]
async fn a_reminder_arrives_with_the_event_attached_as_ics() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let to = unique_address("reminded");
    let request = common::messages::EmailRequestedV1 {
        to: common::domain::EmailAddress::parse(&to)?,
        content: common::messages::EmailContent::Reminder {
            links: None,
            reminder_id: "65f1c0ffee0000000000aaaa".parse()?,
            subject: "Jazz night starts in an hour".into(),
            content: "Time to leave.".into(),
            event: common::messages::EventSummary {
                id: "65f1c0ffee0000000000bbbb".parse()?,
                title: "Jazz night".into(),
                starts_at: "2026-12-01T18:00:00Z".parse()?,
                ends_at: None,
                timezone: "Europe/Madrid".parse()?,
                place: "Café Central, Madrid".into(),
                version: 1,
            },
        },
        requested_at: chrono::Utc::now(),
    };

    app.request(&uuid::Uuid::new_v4().to_string(), &request)
        .await?;

    let mailpit = Mailpit::local();
    let received = mailpit.wait_for(&to, 1).await?;
    let mail = mailpit.message(&received[0].id).await?;
    assert_eq!(mail.subject, "Jazz night starts in an hour");
    assert!(mail.text.contains("19:00 (Europe/Madrid)"), "{}", mail.text);
    assert!(!mail.html.is_empty());
    assert_eq!(mail.attachments.len(), 1);
    assert_eq!(mail.attachments[0].file_name, "event.ics");
    assert!(
        mail.attachments[0]
            .content_type
            .starts_with("text/calendar"),
        "{:?}",
        mail.attachments
    );
    let ics = mailpit
        .attachment(&received[0].id, &mail.attachments[0].part_id)
        .await?;
    assert!(
        ics.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Madrid\r\n"),
        "{ics}"
    );
    assert!(
        ics.contains("DTSTART;TZID=Europe/Madrid:20261201T190000"),
        "{ics}"
    );
    app.cleanup().await
}
