//! One connection to RabbitMQ, kept alive: replaced whenever it is lost.
//!
//! lapin's own recovery is off. In chaos runs it sometimes never completed after a broker
//! restart (as in amqp-rs/lapin#450), leaving a process connected to nothing until it was
//! restarted. A [`Broker`] watches its connection instead; once the connection is lost it
//! connects anew, for as long as it takes, declares again what was declared through it, and only
//! then hands the new connection out. Publishers, consumers and subscriptions open their channels
//! again on whichever connection is current.

use std::{
    future::Future,
    sync::{Arc, Mutex, PoisonError, Weak},
    time::Duration,
};

use futures::future::BoxFuture;
use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::AmqpConfig;

/// How often the connection's state is looked at. A lost connection errs its channels and
/// consumers at once; this only bounds how long a silently stuck one goes unnoticed.
const WATCH_EVERY: Duration = Duration::from_millis(100);
/// The waits between attempts to connect again grow to this.
const LONGEST_WAIT: Duration = Duration::from_secs(3);
/// How long closing a lost connection may take before it is simply dropped.
const CLOSE_WITHIN: Duration = Duration::from_secs(1);

type Declaration = Arc<dyn Fn(Channel) -> BoxFuture<'static, lapin::Result<()>> + Send + Sync>;

/// A connection to the broker that outlives the broker's restarts. Clones share it.
#[derive(Clone)]
pub struct Broker {
    shared: Arc<Shared>,
}

struct Shared {
    cfg: AmqpConfig,
    name: String,
    link: watch::Sender<Link>,
    declarations: Mutex<Vec<Declaration>>,
    /// Set once closed on purpose: nothing is connected again after that.
    closed: CancellationToken,
}

/// One connection of a [`Broker`], and which of its connections it is.
#[derive(Clone)]
pub struct Link {
    connection: Arc<Connection>,
    generation: u64,
}

impl Link {
    /// The connection itself; it may have been lost since.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Counts the broker's connections: a channel opened on one generation is gone once a later
    /// one is current.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn is_connected(&self) -> bool {
        self.connection.status().connected()
    }
}

impl Broker {
    /// Connects, retrying with exponential backoff for up to `cfg.retry_for`, then keeps the
    /// connection alive until the last clone is dropped. `name` shows in the broker's connection
    /// list after the configuration's prefix, so that one namespace's connections are told from
    /// another's.
    pub async fn connect(cfg: &AmqpConfig, name: &str) -> lapin::Result<Self> {
        let name = format!("{}{name}", cfg.prefix);
        let connection = connect(cfg, &name, Some(cfg.retry_for)).await?;
        let (link, _) = watch::channel(Link {
            connection: Arc::new(connection),
            generation: 0,
        });
        let shared = Arc::new(Shared {
            cfg: cfg.clone(),
            name,
            link,
            declarations: Mutex::default(),
            closed: CancellationToken::new(),
        });
        tokio::spawn(keep_alive(Arc::downgrade(&shared)));
        Ok(Self { shared })
    }

    /// Runs `declare` on a channel of the current connection, and again on every connection
    /// made after losing it: for the exchanges, queues and bindings a service relies on, so that
    /// a broker that lost them (a new node) gets them back.
    pub async fn declare<F, Fut>(&self, declare: F) -> lapin::Result<()>
    where
        F: Fn(Channel) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = lapin::Result<()>> + Send + 'static,
    {
        let declaration: Declaration = Arc::new(move |channel| Box::pin(declare(channel)));
        run_declaration(&self.connected().await.connection, &declaration).await?;
        self.shared
            .declarations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(declaration);
        Ok(())
    }

    /// The current connection, whether or not it still works.
    pub fn link(&self) -> Link {
        self.shared.link.borrow().clone()
    }

    /// The current connection once it works: at once, or when a lost one has been replaced.
    pub async fn connected(&self) -> Link {
        let mut links = self.shared.link.subscribe();
        loop {
            let link = links.borrow_and_update().clone();
            if link.is_connected() {
                return link;
            }
            // The sender lives as long as `self`, so this only returns once a link was sent.
            let _ = links.changed().await;
        }
    }

    /// A channel of its own on the current connection, once it works.
    pub async fn channel(&self) -> lapin::Result<Channel> {
        self.connected().await.connection.create_channel().await
    }

    /// Resolves once a connection later than `generation` is current.
    pub async fn replaced(&self, generation: u64) {
        let mut links = self.shared.link.subscribe();
        let _ = links.wait_for(|link| link.generation > generation).await;
    }

    /// Whether the current connection works.
    pub fn is_connected(&self) -> bool {
        self.shared.link.borrow().is_connected()
    }

    /// Closes the connection with `code` (320, as a broker's forced close, to act a crash) and
    /// connects no more. Dropping the last clone closes it too, with 200.
    pub async fn close(&self, code: u16, reason: &str) -> lapin::Result<()> {
        self.shared.closed.cancel();
        self.link().connection.close(code, reason.into()).await
    }
}

/// Until the broker is dropped: waits for its connection to be lost, then connects again.
async fn keep_alive(shared: Weak<Shared>) {
    loop {
        let lost = loop {
            tokio::time::sleep(WATCH_EVERY).await;
            let Some(shared) = shared.upgrade().filter(|s| !s.closed.is_cancelled()) else {
                return;
            };
            let link = shared.link.borrow().clone();
            if !link.is_connected() {
                break link;
            }
        };
        tracing::warn!(
            generation = lost.generation,
            "lost the broker; connecting again"
        );
        let _ = tokio::time::timeout(CLOSE_WITHIN, lost.connection.close(320, "lost".into())).await;
        let mut wait = Duration::from_millis(100);
        loop {
            let Some(shared) = shared.upgrade().filter(|s| !s.closed.is_cancelled()) else {
                return;
            };
            match reconnect(&shared).await {
                Ok(connection) => {
                    let generation = lost.generation + 1;
                    tracing::info!(generation, "connected to the broker again");
                    shared.link.send_replace(Link {
                        connection: Arc::new(connection),
                        generation,
                    });
                    break;
                }
                Err(err) => tracing::warn!(error = %err, ?wait, "the broker is still unreachable"),
            }
            drop(shared);
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(LONGEST_WAIT);
        }
    }
}

async fn reconnect(shared: &Shared) -> lapin::Result<Connection> {
    let connection = connect(&shared.cfg, &shared.name, None).await?;
    let declarations = shared
        .declarations
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for declaration in &declarations {
        if let Err(err) = run_declaration(&connection, declaration).await {
            let _ = tokio::time::timeout(CLOSE_WITHIN, connection.close(200, "".into())).await;
            return Err(err);
        }
    }
    Ok(connection)
}

async fn run_declaration(connection: &Connection, declaration: &Declaration) -> lapin::Result<()> {
    let channel = connection.create_channel().await?;
    declaration(channel.clone()).await?;
    channel.close(200, "declared".into()).await
}

/// One connection named `name`, its TCP connection retried for up to `retry_for`.
async fn connect(
    cfg: &AmqpConfig,
    name: &str,
    retry_for: Option<Duration>,
) -> lapin::Result<Connection> {
    let mut properties = ConnectionProperties::default().with_connection_name(name.into());
    if let Some(retry_for) = retry_for {
        properties = properties.configure_backoff(|backoff| {
            backoff
                .with_min_delay(Duration::from_millis(100))
                .with_max_delay(LONGEST_WAIT)
                .with_total_delay(Some(retry_for))
                .without_max_times()
                .with_jitter()
        });
    }
    Connection::connect(cfg.uri.expose(), properties).await
}
