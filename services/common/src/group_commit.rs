//! Writes that many tasks make at once, made together: each caller hands in its item and
//! awaits its own answer, and one writer writes everything handed in since its last write with
//! one call. Nothing waits when nothing is being written (an item alone goes at once); under
//! load a batch grows with the write's own duration, so a slow store gets fewer, larger writes.
//! On the local store, where every write scans its collection, that turns one scan per message
//! into one per batch.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

/// A handle to one writer task; clones share it. The writer stops once every handle is gone.
pub struct GroupCommit<T, R> {
    items: mpsc::Sender<(T, oneshot::Sender<R>)>,
}

impl<T, R> Clone for GroupCommit<T, R> {
    fn clone(&self) -> Self {
        Self {
            items: self.items.clone(),
        }
    }
}

/// The writer is gone (it panicked): the item's outcome is unknown.
#[derive(Debug, thiserror::Error)]
#[error("the group writer stopped before answering")]
pub struct WriterGone;

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    /// Spawns the writer: `write` gets at most `max_batch` items and answers each, in order.
    pub fn spawn<W, Fut>(max_batch: usize, write: W) -> Self
    where
        W: Fn(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<R>> + Send,
    {
        let max_batch = max_batch.max(1);
        let (items, mut handed_in) = mpsc::channel::<(T, oneshot::Sender<R>)>(max_batch);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(max_batch);
            while handed_in.recv_many(&mut batch, max_batch).await > 0 {
                let (items, callers): (Vec<T>, Vec<_>) = batch.drain(..).unzip();
                let answers = write(items).await;
                debug_assert_eq!(answers.len(), callers.len(), "one answer per item");
                for (caller, answer) in callers.into_iter().zip(answers) {
                    // A caller that gave up waiting no longer needs its answer.
                    let _gone = caller.send(answer);
                }
            }
        });
        Self { items }
    }

    /// Hands `item` in and waits for its answer.
    pub async fn write(&self, item: T) -> Result<R, WriterGone> {
        let (answer, answered) = oneshot::channel();
        self.items
            .send((item, answer))
            .await
            .map_err(|_| WriterGone)?;
        answered.await.map_err(|_| WriterGone)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{Arc, Mutex},
        time::Duration,
    };

    use super::*;

    #[tokio::test]
    async fn items_handed_in_during_a_write_go_together_in_the_next_one() {
        let batches = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let seen = batches.clone();
        let (first_started, started) = tokio::sync::oneshot::channel::<()>();
        let first_started = Mutex::new(Some(first_started));
        let (release, released) = tokio::sync::watch::channel(false);
        let writer = GroupCommit::spawn(10, move |items: Vec<u32>| {
            let seen = seen.clone();
            let started = first_started.lock().ok().and_then(|mut s| s.take());
            let mut released = released.clone();
            async move {
                if let Some(started) = started {
                    let _ = started.send(());
                    let _ = released.wait_for(|go| *go).await;
                }
                seen.lock().map(|mut b| b.push(items.clone())).ok();
                items.into_iter().map(|item| item * 2).collect()
            }
        });
        let first = tokio::spawn({
            let writer = writer.clone();
            async move { writer.write(1).await }
        });
        started.await.ok();
        // While the first write is held, three more are handed in.
        let rest: Vec<_> = (2..=4)
            .map(|item| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.write(item).await })
            })
            .collect();
        tokio::time::timeout(Duration::from_secs(5), async {
            while writer.items.capacity() > 10 - 3 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .ok();
        release.send(true).ok();
        assert_eq!(first.await.ok().and_then(Result::ok), Some(2));
        let mut answers = Vec::new();
        for task in rest {
            answers.push(task.await.ok().and_then(Result::ok));
        }
        assert_eq!(answers, [Some(4), Some(6), Some(8)], "each its own answer");
        let batches = batches.lock().map(|b| b.clone()).unwrap_or_default();
        assert_eq!(batches, [vec![1], vec![2, 3, 4]]);
    }

    #[tokio::test]
    async fn a_writer_that_panics_answers_writer_gone() {
        let writer = GroupCommit::<u32, u32>::spawn(4, |_items| async { panic!("store bug") });
        assert!(writer.write(1).await.is_err());
    }
}
