//! What time it is, and waiting for a time: the system's in production, one a test moves by
//! hand, so that logic which waits for wall-clock moments (a reminder a year ahead) is tested
//! without waiting.

use std::{future::Future, pin::Pin, sync::Arc};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// A source of the current time that can wait for a moment to come.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once [`Clock::now`] has reached `at` (at once if it has).
    fn sleep_until(&self, at: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Shared by every part that needs the time.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    pub fn shared() -> SharedClock {
        Arc::new(Self)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            // Checked again after waking: the wall clock may have been set back meanwhile.
            while let Ok(left) = (at - Utc::now()).to_std() {
                if left.is_zero() {
                    break;
                }
                tokio::time::sleep(left).await;
            }
        })
    }
}

/// A clock that stands still until it is moved.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(watch::Sender::new(now)),
        }
    }

    /// Moves it to `now` (forwards or back), waking whatever waits for a moment it passed.
    pub fn set(&self, now: DateTime<Utc>) {
        self.now.send_replace(now);
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.now.send_modify(|now| *now += by);
    }

    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut now = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as `self`, so the wait ends only when the time comes.
            let _reached = now.wait_for(|now| *now >= at).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_once_moved_past_their_time() {
        let start = Utc::now();
        let clock = ManualClock::at(start);
        let at = start + chrono::Duration::days(365);
        let mut sleeping = clock.sleep_until(at);
        assert!(
            futures::poll!(&mut sleeping).is_pending(),
            "not before its time"
        );
        clock.advance(chrono::Duration::days(364));
        assert!(futures::poll!(&mut sleeping).is_pending());
        clock.set(at);
        sleeping.await;
        assert_eq!(clock.now(), at);
    }

    #[tokio::test]
    async fn the_system_clock_returns_at_once_for_a_past_moment() {
        SystemClock
            .sleep_until(Utc::now() - chrono::Duration::seconds(1))
            .await;
    }
}
