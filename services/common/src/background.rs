//! Background passes: work that runs when nudged or, failing that, every interval, until
//! shutdown. A failed pass is logged and retried by the next one.

use std::{future::Future, time::Duration};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Runs `pass` now, then on every nudge and every `interval`, until `shutdown`. `pass` returns
/// how much it did; `what` names it in the logs.
pub async fn repeat<F, Fut>(
    what: &'static str,
    interval: Duration,
    nudge: &Notify,
    shutdown: CancellationToken,
    mut pass: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<usize>>,
{
    loop {
        match pass().await {
            Ok(0) => {}
            Ok(done) => tracing::debug!(what, done, "background pass"),
            Err(err) => tracing::warn!(what, error = ?err, "background pass failed; will retry"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = nudge.notified() => {}
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Runs `pass` now and then every `interval`, until `shutdown`: [`repeat`] for work that
/// nothing nudges.
pub async fn every<F, Fut>(
    what: &'static str,
    interval: Duration,
    shutdown: CancellationToken,
    pass: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<usize>>,
{
    repeat(what, interval, &Notify::new(), shutdown, pass).await;
}
