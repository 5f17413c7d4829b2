//! The SMTP server going away and the worker being killed: nothing lost, nothing mailed twice
//! beyond what was in flight.

use std::{collections::HashMap, process::Stdio, time::Duration};

use common::{
    amqp::Publisher,
    domain::EmailAddress,
    messages::{self, EmailContent, EmailRequestedV1, EventSummary},
    testing::{self, Mailpit, PrivateMailpit},
};
use lapin::options::QueueDeclareOptions;
use tokio::process::{Child, Command};

use crate::helpers::{spawn_with, unique_address};

fn reminder(to: &str, n: usize) -> anyhow::Result<EmailRequestedV1> {
    Ok(EmailRequestedV1 {
        to: EmailAddress::parse(to)?,
        content: EmailContent::Reminder {
            links: None,
            reminder_id: format!("65f1c0ffee00000000{n:06}").parse()?,
            subject: format!("Reminder {n}"),
            content: "It starts soon.".into(),
            event: EventSummary {
                id: "65f1c0ffee0000000000bbbb".parse()?,
                title: "Burst".into(),
                starts_at: "2026-12-01T18:00:00Z".parse()?,
                ends_at: None,
                timezone: "Europe/Madrid".parse()?,
                place: "Granada".into(),
                version: 1,
            },
        },
        requested_at: chrono::Utc::now(),
    })
}

/// How many times each Message-ID reached `mailpit`.
async fn received(mailpit: &Mailpit) -> anyhow::Result<HashMap<String, usize>> {
    let (_, mails) = mailpit.all(5000).await?;
    let mut counts = HashMap::new();
    for mail in mails {
        *counts.entry(mail.message_id).or_insert(0) += 1;
    }
    Ok(counts)
}

#[tokio::test]
async fn reminders_wait_while_the_smtp_server_is_down_and_go_out_once_when_it_is_back()
-> anyhow::Result<()> {
    let mut mailpit = PrivateMailpit::start(&[]).await?;
    let (host, port) = mailpit.smtp_address();
    let app = spawn_with(|config| {
        config.smtp.host = host;
        config.smtp.port = port;
        config.worker =
            email_sender::config::WorkerConfig::with_delays(vec![Duration::from_millis(300); 100]);
    })
    .await?;
    mailpit.stop().await?;
    let to = unique_address("patient");
    for n in 0..5 {
        app.request(&format!("outage-{n}"), &reminder(&to, n)?)
            .await?;
    }

    let ready = format!("{}/readyz", app.address);
    testing::eventually(
        Duration::from_secs(20),
        "readiness to report SMTP down",
        || async {
            let response = reqwest::get(&ready).await?;
            Ok((response.status() == 503 && response.text().await?.contains("smtp")).then_some(()))
        },
    )
    .await?;
    let channel = app.amqp.channel().await?;
    let retry_queue = format!("{}email-sender.retry.300ms", app.prefix);
    testing::eventually(
        Duration::from_secs(20),
        "mail waiting for a retry",
        || async {
            let queue = channel
                .queue_declare(
                    retry_queue.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    Default::default(),
                )
                .await?;
            Ok((queue.message_count() > 0).then_some(()))
        },
    )
    .await?;

    mailpit.resume().await?;
    let api = mailpit.api();
    let counts = testing::eventually(Duration::from_secs(30), "all five mails", || async {
        let counts = received(&api).await?;
        Ok((counts.len() == 5).then_some(counts))
    })
    .await?;
    assert!(
        counts.values().all(|n| *n == 1),
        "each exactly once: {counts:?}"
    );
    testing::eventually(Duration::from_secs(20), "readiness back", || async {
        Ok((reqwest::get(&ready).await?.status() == 200).then_some(()))
    })
    .await?;
    app.cleanup().await
}

/// The email-sender as its own process, so it can be killed for real.
fn spawn_worker(prefix: &str, database: &str, smtp_port: u16) -> anyhow::Result<Child> {
    let mongo = testing::mongo_config("unused");
    let amqp = testing::amqp_config("unused");
    Ok(Command::new(env!("CARGO_BIN_EXE_email-sender"))
        .env("EVENTPOST_EMAIL_SENDER__HTTP__PORT", "0")
        .env("EVENTPOST_EMAIL_SENDER__MONGO__URI", mongo.uri.expose())
        .env("EVENTPOST_EMAIL_SENDER__MONGO__DATABASE", database)
        .env("EVENTPOST_EMAIL_SENDER__AMQP__URI", amqp.uri.expose())
        .env("EVENTPOST_EMAIL_SENDER__AMQP__PREFIX", prefix)
        .env("EVENTPOST_EMAIL_SENDER__SMTP__PORT", smtp_port.to_string())
        // A killed worker's claims are taken over after twelve of these (the send lease).
        .env("EVENTPOST_EMAIL_SENDER__SMTP__TIMEOUT", "1s")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?)
}

#[tokio::test]
async fn a_worker_killed_mid_burst_loses_nothing_and_repeats_at_most_its_prefetch()
-> anyhow::Result<()> {
    const BURST: usize = 1000;
    let mailpit = PrivateMailpit::start(&["--max", "5000"]).await?;
    let (_, smtp_port) = mailpit.smtp_address();
    let api = mailpit.api();
    let amqp_config = testing::amqp_config("email_sender_kill");
    let prefix = amqp_config.prefix.clone();
    let database = testing::mongo_config("email_sender_kill").database;
    let broker = common::amqp::Broker::connect(&amqp_config, "test").await?;
    let channel = broker.channel().await?;
    let topology = common::topology::Topology::new(&prefix);
    topology.declare_email(&channel).await?;
    let exchange = topology.exchange(common::topology::Exchange::Email);
    let publisher = Publisher::new(&broker, &exchange, Duration::from_secs(5)).await?;
    let to = unique_address("burst");
    for n in 0..BURST {
        publisher
            .publish(
                messages::EMAIL_REQUESTED_V1,
                &format!("burst-{n}"),
                &reminder(&to, n)?,
            )
            .await?;
    }

    let mut worker = spawn_worker(&prefix, &database, smtp_port)?;
    testing::eventually(Duration::from_secs(60), "the burst under way", || async {
        Ok((api.all(1).await?.0 >= 100).then_some(()))
    })
    .await?;
    worker.kill().await?;
    let at_kill = api.all(1).await?.0;
    assert!(at_kill < BURST, "killed before the end ({at_kill} sent)");

    let _restarted = spawn_worker(&prefix, &database, smtp_port)?;
    let counts = testing::eventually(
        Duration::from_secs(120),
        "every mail of the burst",
        || async {
            let counts = received(&api).await?;
            Ok((counts.len() == BURST).then_some(counts))
        },
    )
    .await?;
    let total: usize = counts.values().sum();
    let prefetch = usize::from(common::config::AmqpConfig::default().prefetch);
    assert!(
        total - BURST <= prefetch,
        "{} duplicates, more than the prefetch of {prefetch}",
        total - BURST
    );
    drop(_restarted);
    let db = mongodb::Client::with_uri_str(testing::mongo_config("unused").uri.expose())
        .await?
        .database(&database);
    db.drop().await?;
    testing::RabbitAdmin::local()
        .delete_prefixed(&prefix)
        .await?;
    Ok(())
}
