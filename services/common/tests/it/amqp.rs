use std::time::Duration;

use common::{
    amqp::{self, Broadcasts, Broker, Heard, Outcome, PublishError, Publisher, QueueSpec},
    request_id::RequestId,
    testing::{self, RabbitAdmin},
};
use lapin::{
    message::Delivery,
    options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions},
    types::{AMQPValue, ShortString},
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Long enough for a publish to wait out a dropped connection's replacement.
const PUBLISH_DEADLINE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Ping {
    n: u32,
}

/// A fresh exchange and work queue (dead-lettering into a parking queue) under a unique prefix.
struct Fixture {
    broker: Broker,
    name: String,
    exchange: String,
    work: String,
    parked: String,
    dead_letters: String,
}

impl Fixture {
    async fn new() -> anyhow::Result<Self> {
        testing::init();
        let cfg = testing::amqp_config("common");
        let broker = Broker::connect(&cfg, "fixture").await?;
        let name = format!("{}fixture", cfg.prefix);
        let channel = broker.channel().await?;
        let exchange = format!("{}events", cfg.prefix);
        let dead_letters = format!("{}dead", cfg.prefix);
        let work = format!("{}work", cfg.prefix);
        let parked = format!("{}parked", cfg.prefix);
        amqp::declare_exchange(&channel, &exchange).await?;
        amqp::declare_exchange(&channel, &dead_letters).await?;
        amqp::declare_queue(
            &channel,
            &QueueSpec {
                name: work.clone(),
                bindings: vec![(exchange.clone(), "ping.#".into())],
                dead_letter_exchange: Some(dead_letters.clone()),
                ..Default::default()
            },
        )
        .await?;
        amqp::declare_queue(
            &channel,
            &QueueSpec {
                name: parked.clone(),
                bindings: vec![(dead_letters.clone(), "#".into())],
                dead_letter_exchange: None,
                ..Default::default()
            },
        )
        .await?;
        Ok(Self {
            broker,
            name,
            exchange,
            work,
            parked,
            dead_letters,
        })
    }

    /// Consumes `queue` in the background, forwarding each delivery and acting per `decide`.
    fn consume(
        &self,
        queue: &str,
        decide: fn(&Delivery) -> Outcome,
    ) -> (mpsc::UnboundedReceiver<Delivery>, CancellationToken) {
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let (broker, queue, token) = (self.broker.clone(), queue.to_owned(), stop.clone());
        tokio::spawn(async move {
            let handler = move |delivery: Delivery| {
                let tx = tx.clone();
                async move {
                    let outcome = decide(&delivery);
                    let _receiver_gone = tx.send(delivery);
                    outcome
                }
            };
            amqp::consume(&broker, &queue, 10, token, handler).await
        });
        (rx, stop)
    }

    /// A queue declared through the broker, so that it is declared again on every connection.
    fn redeclared(&self) -> String {
        format!("{}redeclared", self.name)
    }

