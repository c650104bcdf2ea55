//! Where a server is in its life (serving, draining, closing), as every
//! connection task sees it.
//!
//! Each connection task checks the phase every time it runs — at least once
//! a request. A `tokio::sync::watch` channel locks a mutex on each of those
//! polls to re-file the task's waker (~180 instructions a request). Here a
//! poll is one atomic load, and a task's waker is filed once (again only if
//! the task's waker changes); moving to a later phase wakes every filed
//! task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// Where a server is in its life; connections watch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Phase {
    Serving = 0,
    Draining = 1,
    Closing = 2,
}

/// The server's side: moves the phase forward.
#[derive(Clone, Default)]
pub(crate) struct PhaseSignal {
    shared: Arc<Shared>,
}

struct Shared {
    phase: AtomicU8,
    /// The tasks waiting for a later phase, by watcher id.
    wakers: Mutex<HashMap<u64, Waker>>,
    next_id: AtomicU64,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            phase: AtomicU8::new(Phase::Serving as u8),
            wakers: Mutex::default(),
            next_id: AtomicU64::new(0),
        }
    }
}

impl PhaseSignal {
    /// Moves to `phase` (never back) and wakes every watching task.
    pub(crate) fn advance(&self, phase: Phase) {
        self.shared.phase.fetch_max(phase as u8, Ordering::SeqCst);
        let wakers = self
            .shared
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for waker in wakers.values() {
            waker.wake_by_ref();
        }
    }

    /// A watcher for one connection task.
    pub(crate) fn watch(&self) -> PhaseWatch {
        PhaseWatch {
            shared: self.shared.clone(),
            id: self.shared.next_id.fetch_add(1, Ordering::Relaxed),
            filed: None,
        }
    }
}

/// A connection task's view of the phase.
pub(crate) struct PhaseWatch {
    shared: Arc<Shared>,
    id: u64,
    /// The waker filed for this task, if any.
    filed: Option<Waker>,
}

impl PhaseWatch {
    /// Ready once the server has reached `target` (or gone past it).
    pub(crate) fn poll_reached(&mut self, target: Phase, cx: &mut Context<'_>) -> Poll<()> {
        if self.reached(target) {
            return Poll::Ready(());
        }
        if !self
            .filed
            .as_ref()
            .is_some_and(|filed| filed.will_wake(cx.waker()))
        {
            self.shared
                .wakers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(self.id, cx.waker().clone());
            self.filed = Some(cx.waker().clone());
            // A phase change made between the check above and the filing
            // would have woken the old waker (or none): check again.
            if self.reached(target) {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }

    /// Completes once the server has reached `target`.
    pub(crate) async fn reached_async(&mut self, target: Phase) {
        std::future::poll_fn(|cx| self.poll_reached(target, cx)).await;
    }

    fn reached(&self, target: Phase) -> bool {
        self.shared.phase.load(Ordering::SeqCst) >= target as u8
    }
}

impl Drop for PhaseWatch {
    fn drop(&mut self) {
        if self.filed.is_some() {
            self.shared
                .wakers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn watchers_wake_when_the_phase_moves_and_forget_their_waker_when_dropped() {
        let signal = PhaseSignal::default();
        let mut early = signal.watch();
        let waiting = tokio::spawn(async move {
            early.reached_async(Phase::Draining).await;
            early.reached_async(Phase::Closing).await;
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        assert_eq!(signal.shared.wakers.lock().unwrap().len(), 1);

        signal.advance(Phase::Draining);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "still waiting for Closing");
        signal.advance(Phase::Closing);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .unwrap();
        assert!(signal.shared.wakers.lock().unwrap().is_empty());

        // A watcher made later sees the phase at once; phases never go back.
        signal.advance(Phase::Draining);
        let mut late = signal.watch();
        tokio::time::timeout(Duration::from_secs(5), late.reached_async(Phase::Closing))
            .await
            .expect("already closing");
    }
}
