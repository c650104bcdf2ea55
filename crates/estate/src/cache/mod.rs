//! The cache framework, as Django's `django.core.cache`: keep computed
//! values (query results, rendered fragments, whole pages) for a while, in
//! this process or in Redis shared by every instance of the site.
//!
//! Every app has a [`Cache`], configured by the `[cache]` settings
//! ([`CacheSettings`]; in memory by default). Take it in a handler:
//!
//! ```
//! use std::time::Duration;
//! use estate::cache::{Cache, Expiry};
//!
//! async fn front_page_count(cache: Cache) -> estate::Result<String> {
//!     let count: i64 = cache
//!         .get_or_set("front:count", Duration::from_secs(60), || async {
//!             // An expensive query, say.
//!             Ok::<_, estate::Error>(42)
//!         })
//!         .await?;
//!     Ok(format!("{count} questions"))
//! }
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! # rt.block_on(async {
//! let cache = Cache::memory();
//! assert_eq!(front_page_count(cache.clone()).await.unwrap(), "42 questions");
//! cache.set("visits", &1, Expiry::Default).await.unwrap();
//! assert_eq!(cache.incr("visits", 1).await.unwrap(), Some(2));
//! # });
//! ```
//!
//! - Values are anything serde can write (stored as JSON); keys are
//!   strings, stored as `{key_prefix}:{version}:{key}` like Django's.
//! - [`Route::cache_page`](crate::routing::Route::cache_page) caches whole
//!   responses (`@cache_page`), honouring `Vary` and `Cache-Control`.
//! - `{% call cache("sidebar", 600, user.id) %}...{% endcall %}` in a
//!   template caches a fragment (`{% cache %}`).
//! - [`Cache::lock`] takes a lock that holds across instances (with Redis).
//! - A cache that fails (Redis down) reads as a miss and writes as no-ops,
//!   with a warning in the log, never a 500; `cache.raise_errors = true`
//!   makes failures errors instead.

mod backend;
mod fragment;
mod lock;
mod memory;
pub(crate) mod page;
mod redis;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use backend::{BackendError, CacheBackend};
pub use fragment::fragment_key;
pub(crate) use fragment::register as register_template_function;
pub use lock::CacheLock;
pub use memory::{DummyCache, MemoryCache};
pub use redis::RedisCache;

/// Which store the `[cache]` settings choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheBackendKind {
    /// In this process, bounded by `cache.max_entries` (default).
    Memory,
    /// Redis at `cache.redis_url`, shared by every instance.
    Redis,
    /// Nothing is kept (every read misses).
    Dummy,
}

/// The `[cache]` section of `estate.toml` (`ESTATE_CACHE__<KEY>` in the
/// environment): Django's `CACHES["default"]`.
///
/// ```toml
/// [cache]
/// backend = "redis"
/// redis_url = "redis://127.0.0.1:6379/1"
/// key_prefix = "mysite"
/// default_timeout = 300
/// ```
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CacheSettings {
    /// `"memory"` (default), `"redis"` or `"dummy"`.
    pub backend: CacheBackendKind,
    /// The Redis server of the `redis` backend: `redis://127.0.0.1:6379/1`.
    pub redis_url: Option<String>,
    /// Put before every key (`{key_prefix}:{version}:{key}`): name the site
    /// when several share one Redis. Default empty.
    pub key_prefix: String,
    /// The default key version; raise it to make every old entry unseen.
    /// Default 1.
    pub version: u64,
    /// Seconds an entry lives when the caller does not say
    /// ([`Expiry::Default`]); `0` keeps entries until evicted. Default 300.
    pub default_timeout: u64,
    /// Entries the memory backend holds before evicting the least recently
    /// used. Default 1000.
    pub max_entries: usize,
    /// Return the store's failures as errors instead of treating them as
    /// misses. Default off (a broken cache never breaks a page).
    pub raise_errors: bool,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            backend: CacheBackendKind::Memory,
            redis_url: None,
            key_prefix: String::new(),
            version: 1,
            default_timeout: 300,
            max_entries: 1000,
            raise_errors: false,
        }
    }
}

/// How long a stored value lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expiry {
    /// The cache's default (`cache.default_timeout`).
    #[default]
    Default,
    /// This long; zero stores nothing (and removes what was there).
    After(Duration),
    /// Until evicted or deleted.
    Never,
}

