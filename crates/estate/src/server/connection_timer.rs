//! hyper's timer, with one tokio timer per connection instead of one per
//! request.
//!
//! hyper arms its header-read timeout (the slowloris protection) afresh for
//! every request on a keep-alive connection. With `hyper_util`'s
//! `TokioTimer`, that is a new tokio timer each time: allocated, put in the
//! runtime's timer wheel while the connection waits for the next request,
//! and taken out again when the request's head arrives — about 1,300
//! instructions a request, more than Estate's routing (bench/README.md).
//!
//! [`ConnectionTimer`] keeps one tokio [`Sleep`](tokio::time::Sleep) per
//! connection, and each of hyper's sleeps waits on it: a sleep whose
//! deadline is later than the timer's lets the timer fire first, then moves
//! it to its own deadline and waits on. On a busy connection the timer is
//! touched once per timeout instead of twice per request, and the timeout
//! still fires at the deadline hyper asked for.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

/// A [`hyper::rt::Timer`] for one connection (make one per connection).
#[derive(Clone, Default)]
pub(crate) struct ConnectionTimer {
    /// The connection's tokio timer, made by the first sleep. Only the
    /// connection's task polls it; the mutex is for `Sync`, never contended.
    shared: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
}

impl hyper::rt::Timer for ConnectionTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(ConnectionSleep {
            shared: self.shared.clone(),
            deadline: tokio::time::Instant::from_std(deadline),
        })
    }
}

/// One of hyper's sleeps: done when the connection's timer, set to this
/// sleep's deadline, says so.
struct ConnectionSleep {
    shared: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
    deadline: tokio::time::Instant,
}

impl Future for ConnectionSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let timer = shared.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(self.deadline)));
        // A later deadline than the timer's waits until the timer fires
        // (below), so a busy connection moves the timer once per timeout,
        // not once per request; an earlier one moves it now.
        if timer.deadline() > self.deadline {
            timer.as_mut().reset(self.deadline);
        }
        loop {
            ready!(timer.as_mut().poll(cx));
            if timer.deadline() >= self.deadline {
                return Poll::Ready(());
            }
            // An earlier sleep's deadline came: wait on for this one's.
            timer.as_mut().reset(self.deadline);
        }
    }
}

impl hyper::rt::Sleep for ConnectionSleep {}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer as _;

    /// A deadline `secs` from now on tokio's (paused) clock.
    fn after(secs: u64) -> Instant {
        (tokio::time::Instant::now() + Duration::from_secs(secs)).into_std()
    }

    #[tokio::test(start_paused = true)]
    async fn each_sleep_ends_at_its_own_deadline_on_one_shared_timer() {
        let timer = ConnectionTimer::default();
        let start = tokio::time::Instant::now();

        // A first sleep, given up before its deadline (a request's head came).
        let first = timer.sleep_until(after(10));
        assert!(
            tokio::time::timeout(Duration::from_secs(3), first)
                .await
                .is_err()
        );

        // The next one moves the deadline later and fires then, not at the
        // first sleep's deadline.
        timer.sleep_until(after(10)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(13));

        // After firing, a new deadline still works (the timer is re-filed).
        timer.sleep_until(after(2)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(15));

        // An earlier deadline than the timer's current one is honoured too.
        let late = timer.sleep_until(after(60));
        assert!(
            tokio::time::timeout(Duration::from_secs(1), late)
                .await
                .is_err()
        );
        timer.sleep_until(after(5)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(21));
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_past_its_deadline_is_ready_at_once() {
        let timer = ConnectionTimer::default();
        let past = tokio::time::Instant::now().into_std() - Duration::from_secs(1);
        let start = tokio::time::Instant::now();
        timer.sleep_until(past).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
