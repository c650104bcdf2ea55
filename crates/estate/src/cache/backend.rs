//! The storage under a [`Cache`](super::Cache): what a backend must do.
//!
//! Backends see full keys (prefix and version already applied) and raw
//! bytes; the [`Cache`](super::Cache) handle adds keys, serialisation and
//! the "a broken cache is a miss" policy on top. Estate ships
//! [`MemoryCache`](super::MemoryCache), [`RedisCache`](super::RedisCache)
//! and [`DummyCache`](super::DummyCache); implement this trait for another
//! store (memcached, say) and hand it to [`Cache::new`](super::Cache::new).

use std::time::Duration;

use futures_util::future::BoxFuture;

/// Why a backend could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The store could not be reached or failed (Redis down, timed out).
    #[error("{0}")]
    Unavailable(String),
    /// `incr` on a value that is not an integer.
    #[error("the value is not an integer")]
    NotAnInteger,
}

/// A cache store. Every method is one round trip (or none) to the store;
/// `ttl: None` means the entry does not expire.
pub trait CacheBackend: Send + Sync + 'static {
    /// The value under `key`, if present and not expired.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, BackendError>>;

    /// The values under `keys`, in order (`None` where missing).
    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<Vec<u8>>>, BackendError>>;

    /// Stores `value` under `key`, replacing what was there.
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), BackendError>>;

    /// Stores every entry, all with the same expiry.
    fn set_many<'a>(
        &'a self,
        entries: &'a [(String, Vec<u8>)],
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), BackendError>>;

    /// Stores `value` only if `key` holds nothing; whether it did, atomically
    /// (what locks are built on).
    fn add<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<bool, BackendError>>;

    /// Removes the entries; how many there were.
    fn delete_many<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<u64, BackendError>>;

    /// Removes `key` only if it holds exactly `value`, atomically; whether
    /// it did (releasing a lock only its holder may release).
    fn delete_if_equal<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, BackendError>>;

    /// Adds `delta` to the integer under `key`, atomically, keeping its
    /// expiry; the new value, or `None` when `key` holds nothing.
    fn incr<'a>(
        &'a self,
        key: &'a str,
        delta: i64,
    ) -> BoxFuture<'a, Result<Option<i64>, BackendError>>;

    /// Gives `key` a new expiry; whether it existed.
    fn touch<'a>(
        &'a self,
        key: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<bool, BackendError>>;

    /// Removes every entry whose key starts with `prefix` (only those: a
    /// Redis shared with sessions or tasks keeps theirs).
    fn clear<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<(), BackendError>>;

    /// A short name for logs: `memory`, `redis`, `dummy`.
    fn name(&self) -> &'static str;
}