impl From<Duration> for Expiry {
    fn from(duration: Duration) -> Self {
        Expiry::After(duration)
    }
}

/// A cache operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The store failed (only returned with `cache.raise_errors`, and by
    /// [`Cache::lock`], which cannot pretend).
    #[error("the {backend} cache is unavailable: {reason}")]
    Unavailable {
        /// `memory`, `redis`...
        backend: &'static str,
        /// What the store said.
        reason: String,
    },
    /// `incr`/`decr` on a value that is not an integer.
    #[error(
        "cache key {key:?} does not hold an integer: incr and decr need one (store it with \
         cache.set(key, &0, ..) first)"
    )]
    NotAnInteger {
        /// The caller's key.
        key: String,
    },
    /// The value could not be written as JSON.
    #[error("the value for cache key {key:?} cannot be stored: {reason}")]
    Unstorable {
        /// The caller's key.
        key: String,
        /// serde's message.
        reason: String,
    },
}

/// A handle on the site's cache. Cheap to clone; clones share the store.
/// Also an extractor (the app's cache).
#[derive(Clone)]
pub struct Cache {
    shared: Arc<Shared>,
    version: u64,
}

struct Shared {
    backend: Arc<dyn CacheBackend>,
    key_prefix: String,
    default_ttl: Option<Duration>,
    raise_errors: bool,
    /// When a failure was last logged (seconds since the epoch), so an
    /// outage logs a warning every few seconds, not one per request.
    last_warning: AtomicU64,
}

/// Seconds between two "cache unavailable" warnings.
const WARNING_INTERVAL_SECS: u64 = 10;

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("backend", &self.shared.backend.name())
            .field("key_prefix", &self.shared.key_prefix)
            .field("version", &self.version)
            .finish()
    }
}

impl Cache {
    /// A cache over `backend`, with Django's defaults: no key prefix,
    /// version 1, entries living 300 seconds, failures read as misses.
    pub fn new(backend: impl CacheBackend) -> Cache {
        Cache::from_arc(Arc::new(backend), &CacheSettings::default())
    }

    /// An in-memory cache of 1000 entries.
    pub fn memory() -> Cache {
        Cache::new(MemoryCache::new(CacheSettings::default().max_entries))
    }

    /// The cache the `[cache]` settings describe. Redis is not contacted
    /// yet (a site starts while it is away).
    ///
    /// # Errors
    /// When the settings are incomplete (`redis` without `redis_url`) or
    /// the URL is invalid; the message names the key.
    pub fn from_settings(settings: &CacheSettings) -> crate::Result<Cache> {
        let backend: Arc<dyn CacheBackend> = match settings.backend {
            CacheBackendKind::Memory => Arc::new(MemoryCache::new(settings.max_entries)),
            CacheBackendKind::Dummy => Arc::new(DummyCache),
            CacheBackendKind::Redis => {
                let url = settings.redis_url.as_deref().ok_or_else(|| {
                    crate::Error::msg(
                        "cache.backend is \"redis\" but cache.redis_url is not set: add \
                         redis_url = \"redis://127.0.0.1:6379/1\" under [cache] (or \
                         ESTATE_CACHE__REDIS_URL), or choose cache.backend = \"memory\"",
                    )
                })?;
                Arc::new(
                    RedisCache::new(url)
                        .map_err(|err| crate::Error::msg(format!("cache.redis_url: {err}")))?,
                )
            }
        };
        Ok(Cache::from_arc(backend, settings))
    }

    fn from_arc(backend: Arc<dyn CacheBackend>, settings: &CacheSettings) -> Cache {
        Cache {
            shared: Arc::new(Shared {
                backend,
                key_prefix: settings.key_prefix.clone(),
                default_ttl: (settings.default_timeout > 0)
                    .then(|| Duration::from_secs(settings.default_timeout)),
                raise_errors: settings.raise_errors,
                last_warning: AtomicU64::new(0),
            }),
            version: settings.version,
        }
    }

    /// The same store with another key prefix (a new cache of its own
    /// settings: version and default expiry are kept).
    #[must_use]
    pub fn with_key_prefix(&self, prefix: impl Into<String>) -> Cache {
        self.rebuilt(|shared| shared.key_prefix = prefix.into())
    }

