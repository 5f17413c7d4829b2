//! Background passes: work that runs when nudged or, failing that, every interval, until
//! shutdown. A failed pass is logged and retried by the next one.

use std::{future::Future, time::Duration};

use chrono::{DateTime, Utc};
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

/// Every `interval` (and once at start), until `shutdown`: `delete` what was recorded before
/// `now - keep`. `delete` returns how many it deleted.
pub async fn prune<F, Fut, E>(
    what: &'static str,
    interval: Duration,
    keep: chrono::Duration,
    shutdown: CancellationToken,
    mut delete: F,
) where
    F: FnMut(DateTime<Utc>) -> Fut,
    Fut: Future<Output = Result<u64, E>>,
    E: Into<anyhow::Error>,
{
    let pass = || {
        let deleting = delete(Utc::now() - keep);
        async move {
            let deleted = deleting.await.map_err(Into::into)?;
            Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
        }
    };
    // Nothing nudges pruning: it runs on the clock alone.
    repeat(what, interval, &Notify::new(), shutdown, pass).await;
}
