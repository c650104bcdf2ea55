//! Limits on failed logins, per account and per client address (something
//! Django leaves to third-party packages): after too many failures in a
//! window, logins are refused with 429 until the window has passed. Counts
//! live in memory (one process) or in Redis (shared by every instance).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::AsyncCommands as _;

/// The counters of failed logins.
pub(crate) enum Counters {
    /// In this process.
    Memory(Mutex<HashMap<String, (u32, Instant)>>),
    /// In Redis, shared by every instance.
    Redis(redis::aio::ConnectionManager),
}

/// Entries kept in memory before expired ones are swept.
const SWEEP_AT: usize = 10_000;

impl Counters {
    /// Failures counted under `key` in the current window.
    async fn get(&self, key: &str, window: Duration) -> u32 {
        match self {
            Counters::Memory(map) => {
                let map = map
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match map.get(key) {
                    Some((count, start)) if start.elapsed() < window => *count,
                    _ => 0,
                }
            }
            Counters::Redis(connection) => {
                let mut connection = connection.clone();
                match connection.get::<_, Option<u32>>(redis_key(key)).await {
                    Ok(count) => count.unwrap_or(0),
                    Err(err) => {
                        // Fail open: an unreachable Redis must not lock
                        // everyone out; it is logged.
                        tracing::warn!(target: "estate::auth", "login throttle: redis: {err}");
                        0
                    }
                }
            }
        }
    }

    /// Counts one more failure under `key`.
    async fn add(&self, key: &str, window: Duration) {
        match self {
            Counters::Memory(map) => {
                let mut map = map
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if map.len() >= SWEEP_AT {
                    map.retain(|_, (_, start)| start.elapsed() < window);
                }
                let entry = map.entry(key.to_owned()).or_insert((0, Instant::now()));
                if entry.1.elapsed() >= window {
                    *entry = (0, Instant::now());
                }
                entry.0 += 1;
            }
            Counters::Redis(connection) => {
                let mut connection = connection.clone();
                let key = redis_key(key);
                // The window starts with the first failure: SET NX with an
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
                if let Err(err) = result {
                    tracing::warn!(target: "estate::auth", "login throttle: redis: {err}");
                }
            }
        }
    }

    /// Forgets the failures under `key` (after a successful login).
    async fn clear(&self, key: &str) {
        match self {
            Counters::Memory(map) => {
                map.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(key);
            }
            Counters::Redis(connection) => {
                let mut connection = connection.clone();
                if let Err(err) = connection.del::<_, i64>(redis_key(key)).await {
                    tracing::warn!(target: "estate::auth", "login throttle: redis: {err}");
                }
            }
        }
    }
}

fn redis_key(key: &str) -> String {
    format!("estate:login-failures:{key}")
}

/// The failed-login limits of the `[auth]` settings.
pub(crate) struct LoginThrottle {
    counters: Counters,
    per_account: u32,
    per_address: u32,
    window: Duration,
}

fn account_key(username: &str) -> String {
    format!("account:{}", username.trim().to_lowercase())
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

    /// `Some(wait)` when logins for this account or from this address are
    /// refused for now.
    pub(crate) async fn refused(&self, username: &str, address: Option<&str>) -> Option<Duration> {
        if self.per_account > 0
            && self.counters.get(&account_key(username), self.window).await >= self.per_account
        {
            return Some(self.window);
        }
        if let Some(address) = address
            && self.per_address > 0
            && self.counters.get(&address_key(address), self.window).await >= self.per_address
        {
            return Some(self.window);
        }
        None
    }

    /// Counts a failed login.
    pub(crate) async fn failed(&self, username: &str, address: Option<&str>) {
        if self.per_account > 0 {
            self.counters.add(&account_key(username), self.window).await;
        }
        if let Some(address) = address
            && self.per_address > 0
        {
            self.counters.add(&address_key(address), self.window).await;
        }
    }

    /// A successful login clears the account's failures (not the
    /// address's: one good password does not excuse guessing others).
    pub(crate) async fn succeeded(&self, username: &str) {
        self.counters.clear(&account_key(username)).await;
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
            assert!(throttle.refused("Ann", Some("10.0.0.1")).await.is_none());
            throttle.failed("Ann", Some("10.0.0.1")).await;
        }
        // The account is locked, by any spelling, from anywhere.
        assert!(throttle.refused("ann", Some("10.0.0.2")).await.is_some());
        // Other accounts from the same address, until the address limit.
        assert!(throttle.refused("bob", Some("10.0.0.1")).await.is_none());
        throttle.failed("bob", Some("10.0.0.1")).await;
        throttle.failed("carl", Some("10.0.0.1")).await;
        assert!(throttle.refused("dora", Some("10.0.0.1")).await.is_some());
        assert!(throttle.refused("dora", Some("10.0.0.9")).await.is_none());
        // A success clears the account only.
        throttle.succeeded("bob").await;
        assert!(throttle.refused("bob", Some("10.0.0.3")).await.is_none());
        // After the window, everything recovers.
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(throttle.refused("ann", Some("10.0.0.1")).await.is_none());
    }
}