    /// The same store, its failures returned as errors (`true`) or read
    /// as misses (`false`, the default).
    #[must_use]
    pub fn with_raise_errors(&self, raise: bool) -> Cache {
        self.rebuilt(|shared| shared.raise_errors = raise)
    }

    /// The same store with another default expiry.
    #[must_use]
    pub fn with_default_expiry(&self, expiry: Expiry) -> Cache {
        let ttl = match expiry {
            Expiry::Default => self.shared.default_ttl,
            Expiry::After(duration) => Some(duration),
            Expiry::Never => None,
        };
        self.rebuilt(|shared| shared.default_ttl = ttl)
    }

    fn rebuilt(&self, change: impl FnOnce(&mut Shared)) -> Cache {
        let mut shared = Shared {
            backend: self.shared.backend.clone(),
            key_prefix: self.shared.key_prefix.clone(),
            default_ttl: self.shared.default_ttl,
            raise_errors: self.shared.raise_errors,
            last_warning: AtomicU64::new(0),
        };
        change(&mut shared);
        Cache {
            shared: Arc::new(shared),
            version: self.version,
        }
    }

    /// The same cache reading and writing keys of `version` (Django's
    /// `version=` argument).
    #[must_use]
    pub fn version(&self, version: u64) -> Cache {
        Cache {
            shared: self.shared.clone(),
            version,
        }
    }

    /// The key version this handle uses.
    pub fn current_version(&self) -> u64 {
        self.version
    }

