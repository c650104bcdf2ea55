//! Counting events in fixed time windows, per key: in this process, or in
//! Redis so that every instance of a site shares the counts. What login
//! throttling and API throttling are built on.
//!
//! Redis failing never fails a request: a counter that cannot be reached
//! counts nothing (it fails open) and says so in the log.
//!
//! ```
//! use std::time::Duration;
//! use estate::ratelimit::RateCounter;
//!
//! # async fn demo() {
//! let counter = RateCounter::memory();
//! let hit = counter.hit("user:7", Duration::from_secs(60)).await;
//! assert_eq!(hit.count, 1);
//! # }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::AsyncCommands as _;

/// Counters of events per key, each in a window that starts with its
/// first event. Cheap to clone (clones share the counts).
#[derive(Clone)]
pub struct RateCounter(Arc<Store>);

enum Store {
    /// In this process.
    Memory(Mutex<MemoryCounts>),
    /// In Redis: keys are `{prefix}:{key}`.
    Redis(redis::aio::ConnectionManager, String),
}

/// In-memory counts: key → (count, start of its window).
#[derive(Default)]
struct MemoryCounts {
    counts: HashMap<String, (u32, Instant)>,
    swept: Option<Instant>,
}

/// Entries kept in memory before expired ones are swept (at most once a
/// second, so a flood cannot make every event pay for a full sweep).
const SWEEP_AT: usize = 10_000;

/// One counted event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Events under the key in the current window, this one included (0
    /// when Redis could not be reached).
    pub count: u32,
    /// When the window ends and the count starts again.
    pub resets_in: Duration,
}

impl std::fmt::Debug for RateCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match &*self.0 {
            Store::Memory(_) => "RateCounter(memory)",
            Store::Redis(..) => "RateCounter(redis)",
        })
    }
}

impl RateCounter {
    /// Counts in this process (one instance; lost at restart).
    pub fn memory() -> RateCounter {
        RateCounter(Arc::new(Store::Memory(Mutex::default())))
    }

    /// Counts in Redis at `url`, under keys starting with `prefix` (name
    /// what is counted and the site, so sites sharing a Redis keep apart).
    ///
    /// # Errors
    /// When Redis cannot be reached at startup.
    pub async fn redis(url: &str, prefix: &str) -> crate::Result<RateCounter> {
        let connection = crate::sessions::connect_redis(url)
            .await
            .map_err(|err| crate::Error::msg(format!("redis at {url}: {err}")))?;
        Ok(RateCounter::from_connection(connection, prefix))
    }

    pub(crate) fn from_connection(
        connection: redis::aio::ConnectionManager,
        prefix: &str,
    ) -> RateCounter {
        RateCounter(Arc::new(Store::Redis(connection, prefix.to_owned())))
    }

    /// Counts one event under `key`.
    pub async fn hit(&self, key: &str, window: Duration) -> Hit {
        match &*self.0 {
            Store::Memory(counts) => {
                let mut counts = counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let sweep_due = counts
                    .swept
                    .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
                if counts.counts.len() >= SWEEP_AT && sweep_due {
                    counts
                        .counts
                        .retain(|_, (_, start)| start.elapsed() < window);
                    counts.swept = Some(Instant::now());
                }
                let entry = counts
                    .counts
                    .entry(key.to_owned())
                    .or_insert((0, Instant::now()));
                if entry.1.elapsed() >= window {
                    *entry = (0, Instant::now());
                }
                entry.0 += 1;
                Hit {
                    count: entry.0,
                    resets_in: window.saturating_sub(entry.1.elapsed()),
                }
            }
            Store::Redis(connection, prefix) => {
                let mut connection = connection.clone();
                let key = format!("{prefix}:{key}");
                // The window starts with the first event: SET NX with an
                // expiry, then INCR (which keeps it), in one transaction.
                let result: redis::RedisResult<(Option<String>, u32, i64)> = redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(&key)
                    .arg(0)
                    .arg("PX")
                    .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1))
                    .arg("NX")
                    .incr(&key, 1)
                    .cmd("PTTL")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await;
                match result {
                    Ok((_, count, ttl)) => Hit {
                        count,
                        resets_in: Duration::from_millis(u64::try_from(ttl).unwrap_or(0)),
                    },
                    Err(err) => {
                        tracing::warn!(target: "estate::ratelimit", "redis: {err} (not counted)");
                        Hit {
                            count: 0,
                            resets_in: Duration::ZERO,
                        }
                    }
                }
            }
        }
    }

    /// Takes back one event under `key` (never below zero).
    pub async fn take_back(&self, key: &str) {
        match &*self.0 {
            Store::Memory(counts) => {
                let mut counts = counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(entry) = counts.counts.get_mut(key) {
                    entry.0 = entry.0.saturating_sub(1);
                }
            }
            Store::Redis(connection, prefix) => {
                let mut connection = connection.clone();
                const SCRIPT: &str = "local n = tonumber(redis.call('GET', KEYS[1]) or '0') \
                                      if n > 0 then return redis.call('DECR', KEYS[1]) end return 0";
                let result: redis::RedisResult<i64> = redis::cmd("EVAL")
                    .arg(SCRIPT)
                    .arg(1)
                    .arg(format!("{prefix}:{key}"))
                    .query_async(&mut connection)
                    .await;
                if let Err(err) = result {
                    tracing::warn!(target: "estate::ratelimit", "redis: {err}");
                }
            }
        }
    }

    /// Forgets the events under `key`.
    pub async fn clear(&self, key: &str) {
        match &*self.0 {
            Store::Memory(counts) => {
                counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .counts
                    .remove(key);
            }
            Store::Redis(connection, prefix) => {
                let mut connection = connection.clone();
                if let Err(err) = connection.del::<_, i64>(format!("{prefix}:{key}")).await {
                    tracing::warn!(target: "estate::ratelimit", "redis: {err}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_counts_per_key_and_window() {
        let counter = RateCounter::memory();
        let window = Duration::from_millis(200);
        assert_eq!(counter.hit("a", window).await.count, 1);
        let second = counter.hit("a", window).await;
        assert_eq!(second.count, 2);
        assert!(second.resets_in <= window && second.resets_in > Duration::ZERO);
        assert_eq!(counter.hit("b", window).await.count, 1);
        counter.take_back("a").await;
        assert_eq!(counter.hit("a", window).await.count, 2);
        counter.clear("a").await;
        assert_eq!(counter.hit("a", window).await.count, 1);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(counter.hit("b", window).await.count, 1, "a new window");
    }
}
