//! What a store says when it fails, and the deadline every database and broker operation runs
//! under.
//!
//! [`StoreError`] sorts a failure once, where it happens, into what the caller can act on: the
//! dependency is unavailable (503 naming it), a unique key refused a write or a change lost a
//! race (409), or anything else (500). [`within`] is the one way to wait for a database or broker
//! operation with a deadline, without cancelling it: the mongodb crate's futures must not be
//! dropped mid-flight (RUST-937, tech-notes §2), so the operation runs in its own task and only
//! the wait for it is bounded. [`Deadline::run`] (stores) and the publisher use it, so a paused
//! database answers a request with 503 within the deadline instead of hanging it.

use std::{future::Future, time::Duration};

use crate::{ApiError, amqp::PublishError, mongo};

/// What a store or publisher depends on, as a client may be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    /// The service's MongoDB database.
    Database,
    /// RabbitMQ.
    Broker,
}

impl Dependency {
    /// The name problem documents and logs use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Database => "database",
            Self::Broker => "message broker",
        }
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The dependency did not answer (refused, unreachable, or not within the deadline).
    #[error("{} is unavailable", .dependency.as_str())]
    Unavailable {
        dependency: Dependency,
        #[source]
        source: anyhow::Error,
    },
    /// A unique key refused the write: it already exists.
    #[error("already exists")]
    Duplicate(#[source] anyhow::Error),
    /// The change lost to another one made meanwhile.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// Anything else: a bug or a refusal nobody expects.
    #[error(transparent)]
    Other(anyhow::Error),
}

/// A store operation's result.
pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// Adds what was being done to the error's chain, for the one log line it ends in.
    pub fn context(self, what: &'static str) -> Self {
        match self {
            Self::Unavailable { dependency, source } => Self::Unavailable {
                dependency,
                source: source.context(what),
            },
            Self::Duplicate(source) => Self::Duplicate(source.context(what)),
            Self::Other(source) => Self::Other(source.context(what)),
            conflict @ Self::Conflict(_) => conflict,
        }
    }

    /// Whether a unique key refused the write.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Self::Duplicate(_))
    }

    /// This failure, once for each of the `count` items one batched write was for: each caller
    /// acts on its own copy (the same kind, the chain as text).
    pub fn for_each_of<T>(self, count: usize) -> Vec<StoreResult<T>> {
        let text = match &self {
            Self::Unavailable { source, .. } | Self::Duplicate(source) | Self::Other(source) => {
                format!("{source:#}")
            }
            Self::Conflict(what) => (*what).to_owned(),
        };
        (0..count)
            .map(|_| {
                let source = anyhow::anyhow!("{text}");
                Err(match &self {
                    Self::Unavailable { dependency, .. } => Self::Unavailable {
                        dependency: *dependency,
                        source,
                    },
                    Self::Duplicate(_) => Self::Duplicate(source),
                    Self::Conflict(what) => Self::Conflict(what),
                    Self::Other(_) => Self::Other(source),
                })
            })
            .collect()
    }
}

impl From<mongodb::error::Error> for StoreError {
    fn from(err: mongodb::error::Error) -> Self {
        if mongo::is_duplicate_key(&err) {
            Self::Duplicate(err.into())
        } else if mongo::is_unavailable(&err) {
            Self::Unavailable {
                dependency: Dependency::Database,
                source: err.into(),
            }
        } else {
            Self::Other(err.into())
        }
    }
}

impl From<PublishError> for StoreError {
    fn from(err: PublishError) -> Self {
        match err {
            PublishError::Broker(_) | PublishError::Nacked | PublishError::Timeout(_) => {
                Self::Unavailable {
                    dependency: Dependency::Broker,
                    source: err.into(),
                }
            }
            PublishError::Encode(_) | PublishError::Unroutable(_) | PublishError::Task(_) => {
                Self::Other(err.into())
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable { dependency, source } => ApiError::Unavailable {
                dependency: dependency.as_str(),
                source,
            },
            StoreError::Duplicate(_) => ApiError::Conflict("it already exists".into()),
            StoreError::Conflict(why) => ApiError::Conflict(why.into()),
            StoreError::Other(source) => ApiError::Internal(source),
        }
    }
}

/// How long one database or broker operation may take before the caller stops waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    limit: Duration,
    dependency: Dependency,
}