    /// The store's name: `memory`, `redis` or `dummy`.
    pub fn backend_name(&self) -> &'static str {
        self.shared.backend.name()
    }

    /// The full key stored for `key`: `{key_prefix}:{version}:{key}`.
    pub fn make_key(&self, key: &str) -> String {
        format!("{}:{}:{key}", self.shared.key_prefix, self.version)
    }

    /// Every key this cache writes starts with this.
    fn namespace(&self) -> String {
        format!("{}:", self.shared.key_prefix)
    }

    fn ttl(&self, expiry: Expiry) -> Option<Duration> {
        match expiry {
            Expiry::Default => self.shared.default_ttl,
            Expiry::After(duration) => Some(duration),
            Expiry::Never => None,
        }
    }

    /// A store failure: an error with `raise_errors`, else `fallback` and a
    /// (rate-limited) warning.
    fn soft<T>(&self, operation: &str, err: BackendError, fallback: T) -> Result<T, CacheError> {
        let backend = self.backend_name();
        if self.shared.raise_errors {
            return Err(CacheError::Unavailable {
                backend,
                reason: err.to_string(),
            });
        }
        self.warn(operation, &err);
        Ok(fallback)
    }

    fn warn(&self, operation: &str, err: &BackendError) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.shared.last_warning.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= WARNING_INTERVAL_SECS
            && self
                .shared
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                target: "estate::cache",
                backend = self.backend_name(),
                operation,
                error = %err,
                "cache unavailable; treating it as a miss (set cache.raise_errors to fail instead)"
            );
        }
    }

    fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>, CacheError> {
        serde_json::to_vec(value).map_err(|err| CacheError::Unstorable {
            key: key.to_owned(),
            reason: err.to_string(),
        })
    }

    fn decode<T: DeserializeOwned>(&self, key: &str, bytes: &[u8]) -> Option<T> {
        match serde_json::from_slice(bytes) {
            Ok(value) => Some(value),
            Err(err) => {
                // Written by another version of the code, say: a miss.
                tracing::warn!(
                    target: "estate::cache",
                    key,
                    error = %err,
                    "cached value does not fit the type asked for; treating it as a miss"
                );
                None
            }
        }
    }

    /// The value under `key`, or `None` when missing, expired, of another
    /// shape than `T`, or when the cache is unavailable.
    ///
    /// # Errors
    /// Only with `cache.raise_errors`, when the store fails.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, CacheError> {
        Ok(self
            .get_bytes(key)
            .await?
            .and_then(|bytes| self.decode(key, &bytes)))
    }

    /// The raw bytes under `key` (for values that are not JSON).
    ///
    /// # Errors
    /// Only with `cache.raise_errors`, when the store fails.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        match self.shared.backend.get(&self.make_key(key)).await {
            Ok(found) => Ok(found),
            Err(err) => self.soft("get", err, None),
        }
    }

    /// The values of those `keys` that are present.
    ///
    /// # Errors
    /// Only with `cache.raise_errors`, when the store fails.
    pub async fn get_many<T: DeserializeOwned>(
        &self,
        keys: &[&str],
    ) -> Result<HashMap<String, T>, CacheError> {
        let full: Vec<String> = keys.iter().map(|key| self.make_key(key)).collect();
        let found = match self.shared.backend.get_many(&full).await {
            Ok(found) => found,
            Err(err) => return self.soft("get_many", err, HashMap::new()),
        };
        Ok(keys
            .iter()
            .zip(found)
            .filter_map(|(key, bytes)| {
                let value = self.decode(key, &bytes?)?;
                Some(((*key).to_owned(), value))
            })
            .collect())
    }

    /// Stores `value` under `key` for `expiry` (a [`Duration`], or an
    /// [`Expiry`]).
    ///
    /// # Errors
    /// When `value` cannot be written as JSON; with `cache.raise_errors`,
    /// when the store fails.
    pub async fn set<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        expiry: impl Into<Expiry>,
    ) -> Result<(), CacheError> {
        let bytes = Self::encode(key, value)?;
        self.set_bytes(key, &bytes, expiry).await
    }

    /// Stores raw bytes under `key`.
    ///
    /// # Errors
    /// With `cache.raise_errors`, when the store fails.
    pub async fn set_bytes(
        &self,
        key: &str,
        value: &[u8],
        expiry: impl Into<Expiry>,
    ) -> Result<(), CacheError> {
        let full = self.make_key(key);
        let result = match self.ttl(expiry.into()) {
            Some(ttl) if ttl.is_zero() => self
                .shared
                .backend
                .delete_many(std::slice::from_ref(&full))
                .await
                .map(drop),
            ttl => self.shared.backend.set(&full, value, ttl).await,
        };
        match result {
            Ok(()) => Ok(()),
            Err(err) => self.soft("set", err, ()),
        }
    }

    /// Stores every entry, all for `expiry`, in one round trip.
    ///
    /// # Errors
    /// When a value cannot be written as JSON; with `cache.raise_errors`,
    /// when the store fails.
    pub async fn set_many<K: AsRef<str>, T: Serialize>(
        &self,
        entries: impl IntoIterator<Item = (K, T)>,
        expiry: impl Into<Expiry>,
    ) -> Result<(), CacheError> {
        let mut encoded = Vec::new();
        for (key, value) in entries {
            let key = key.as_ref();
            encoded.push((self.make_key(key), Self::encode(key, &value)?));
        }
        let result = match self.ttl(expiry.into()) {
            Some(ttl) if ttl.is_zero() => {
                let keys: Vec<String> = encoded.into_iter().map(|(key, _)| key).collect();
                self.shared.backend.delete_many(&keys).await.map(drop)
            }
            ttl => self.shared.backend.set_many(&encoded, ttl).await,
        };
        match result {
            Ok(()) => Ok(()),
            Err(err) => self.soft("set_many", err, ()),
        }
    }

    /// Stores `value` only if `key` holds nothing; whether it was stored
    /// (`false` also when the cache is unavailable).
    ///
    /// # Errors
    /// When `value` cannot be written as JSON; with `cache.raise_errors`,
    /// when the store fails.
    pub async fn add<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        expiry: impl Into<Expiry>,
    ) -> Result<bool, CacheError> {
        let bytes = Self::encode(key, value)?;
        let ttl = self.ttl(expiry.into());
        if ttl.is_some_and(|ttl| ttl.is_zero()) {
            return Ok(false);
        }
        match self
            .shared
            .backend
            .add(&self.make_key(key), &bytes, ttl)
            .await
        {
            Ok(added) => Ok(added),
            Err(err) => self.soft("add", err, false),
        }
    }

    /// Removes `key`; whether it was there.
    ///
    /// # Errors
    /// With `cache.raise_errors`, when the store fails.
    pub async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        Ok(self.delete_many(&[key]).await? > 0)
    }

    /// Removes the `keys`; how many were there.
    ///
    /// # Errors
    /// With `cache.raise_errors`, when the store fails.
    pub async fn delete_many(&self, keys: &[&str]) -> Result<u64, CacheError> {
        let full: Vec<String> = keys.iter().map(|key| self.make_key(key)).collect();
        match self.shared.backend.delete_many(&full).await {
            Ok(removed) => Ok(removed),
            Err(err) => self.soft("delete", err, 0),
        }
    }

    /// Adds `delta` to the integer under `key`, atomically (across
    /// instances with Redis), keeping its expiry. The new value, or `None`
    /// when the key holds nothing (or the cache is unavailable); Django
    /// raises `ValueError` there.
    ///
    /// # Errors
    /// When the value is not an integer; with `cache.raise_errors`, when
    /// the store fails.
    pub async fn incr(&self, key: &str, delta: i64) -> Result<Option<i64>, CacheError> {
        match self.shared.backend.incr(&self.make_key(key), delta).await {
            Ok(value) => Ok(value),
            Err(BackendError::NotAnInteger) => Err(CacheError::NotAnInteger {
                key: key.to_owned(),
            }),
            Err(err) => self.soft("incr", err, None),
        }
    }

    /// Subtracts `delta`: `incr(key, -delta)`.
    ///
    /// # Errors
    /// As [`Cache::incr`].
    pub async fn decr(&self, key: &str, delta: i64) -> Result<Option<i64>, CacheError> {
        self.incr(key, delta.saturating_neg()).await
    }

    /// Gives `key` a new expiry; whether it was there.
    ///
    /// # Errors
    /// With `cache.raise_errors`, when the store fails.
    pub async fn touch(&self, key: &str, expiry: impl Into<Expiry>) -> Result<bool, CacheError> {
        let ttl = self.ttl(expiry.into());
        match self.shared.backend.touch(&self.make_key(key), ttl).await {
            Ok(found) => Ok(found),
            Err(err) => self.soft("touch", err, false),
        }
    }

    /// The value under `key`; on a miss, `compute`s it, stores it for
    /// `expiry` and returns it. A cache that fails only costs the compute.
    ///
    /// # Errors
    /// What `compute` returns; with `cache.raise_errors`, a store failure.
    pub async fn get_or_set<T, E, F, Fut>(
        &self,
        key: &str,
        expiry: impl Into<Expiry>,
        compute: F,
    ) -> crate::Result<T>
    where
        T: Serialize + DeserializeOwned,
        E: Into<crate::Error>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(found) = self.get(key).await? {
            return Ok(found);
        }
        let value = compute().await.map_err(Into::into)?;
        self.set(key, &value, expiry).await?;
        Ok(value)
    }

    /// Moves `key` to the next version (Django's `incr_version`): what this
    /// handle's version held is now under `version + 1`. The new version,
    /// or `None` when the key held nothing.
    ///
    /// # Errors
    /// With `cache.raise_errors`, when the store fails.
    pub async fn incr_version(&self, key: &str) -> Result<Option<u64>, CacheError> {
        let Some(bytes) = self.get_bytes(key).await? else {
            return Ok(None);
        };
        let next = self.version(self.version + 1);
        next.set_bytes(key, &bytes, Expiry::Default).await?;
        self.delete(key).await?;
        Ok(Some(next.version))
    }

    /// Removes every entry of this cache (every key under its prefix, all
    /// versions); what else shares the store is kept.
    ///
    /// # Errors
    /// With `cache.raise_errors`, when the store fails.
    pub async fn clear(&self) -> Result<(), CacheError> {
        match self.shared.backend.clear(&self.namespace()).await {
            Ok(()) => Ok(()),
            Err(err) => self.soft("clear", err, ()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Cache {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = crate::AppContext::from_request_parts(parts, state).await?;
        context.get::<Cache>().cloned().ok_or_else(|| {
            crate::Error::msg("the app's cache is missing: serve the handler inside an Estate App")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_and_versioned_like_django() {
        let cache = Cache::memory().with_key_prefix("site");
        assert_eq!(cache.make_key("a"), "site:1:a");
        assert_eq!(cache.version(3).make_key("a"), "site:3:a");
        assert_eq!(Cache::memory().make_key("a"), ":1:a");
    }
}