    async fn cleanup(self) -> anyhow::Result<()> {
        // A fresh channel: after a forced reconnection the fixture's own one may still be
        // being replaced when the test ends.
        let channel = testing::eventually(Duration::from_secs(10), "a usable channel", || async {
            Ok(self.broker.channel().await.ok())
        })
        .await?;
        for queue in [&self.work, &self.parked, &self.redeclared()] {
            channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await?;
        }
        for exchange in [&self.exchange, &self.dead_letters] {
            channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Delivery>) -> anyhow::Result<Delivery> {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await?
        .ok_or_else(|| anyhow::anyhow!("consumer stopped"))
}

fn message_id(delivery: &Delivery) -> Option<String> {
    delivery
        .properties
        .message_id()
        .as_ref()
        .map(ShortString::to_string)
}

#[tokio::test]
async fn confirmed_messages_are_consumed_in_full_with_their_ids() -> anyhow::Result<()> {
    let fixture = Fixture::new().await?;
    let publisher = Publisher::new(&fixture.broker, &fixture.exchange, PUBLISH_DEADLINE).await?;
    let request = RequestId::parse("req-123").expect("well-formed");
    request
        .clone()
        .scope(async {
            for n in 0..20 {
                publisher
                    .publish("ping.v1", &format!("ping-{n}"), &Ping { n })
                    .await?;
            }
            anyhow::Ok(())
        })
        .await?;

    let (mut rx, stop) = fixture.consume(&fixture.work, |_| Outcome::Ack);
    let mut seen = Vec::new();
    for _ in 0..20 {
        let delivery = next(&mut rx).await?;
        let ping: Ping = serde_json::from_slice(&delivery.data)?;
        assert_eq!(message_id(&delivery), Some(format!("ping-{}", ping.n)));
        assert_eq!(delivery.properties.delivery_mode(), &Some(2), "persistent");
        let header = delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get(amqp::REQUEST_ID_HEADER).cloned());
        assert_eq!(header, Some(AMQPValue::LongString("req-123".into())));
        seen.push(ping.n);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());
    stop.cancel();
    fixture.cleanup().await
}

#[tokio::test]
async fn a_message_no_queue_is_bound_for_is_reported_unroutable() -> anyhow::Result<()> {
    let fixture = Fixture::new().await?;
    let publisher = Publisher::new(&fixture.broker, &fixture.exchange, PUBLISH_DEADLINE).await?;

    let result = publisher
        .publish("nobody.listens", "lost-1", &Ping { n: 1 })
        .await;

    assert!(
        matches!(result, Err(PublishError::Unroutable(ref key)) if key == "nobody.listens"),
        "{result:?}"
    );
    fixture.cleanup().await
}

#[tokio::test]
async fn a_rejected_message_is_dead_lettered_and_a_requeued_one_comes_back() -> anyhow::Result<()> {
    let fixture = Fixture::new().await?;
    let publisher = Publisher::new(&fixture.broker, &fixture.exchange, PUBLISH_DEADLINE).await?;
    publisher
        .publish("ping.v1", "poison", &Ping { n: 0 })
        .await?;
    publisher
        .publish("ping.v1", "flaky", &Ping { n: 1 })
        .await?;

    // Reject the poison message; requeue the flaky one once, then accept it.
    let (mut work, stop_work) = fixture.consume(&fixture.work, |d| {
        match (message_id(d).as_deref(), d.redelivered) {
            (Some("poison"), _) => Outcome::Reject,
            (Some("flaky"), false) => Outcome::Requeue,
            _ => Outcome::Ack,
        }
    });
    let mut flaky_deliveries = 0;
    while flaky_deliveries < 2 {
        let delivery = next(&mut work).await?;
        if message_id(&delivery).as_deref() == Some("flaky") {
            flaky_deliveries += 1;
            assert_eq!(delivery.redelivered, flaky_deliveries == 2);
        }
    }
    let (mut parked, stop_parked) = fixture.consume(&fixture.parked, |_| Outcome::Ack);
    let dead = next(&mut parked).await?;
    assert_eq!(message_id(&dead).as_deref(), Some("poison"));

    stop_work.cancel();
    stop_parked.cancel();
    fixture.cleanup().await
}

#[tokio::test]
async fn publishing_consuming_declarations_and_broadcasts_resume_on_a_new_connection_after_the_broker_drops_it()
-> anyhow::Result<()> {
    let fixture = Fixture::new().await?;
    let publisher = Publisher::new(&fixture.broker, &fixture.exchange, PUBLISH_DEADLINE).await?;
    let (mut rx, stop) = fixture.consume(&fixture.work, |_| Outcome::Ack);
    let redeclared = fixture.redeclared();
    let declared = redeclared.clone();
    fixture
        .broker
        .declare(move |channel| {
            let queue = QueueSpec {
                name: declared.clone(),
                ..QueueSpec::default()
            };
            async move { amqp::declare_queue(&channel, &queue).await }
        })
        .await?;
    let bindings = [(fixture.exchange.clone(), "ping.#".to_owned())];
    let broadcasts_queue = format!("{}broadcasts", fixture.name);
    let mut broadcasts = Broadcasts::follow(&fixture.broker, &broadcasts_queue, &bindings).await?;
    publisher
        .publish("ping.v1", "before", &Ping { n: 1 })
        .await?;
    assert_eq!(message_id(&next(&mut rx).await?).as_deref(), Some("before"));
    let never = CancellationToken::new();
    assert!(
        matches!(broadcasts.next(&never).await, Some(Heard::Message(ref d)) if message_id(d).as_deref() == Some("before"))
    );

    // Gone from the broker meanwhile (a broker that lost its data), then the connection drops.
    let channel = fixture.broker.channel().await?;
    channel
        .queue_delete(redeclared.as_str().into(), QueueDeleteOptions::default())
        .await?;
    let generation = fixture.broker.link().generation();
    let admin = RabbitAdmin::local();
    // The management API lists a new connection after a short delay.
    testing::eventually(
        Duration::from_secs(10),
        "the connection to be closed",
        || async { Ok((admin.close_connections_named(&fixture.name).await? == 1).then_some(())) },
    )
    .await?;

    // The publish waits for the new connection if it lands while there is none.
    testing::eventually(
        Duration::from_secs(20),
        "a publish on the new connection",
        || async {
            Ok(publisher
                .publish("ping.v1", "after", &Ping { n: 2 })
                .await
                .ok())
        },
    )
    .await?;
    let delivery = next(&mut rx).await?;
    assert_eq!(message_id(&delivery).as_deref(), Some("after"));
    assert!(fixture.broker.is_connected());
    assert!(fixture.broker.link().generation() > generation);
    // What was broadcast while the queue was gone is lost to it, and it says so first.
    let resumed = tokio::time::timeout(Duration::from_secs(10), broadcasts.next(&never)).await?;
    assert!(matches!(resumed, Some(Heard::Resumed { .. })));
    let channel = fixture.broker.channel().await?;
    channel
        .queue_declare(
            redeclared.as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await?;
    publisher
        .publish("ping.v1", "heard", &Ping { n: 3 })
        .await?;
    let heard = loop {
        match tokio::time::timeout(Duration::from_secs(10), broadcasts.next(&never)).await? {
            Some(Heard::Message(delivery)) if message_id(&delivery).as_deref() == Some("heard") => {
                break delivery;
            }
            Some(_) => {}
            None => anyhow::bail!("the broadcasts stopped"),
        }
    };
    assert_eq!(serde_json::from_slice::<Ping>(&heard.data)?, Ping { n: 3 });

    broadcasts.close().await;
    stop.cancel();
    fixture.cleanup().await
}