impl Deadline {
    /// Operations on `dependency` wait at most `limit`.
    pub fn new(dependency: Dependency, limit: Duration) -> Self {
        Self { limit, dependency }
    }

    /// The longest wait.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// The same dependency, waited for at least `limit`: for a rare operation known to be
    /// slow (a scan once at start), not for what a request waits on.
    pub fn at_least(self, limit: Duration) -> Self {
        Self {
            limit: self.limit.max(limit),
            ..self
        }
    }

    /// Runs `operation` in its own task and waits for it at most the deadline; past it, the
    /// caller gets [`StoreError::Unavailable`] while the operation finishes on its own. `what`
    /// says what was being done, in the error's chain.
    pub async fn run<T, E, F>(&self, what: &'static str, operation: F) -> StoreResult<T>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Into<StoreError> + Send + 'static,
    {
        match within(self.limit, operation).await {
            Ok(result) => result.map_err(|err| err.into().context(what)),
            Err(Abandoned::Failed(join)) => {
                Err(StoreError::Other(anyhow::Error::new(join).context(what)))
            }
            Err(Abandoned::TimedOut(limit)) => Err(StoreError::Unavailable {
                dependency: self.dependency,
                source: anyhow::anyhow!("no answer within {limit:?}").context(what),
            }),
        }
    }
}

/// Why [`within`] stopped waiting.
#[derive(Debug, thiserror::Error)]
pub enum Abandoned {
    /// The operation did not finish in time (it goes on in its task).
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    /// The operation's task panicked.
    #[error("the operation failed: {0}")]
    Failed(#[from] tokio::task::JoinError),
}

/// The one way to wait for a database or broker operation with a deadline: it runs in a task of
/// its own and only the wait is bounded, so a future the driver must not lose mid-flight is
/// never dropped.
pub async fn within<T, F>(limit: Duration, operation: F) -> Result<T, Abandoned>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::time::timeout(limit, tokio::spawn(operation)).await {
        Ok(joined) => Ok(joined?),
        Err(_) => Err(Abandoned::TimedOut(limit)),
    }
}

impl Deadline {
    /// [`Deadline::run`] on a clone of `target` (a collection, say), which the operation owns.
    pub async fn on<C, T, E, F, Fut>(
        &self,
        what: &'static str,
        target: &C,
        operation: F,
    ) -> StoreResult<T>
    where
        C: Clone,
        F: FnOnce(C) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Into<StoreError> + Send + 'static,
    {
        self.run(what, operation(target.clone())).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_operation_past_its_deadline_is_unavailable_and_still_runs_to_its_end() {
        let deadline = Deadline::new(Dependency::Database, Duration::from_millis(20));
        let (done, finished) = tokio::sync::oneshot::channel();
        let slow = async move {
            tokio::time::sleep(Duration::from_millis(60)).await;
            let _ignored = done.send(());
            Ok::<_, StoreError>(())
        };
        let err = deadline.run("waiting", slow).await.unwrap_err();
        assert!(matches!(
            err,
            StoreError::Unavailable {
                dependency: Dependency::Database,
                ..
            }
        ));
        assert!(format!("{:#}", anyhow::Error::new(err)).contains("waiting"));
        finished.await.expect("the operation was not cancelled");
    }

    #[tokio::test]
    async fn errors_keep_their_kind_and_gain_context() {
        let deadline = Deadline::new(Dependency::Database, Duration::from_secs(1));
        let failing = async { Err::<(), _>(StoreError::Duplicate(anyhow::anyhow!("E11000"))) };
        let err = deadline.run("saving", failing).await.unwrap_err();
        assert!(err.is_duplicate());
        assert!(matches!(ApiError::from(err), ApiError::Conflict(_)));
    }

    #[test]
    fn an_unavailable_store_is_a_503_naming_the_dependency() {
        let err = StoreError::Unavailable {
            dependency: Dependency::Broker,
            source: anyhow::anyhow!("connection refused"),
        };
        let api = ApiError::from(err);
        assert_eq!(api.status(), poem::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(api.to_problem().detail.contains("message broker"));
    }
}
