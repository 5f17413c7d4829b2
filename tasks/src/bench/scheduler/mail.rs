//! Where the mail went and when: a tap on the email exchange (the moment the broker has each
//! request), the SMTP server's own record (Mailpit's arrival times), and the SMTP server's raw
//! rate through lettre with no queue or database in front.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use chrono::{DateTime, Utc};
use common::{
    messages::{self, EmailContent, EmailRequestedV1},
    testing::Mailpit,
    topology::{Exchange, Topology},
};
use futures::StreamExt;
use lapin::{
    Connection, ConnectionProperties,
    options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};

/// When the broker handed over each mail request, by message id.
#[derive(Clone, Default)]
pub struct Tap {
    pub seen: Arc<Mutex<HashMap<String, DateTime<Utc>>>>,
}

impl Tap {
    /// A queue of its own bound like the email-sender's, consumed into `seen`.
    pub async fn open(prefix: &str) -> anyhow::Result<(Self, Connection)> {
        let connection = Connection::connect(
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            ConnectionProperties::default(),
        )
        .await?;
        let channel = connection.create_channel().await?;
        let topology = Topology::new(prefix);
        topology.declare_email(&channel).await?;
        let queue = format!("{prefix}bench.email-tap");
        let exclusive = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(queue.as_str().into(), exclusive, FieldTable::default())
            .await?;
        channel
            .queue_bind(
                queue.as_str().into(),
                topology.exchange(Exchange::Email).as_str().into(),
                messages::EMAIL_REQUESTED_V1.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "bench-tap".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        let tap = Self::default();
        let seen = tap.seen.clone();
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                if let Some(id) = delivery.properties.message_id() {
                    let mut seen = seen
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    seen.entry(id.to_string()).or_insert_with(Utc::now);
                }
            }
        });
        Ok((tap, connection))
    }

    pub fn arrivals(&self) -> HashMap<String, DateTime<Utc>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Every message Mailpit holds: its request's message id (from the `Message-ID` header) and
/// when it arrived, one entry per copy.
pub async fn received(mailpit: &Mailpit) -> anyhow::Result<Vec<(String, DateTime<Utc>)>> {
    const PAGE: usize = 1_000;
    let mut all = Vec::new();
    let mut start = 0;
    loop {
        let (total, page) = mailpit.page(start, PAGE).await?;
        for mail in &page {
            let id = mail.message_id.trim_end_matches("@eventpost").to_owned();
            let at = DateTime::parse_from_rfc3339(&mail.created)?.to_utc();
            all.push((id, at));
        }
        start += page.len();
        if page.is_empty() || start >= total {
            return Ok(all);
        }
    }
}

/// How many messages Mailpit holds.
pub async fn count(mailpit: &Mailpit) -> anyhow::Result<usize> {
    Ok(mailpit.page(0, 1).await?.0)
}

/// Mails per second lettre hands to the SMTP server at `port` over `connections` pooled
/// connections, `count` reminder mails rendered as the email-sender renders them.
pub async fn raw_rate(port: u16, connections: u32, count: usize) -> anyhow::Result<f64> {
    let mut smtp = email_sender::config::Config::default().smtp;
    smtp.port = port;
    smtp.pool_size = connections;
    let mailer = email_sender::mailer::Mailer::new(&smtp)?;
    let now = Utc::now();
    let template = super::waiting::reminder("raw@bench.example.com", now, now)?;
    let request = EmailRequestedV1 {
        to: template.to_email.clone(),
        content: EmailContent::Reminder {
            reminder_id: template.id,
            subject: template.effective_subject(),
            content: template.effective_content(),
            event: template.event.clone(),
            links: None,
        },
        requested_at: now,
    };
    let rendered = email_sender::templates::Templates::new()?.render(&request)?;
    let started = Instant::now();
    let sent = futures::stream::iter(0..count)
        .map(|i| {
            let (mailer, rendered) = (mailer.clone(), &rendered);
            async move {
                mailer
                    .send(
                        &format!("raw{i}@bench.example.com"),
                        &format!("raw-{i}"),
                        rendered,
                    )
                    .await
                    .is_ok()
            }
        })
        .buffer_unordered(usize::try_from(connections).unwrap_or(1))
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    anyhow::ensure!(
        sent == count,
        "only {sent} of {count} raw mails were accepted"
    );
    Ok(count as f64 / started.elapsed().as_secs_f64())
}
