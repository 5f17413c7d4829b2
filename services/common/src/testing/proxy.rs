//! A TCP forwarder between a service and a real server, which a test can pause: while paused,
//! nothing reaches either side, as when the server hangs (a stopped process, a partition).
//! Everything else is the real server.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, tcp::OwnedReadHalf, tcp::OwnedWriteHalf},
    sync::watch,
    task::JoinHandle,
};

use crate::config::{MongoConfig, Secret};

/// Forwards a loopback port to `target` until dropped.
pub struct PausableProxy {
    port: u16,
    paused: watch::Sender<bool>,
    accepting: JoinHandle<()>,
}

impl PausableProxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let (paused, watching) = watch::channel(false);
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let watching = watching.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(target).await {
                        forward(client, server, watching).await;
                    }
                });
            }
        });
        Ok(Self {
            port,
            paused,
            accepting,
        })
    }

    /// The local test server (`cargo task deps`), through a proxy.
    pub async fn to_local_mongo() -> std::io::Result<Self> {
        Self::start(SocketAddr::from(([127, 0, 0, 1], 27017))).await
    }

    /// The port to connect to instead of the target's.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// From now on, nothing passes in either direction.
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    /// Traffic flows again, starting with what waited.
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    /// `cfg` pointed at this proxy, with operations bounded by `deadline`.
    pub fn mongo_config(&self, mut cfg: MongoConfig, deadline: Duration) -> MongoConfig {
        cfg.uri = Secret::new(format!(
            "mongodb://127.0.0.1:{}/?directConnection=true",
            self.port
        ));
        cfg.deadline = deadline;
        cfg
    }
}

impl Drop for PausableProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn forward(client: TcpStream, server: TcpStream, paused: watch::Receiver<bool>) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        () = pipe(client_read, server_write, paused.clone()) => {}
        () = pipe(server_read, client_write, paused) => {}
    }
}

/// Copies `from` to `to`, holding each chunk back while paused.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut paused: watch::Receiver<bool>) {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if paused.wait_for(|paused| !paused).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
