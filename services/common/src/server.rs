//! Serving a service: binding (port 0 picks a free port, for tests), the middleware stack every
//! service shares, and graceful shutdown on SIGTERM/SIGINT.

use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::future::BoxFuture;

use poem::{
    Endpoint, EndpointExt, IntoResponse, Response, Route,
    endpoint::BoxEndpoint,
    http::uri::Scheme,
    listener::{Acceptor, TcpAcceptor},
    middleware::CatchPanic,
    web::{LocalAddr, RemoteAddr},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    config::HttpConfig,
    health::{self, Check, Checks},
    metrics::Metrics,
    problem::ApiError,
    request_id::RequestContext,
};

/// Accepted connections with Nagle's algorithm off. A response written in more than one piece
/// (the gateway streams what an upstream answers) otherwise waits for the client's delayed
/// acknowledgement of the first, about 40 ms, before the rest goes.
struct NoDelay(TcpAcceptor);

impl Acceptor for NoDelay {
    type Io = tokio::net::TcpStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let accepted = self.0.accept().await?;
        if let Err(err) = accepted.0.set_nodelay(true) {
            tracing::debug!(error = %err, "could not turn Nagle's algorithm off");
        }
        Ok(accepted)
    }
}

/// A bound listener, so the port is known before serving starts.
pub struct HttpServer {
    listener: TcpListener,
    port: u16,
    drain: Duration,
    grace: Duration,
    stopping: Stopping,
}

/// The readiness check a server fails from the moment it is asked to stop, through its drain.
#[derive(Clone, Default)]
pub struct Stopping(Arc<AtomicBool>);

impl Check for Stopping {
    fn name(&self) -> &'static str {
        "shutdown"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        let stopping = self.0.load(Ordering::Relaxed);
        Box::pin(async move {
            if stopping {
                Err("this instance is stopping".into())
            } else {
                Ok(())
            }
        })
    }
}

impl HttpServer {
    /// Binds `cfg.host:cfg.port`.
    pub async fn bind(cfg: &HttpConfig) -> io::Result<Self> {
        let listener = TcpListener::bind((cfg.host.as_str(), cfg.port)).await?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            port,
            drain: cfg.shutdown_drain,
            grace: cfg.shutdown_grace,
            stopping: Stopping::default(),
        })
    }

    /// The check to add to the readiness checks of what this server serves.
    pub fn stopping(&self) -> Stopping {
        self.stopping.clone()
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` is cancelled, then drains: reports itself stopping and serves on
    /// for the configured drain, since whatever routes here learns it only at its next poll
    /// (closing at once resets the connections whose requests are on the way). Then it stops
    /// accepting and lets in-flight requests finish for up to the configured grace period.
    pub async fn serve(
        self,
        endpoint: impl Endpoint + 'static,
        shutdown: CancellationToken,
    ) -> io::Result<()> {
        let acceptor = NoDelay(TcpAcceptor::from_tokio(self.listener)?);
        let (stopping, drain) = (self.stopping, self.drain);
        let drained = async move {
            shutdown.cancelled().await;
            stopping.0.store(true, Ordering::Relaxed);
            tokio::time::sleep(drain).await;
        };
        poem::Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(endpoint, drained, Some(self.grace))
            .await
    }
}

/// A service's routes plus `/healthz`, `/readyz`, `/metrics`, wrapped in the shared middleware:
/// metrics outermost (so it sees final statuses), then request id and problem+json rendering,
/// then panic catching (a panic is a 500 problem, not a dropped connection).
pub fn endpoint(
    route: Route,
    checks: Checks,
    metrics: Metrics,
) -> impl Endpoint<Output = Response> + 'static {
    health::mount(route, checks, metrics.clone())
        .with(CatchPanic::new().with_handler(|_panic| {
            ApiError::Internal(anyhow::anyhow!("a handler panicked")).into_response()
        }))
        .with(RequestContext)
        .with(metrics)
}

/// A service bound to its port with its complete endpoint, ready to run.
pub struct Service {
    server: HttpServer,
    endpoint: BoxEndpoint<'static, Response>,
}

impl Service {
    /// Binds `http` and assembles `route` with health, metrics and the shared middleware.
    pub async fn bind(
        name: &str,
        http: &HttpConfig,
        route: Route,
        checks: Vec<Box<dyn Check>>,
    ) -> anyhow::Result<Self> {
        Self::bind_with_metrics(http, route, checks, Metrics::new(name)?).await
    }

    /// Like [`Service::bind`], with a registry the service already added instruments to.
    pub async fn bind_with_metrics(
        http: &HttpConfig,
        route: Route,
        checks: Vec<Box<dyn Check>>,
        metrics: Metrics,
    ) -> anyhow::Result<Self> {
        let server = HttpServer::bind(http).await?;
        let mut checks = checks;
        checks.push(Box::new(server.stopping()));
        let endpoint = endpoint(route, Arc::new(checks), metrics).boxed();
        tracing::info!(port = server.port(), "listening");
        Ok(Self { server, endpoint })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Serves until `shutdown` is cancelled, then drains (see [`HttpServer::serve`]).
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> io::Result<()> {
        self.server.serve(self.endpoint, shutdown).await
    }
}

/// A token cancelled on the first SIGTERM or SIGINT (Ctrl-C).
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; finishing in-flight work");
        cancel.cancel();
    });
    token
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut sigterm) => {
            tokio::select! {
                _ = sigterm.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for SIGTERM; only Ctrl-C stops the service");
            wait_for_ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    wait_for_ctrl_c().await;
}

async fn wait_for_ctrl_c() {
    if let Err(err) = tokio::signal::ctrl_c().await {
        tracing::error!(error = %err, "cannot listen for Ctrl-C");
        std::future::pending::<()>().await;
    }
}
