//! Limits on failed logins, per account and per client address (something
//! Django leaves to third-party packages): after too many failures in a
//! window, logins are refused with 429 until the window has passed. Counts
//! live in memory (one process) or in Redis (shared by every instance).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::AsyncCommands as _;

/// The counters of login attempts.
pub(crate) enum Counters {
    /// In this process.
    Memory(Mutex<MemoryCounts>),
    /// In Redis, shared by every instance of the site; keys start with
    /// the site's namespace, so sites sharing a Redis keep apart.
    Redis(redis::aio::ConnectionManager, String),
}

/// In-memory counts: key → (count, start of its window).
#[derive(Default)]
pub(crate) struct MemoryCounts {
    counts: HashMap<String, (u32, Instant)>,
    swept: Option<Instant>,
}

/// Entries kept in memory before expired ones are swept (at most once a
/// second, so a flood cannot make every attempt pay for a full sweep).
const SWEEP_AT: usize = 10_000;

impl Counters {
    /// Counts one more attempt under `key` and returns the count in the
    /// current window (0 when Redis cannot be reached: it fails open, and
    /// says so in the log).
    async fn increment(&self, key: &str, window: Duration) -> u32 {
        match self {
            Counters::Memory(counts) => {
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
                entry.0
            }
            Counters::Redis(connection, namespace) => {
                let mut connection = connection.clone();
                let key = redis_key(namespace, key);
                // The window starts with the first attempt: SET NX with an
                // expiry, then INCR (which keeps it), in one transaction.
                let result: redis::RedisResult<(Option<String>, u32)> = redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(&key)
                    .arg(0)
                    .arg("EX")
                    .arg(window.as_secs().max(1))
                    .arg("NX")
                    .incr(&key, 1)
                    .query_async(&mut connection)
                    .await;
                match result {
                    Ok((_, count)) => count,
                    Err(err) => {
                        tracing::warn!(target: "estate::auth", "login throttle: redis: {err}");
                        0
                    }
                }
            }
        }
    }

    /// Takes back one attempt under `key` (never below zero).
    async fn decrement(&self, key: &str) {
        match self {
            Counters::Memory(counts) => {
                let mut counts = counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(entry) = counts.counts.get_mut(key) {
                    entry.0 = entry.0.saturating_sub(1);
                }
            }
            Counters::Redis(connection, namespace) => {
                let mut connection = connection.clone();
                const SCRIPT: &str = "local n = tonumber(redis.call('GET', KEYS[1]) or '0') \
                                      if n > 0 then return redis.call('DECR', KEYS[1]) end return 0";
                let result: redis::RedisResult<i64> = redis::cmd("EVAL")
                    .arg(SCRIPT)
                    .arg(1)
                    .arg(redis_key(namespace, key))
                    .query_async(&mut connection)
                    .await;
                if let Err(err) = result {
                    tracing::warn!(target: "estate::auth", "login throttle: redis: {err}");
                }
            }
        }
    }

    /// Forgets the attempts under `key`.
    async fn clear(&self, key: &str) {
        match self {
            Counters::Memory(counts) => {
                counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .counts
                    .remove(key);
            }
            Counters::Redis(connection, namespace) => {
                let mut connection = connection.clone();
                if let Err(err) = connection.del::<_, i64>(redis_key(namespace, key)).await {
                    tracing::warn!(target: "estate::auth", "login throttle: redis: {err}");
                }
            }
        }
    }
}

fn redis_key(namespace: &str, key: &str) -> String {
    format!("estate:login-failures:{namespace}:{key}")
}

/// The login limits of the `[auth]` settings: attempts are counted before
/// the password is checked, so concurrent guesses cannot slip through
/// between a check and a count; a successful login takes its attempt back.
pub struct LoginThrottle {
    counters: Counters,
    per_account: u32,
    per_address: u32,
    window: Duration,
}

fn address_key(address: &str) -> String {
    format!("address:{address}")
}

impl LoginThrottle {
    pub(crate) fn new(
        counters: Counters,
        per_account: u32,
        per_address: u32,
        window: Duration,
    ) -> Self {
        LoginThrottle {
            counters,
            per_account,
            per_address,
            window,
        }
    }

    /// Counts a login attempt for `account` (a key naming the account: the
    /// user's id when the username exists) from `address`.
    ///
    /// # Errors
    /// How long to wait, when this attempt is over a limit (it must be
    /// refused without checking the password).
    pub async fn attempt(&self, account: &str, address: Option<&str>) -> Result<(), Duration> {
        if self.per_account > 0
            && self
                .counters
                .increment(&format!("account:{account}"), self.window)
                .await
                > self.per_account
        {
            return Err(self.window);
        }
        if let Some(address) = address
            && self.per_address > 0
            && self
                .counters
                .increment(&address_key(address), self.window)
                .await
                > self.per_address
        {
            return Err(self.window);
        }
        Ok(())
    }

    /// A successful login: the account's count is cleared and the
    /// address's attempt taken back (one good password does not excuse
    /// guessing others).
    pub async fn succeeded(&self, account: &str, address: Option<&str>) {
        self.counters.clear(&format!("account:{account}")).await;
        if let Some(address) = address
            && self.per_address > 0
        {
            self.counters.decrement(&address_key(address)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accounts_and_addresses_are_limited_separately_and_recover() {
        let throttle = LoginThrottle::new(
            Counters::Memory(Mutex::default()),
            3,
            5,
            Duration::from_millis(200),
        );
        for _ in 0..3 {
            assert!(throttle.attempt("ann", Some("10.0.0.1")).await.is_ok());
        }
        // The account is locked, from anywhere.
        assert!(throttle.attempt("ann", Some("10.0.0.2")).await.is_err());
        // Other accounts from the same address, until the address limit
        // (5 attempts counted there so far: 3 + bob + carl).
        assert!(throttle.attempt("bob", Some("10.0.0.1")).await.is_ok());
        assert!(throttle.attempt("carl", Some("10.0.0.1")).await.is_ok());
        assert!(throttle.attempt("dora", Some("10.0.0.1")).await.is_err());
        assert!(throttle.attempt("dora", Some("10.0.0.9")).await.is_ok());
        // A success clears the account and takes the address's attempt back.
        throttle.succeeded("dora", Some("10.0.0.9")).await;
        assert!(throttle.attempt("erin", Some("10.0.0.9")).await.is_ok());
        // After the window, everything recovers.
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(throttle.attempt("ann", Some("10.0.0.1")).await.is_ok());
    }
}
