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
//! still fires at the deadline hyper asked for. A sleep polled again by the
//! task that polled the timer last, with the timer not moved since, returns
//! at once: the timer already holds that task's waker.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A [`hyper::rt::Timer`] for one connection (make one per connection).
#[derive(Clone, Default)]
pub(crate) struct ConnectionTimer {
    /// The connection's tokio timer. Only the connection's task polls it;
    /// the mutex is for `Sync`, never contended.
    shared: Arc<Mutex<Shared>>,
}

/// The connection's timer and what it was last polled with.
#[derive(Default)]
struct Shared {
    /// The tokio timer, made by the first sleep.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The waker of the timer's last poll, until the timer is moved. A
    /// future wakes the waker of its latest poll, so polling it again with
    /// one that wakes the same task, at the same deadline, cannot change
    /// anything: hyper polls its sleep once a request, and skipping that
    /// poll saves the timer's bookkeeping (~400 instructions a request).
    polled_with: Option<std::task::Waker>,
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
    shared: Arc<Mutex<Shared>>,
    deadline: tokio::time::Instant,
}

impl Future for ConnectionSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let Shared { timer, polled_with } = &mut *shared;
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(self.deadline)));
        // A later deadline than the timer's waits until the timer fires
        // (below), so a busy connection moves the timer once per timeout,
        // not once per request; an earlier one moves it now.
        if timer.deadline() > self.deadline {
            timer.as_mut().reset(self.deadline);
            *polled_with = None;
        }
        if !timer.is_elapsed()
            && polled_with
                .as_ref()
                .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        loop {
            if timer.as_mut().poll(cx).is_pending() {
                *polled_with = Some(cx.waker().clone());
                return Poll::Pending;
            }
            if timer.deadline() >= self.deadline {
                *polled_with = None;
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

    /// A waker that records being woken.
    struct Flag(std::sync::atomic::AtomicBool);

    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn flag() -> (Arc<Flag>, std::task::Waker) {
        let flag = Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
        (flag.clone(), std::task::Waker::from(flag))
    }

    #[tokio::test(start_paused = true)]
    async fn the_waker_of_the_latest_poll_is_the_one_woken() {
        let timer = ConnectionTimer::default();
        let mut sleep = timer.sleep_until(after(5));
        let (first, first_waker) = flag();
        let (second, second_waker) = flag();
        let mut first_cx = Context::from_waker(&first_waker);
        let mut second_cx = Context::from_waker(&second_waker);
        assert!(sleep.as_mut().poll(&mut first_cx).is_pending());
        // Polled again by the same waker (skipped), then by another one.
        assert!(sleep.as_mut().poll(&mut first_cx).is_pending());
        assert!(sleep.as_mut().poll(&mut second_cx).is_pending());

        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(second.0.load(std::sync::atomic::Ordering::SeqCst));
        assert!(!first.0.load(std::sync::atomic::Ordering::SeqCst));
        assert!(sleep.as_mut().poll(&mut second_cx).is_ready());

        // A later sleep polled by the same waker as the timer's last poll
        // still registers: the timer was moved in between.
        let mut later = timer.sleep_until(after(5));
        let (third, third_waker) = flag();
        let mut third_cx = Context::from_waker(&third_waker);
        assert!(later.as_mut().poll(&mut third_cx).is_pending());
        assert!(later.as_mut().poll(&mut third_cx).is_pending());
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(third.0.load(std::sync::atomic::Ordering::SeqCst));
        assert!(later.as_mut().poll(&mut third_cx).is_ready());
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
