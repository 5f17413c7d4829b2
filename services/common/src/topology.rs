//! Every exchange and queue name, with its prefix (empty in production, unique per test), and
//! the declarations several services share. No other code builds a broker name.

use std::{sync::Arc, time::Duration};

use lapin::Channel;

use crate::{
    amqp::{self, QueueSpec},
    messages,
};

/// The exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// Mail to send; the email-sender consumes it.
    Email,
    /// Where mail that cannot be sent is parked for an operator.
    EmailDead,
    /// The email-sender's delay queues hang from it.
    EmailRetry,
    /// Facts other services react to (`user.deleted.v1`, `event.updated.v1`, …).
    Domain,
}

impl Exchange {
    fn name(self) -> &'static str {
        match self {
            Self::Email => "eventpost.email",
            Self::EmailDead => "eventpost.email.dead",
            Self::EmailRetry => "eventpost.email.retry",
            Self::Domain => "eventpost.domain",
        }
    }
}

/// The queues, each `<service>.<purpose>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// The email-sender's work queue.
    Emails,
    /// The parking queue behind [`Exchange::EmailDead`].
    ParkedEmails,
    /// One of the email-sender's delay queues: mail waits there this long before a retry.
    EmailRetry(Duration),
    /// The email-sender hears here of queued reminders that were cancelled.
    EmailCancellations,
    /// The events service hears of deleted accounts here.
    EventsUserDeletions,
    /// One events instance's own queue of catalogue changes (private to its connection).
    EventsCatalogue(uuid::Uuid),
    /// Everything the notifications service reacts to.
    NotificationsDomain,
    /// One scheduler's own queue of reminder change notices (private to its connection).
    NotificationsScheduler(uuid::Uuid),
    /// One instance's own queue of deleted accounts (private to its connection).
    AccountDeletions {
        service: &'static str,
        instance: uuid::Uuid,
    },
}

/// The names of one deployment (or one test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: Arc<str>,
}

impl Topology {
    /// Names prefixed with `prefix` (`AmqpConfig::prefix`).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The exchange's full name.
    pub fn exchange(&self, exchange: Exchange) -> String {
        format!("{}{}", self.prefix, exchange.name())
    }

    /// The queue's full name.
    pub fn queue(&self, queue: Queue) -> String {
        let name = match queue {
            Queue::Emails => "email-sender.emails".to_owned(),
            Queue::ParkedEmails => "email-sender.dead".to_owned(),
            Queue::EmailRetry(delay) => format!("email-sender.retry.{}", retry_key(delay)),
            Queue::EmailCancellations => "email-sender.cancellations".to_owned(),
            Queue::EventsUserDeletions => "events.user-deleted".to_owned(),
            Queue::EventsCatalogue(instance) => format!("events.catalogue.{}", instance.simple()),
            Queue::NotificationsDomain => "notifications.domain".to_owned(),
            Queue::NotificationsScheduler(instance) => {
                format!("notifications.scheduler.{}", instance.simple())
            }
            Queue::AccountDeletions { service, instance } => {
                format!("{service}.account-deletions.{}", instance.simple())
            }
        };
        format!("{}{name}", self.prefix)
    }

    /// Declares the email exchange, the email-sender's work queue and its parking queue, so mail
    /// requested before the email-sender first starts waits instead of being returned as
    /// unroutable. Publishers and the email-sender call this; declarations are idempotent.
    ///
    /// The work queue dead-letters into the parking queue: besides the worker's own decisions,
    /// RabbitMQ 4 drops a quorum queue's message after 20 deliveries unless a dead-letter exchange
    /// is set.
    pub async fn declare_email(&self, channel: &Channel) -> lapin::Result<()> {
        let exchange = self.exchange(Exchange::Email);
        let dead = self.exchange(Exchange::EmailDead);
        amqp::declare_exchange(channel, &exchange).await?;
        amqp::declare_exchange(channel, &dead).await?;
        amqp::declare_queue(
            channel,
            &QueueSpec {
                name: self.queue(Queue::ParkedEmails),
                bindings: vec![(dead.clone(), "#".into())],
                dead_letter_exchange: None,
                ..Default::default()
            },
        )
        .await?;
        amqp::declare_queue(
            channel,
            &QueueSpec {
                name: self.queue(Queue::Emails),
                bindings: vec![(exchange, "email.#".into())],
                dead_letter_exchange: Some(dead),
                ..Default::default()
            },
        )
        .await
    }

    /// Declares the email-sender's queue of cancelled reminders on the domain exchange. The
    /// notifications service declares it too, so no cancellation is dropped before the
    /// email-sender first starts.
    pub async fn declare_email_cancellations(&self, channel: &Channel) -> lapin::Result<()> {
        self.declare_domain_queue(
            channel,
            Queue::EmailCancellations,
            &[messages::REMINDER_CANCELLED_V1],
        )
        .await
    }

    /// Declares the domain exchange.
    pub async fn declare_domain_exchange(&self, channel: &Channel) -> lapin::Result<()> {
        amqp::declare_exchange(channel, &self.exchange(Exchange::Domain)).await
    }

    /// Declares the domain exchange and `queue` on it, bound to each routing key in `keys`.
    pub async fn declare_domain_queue(
        &self,
        channel: &Channel,
        queue: Queue,
        keys: &[&str],
    ) -> lapin::Result<()> {
        self.declare_domain_exchange(channel).await?;
        let exchange = self.exchange(Exchange::Domain);
        amqp::declare_queue(
            channel,
            &QueueSpec {
                name: self.queue(queue),
                bindings: keys
                    .iter()
                    .map(|key| (exchange.clone(), (*key).to_owned()))
                    .collect(),
                ..Default::default()
            },
        )
        .await
    }

    /// Declares one delay queue per retry wait: messages sit there for the wait, then
    /// dead-letter back to the email exchange. Queues are named by their wait, so changing the
    /// waits adds queues instead of redeclaring one with other arguments (which RabbitMQ refuses).
    pub async fn declare_email_retries(
        &self,
        channel: &Channel,
        delays: &[Duration],
    ) -> lapin::Result<()> {
        let exchange = self.exchange(Exchange::EmailRetry);
        amqp::declare_exchange(channel, &exchange).await?;
        for delay in delays {
            amqp::declare_queue(
                channel,
                &QueueSpec {
                    name: self.queue(Queue::EmailRetry(*delay)),
                    bindings: vec![(exchange.clone(), retry_key(*delay))],
                    dead_letter_exchange: Some(self.exchange(Exchange::Email)),
                    dead_letter_routing_key: Some(messages::EMAIL_REQUESTED_V1.into()),
                    message_ttl: Some(*delay),
                },
            )
            .await?;
        }
        Ok(())
    }
}

/// The routing key (and queue suffix) of the delay queue for `delay`.
pub fn retry_key(delay: Duration) -> String {
    format!("{}ms", delay.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_those_deployed_today_behind_the_prefix() {
        let production = Topology::new("");
        assert_eq!(production.exchange(Exchange::Email), "eventpost.email");
        assert_eq!(production.queue(Queue::Emails), "email-sender.emails");
        assert_eq!(
            production.queue(Queue::EmailRetry(Duration::from_secs(30))),
            "email-sender.retry.30000ms"
        );
        let test = Topology::new("test_1.");
        assert_eq!(
            test.queue(Queue::NotificationsDomain),
            "test_1.notifications.domain"
        );
        assert_eq!(test.exchange(Exchange::Domain), "test_1.eventpost.domain");
    }
}
