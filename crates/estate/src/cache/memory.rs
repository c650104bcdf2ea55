//! The in-process cache: a bounded map, least recently used entries evicted
//! first, each entry with its own expiry. Django's `LocMemCache`.
//!
//! Every instance of a site has its own, so it suits one process (or data
//! that may differ between instances for a while); use
//! [`RedisCache`](super::RedisCache) to share entries and locks between
//! instances.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use lru::LruCache;

use super::backend::{BackendError, CacheBackend};

/// A bounded in-memory cache (LRU, per-entry expiry).
pub struct MemoryCache {
    entries: Mutex<LruCache<String, Entry>>,
}

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

impl MemoryCache {
    /// A cache of at most `max_entries` entries (at least one).
    pub fn new(max_entries: usize) -> MemoryCache {
        let capacity = NonZeroUsize::new(max_entries).unwrap_or(NonZeroUsize::MIN);
        MemoryCache {
            entries: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// How many entries are held (expired ones not yet evicted included).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Entry>> {
        // A panic while holding the lock cannot leave an entry half-written
        // (every change is one call on the map): go on with the data.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read(&self, key: &str, now: Instant) -> Option<Vec<u8>> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some(entry) if entry.live(now) => Some(entry.value.clone()),
            Some(_) => {
                entries.pop(key);
                None
            }
            None => None,
        }
    }

    fn write(&self, key: &str, value: &[u8], ttl: Option<Duration>) {
        let expires = ttl.map(|ttl| Instant::now() + ttl);
        self.lock().put(
            key.to_owned(),
            Entry {
                value: value.to_vec(),
                expires,
            },
        );
    }
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.lock();
        f.debug_struct("MemoryCache")
            .field("len", &entries.len())
            .field("cap", &entries.cap())
            .finish()
    }
}

/// A future that is ready at once (the memory cache never waits).
fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

impl CacheBackend for MemoryCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, BackendError>> {
        ready(Ok(self.read(key, Instant::now())))
    }

    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<Vec<u8>>>, BackendError>> {
        let now = Instant::now();
        ready(Ok(keys.iter().map(|key| self.read(key, now)).collect()))
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        self.write(key, value, ttl);
        ready(Ok(()))
    }

    fn set_many<'a>(
        &'a self,
        entries: &'a [(String, Vec<u8>)],
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        for (key, value) in entries {
            self.write(key, value, ttl);
        }
        ready(Ok(()))
    }

    fn add<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        let now = Instant::now();
        let mut entries = self.lock();
        // Checked and written under one lock: two callers cannot both add.
        if entries.get(key).is_some_and(|entry| entry.live(now)) {
            return ready(Ok(false));
        }
        entries.put(
            key.to_owned(),
            Entry {
                value: value.to_vec(),
                expires: ttl.map(|ttl| now + ttl),
            },
        );
        ready(Ok(true))
    }

    fn delete_many<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<u64, BackendError>> {
        let now = Instant::now();
        let mut entries = self.lock();
        let removed = keys
            .iter()
            .filter(|key| {
                entries
                    .pop(key.as_str())
                    .is_some_and(|entry| entry.live(now))
            })
            .count();
        ready(Ok(removed as u64))
    }

    fn delete_if_equal<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        let now = Instant::now();
        let mut entries = self.lock();
        let holds = entries
            .peek(key)
            .is_some_and(|entry| entry.live(now) && entry.value == value);
        if holds {
            entries.pop(key);
        }
        ready(Ok(holds))
    }

    fn incr<'a>(
        &'a self,
        key: &'a str,
        delta: i64,
    ) -> BoxFuture<'a, Result<Option<i64>, BackendError>> {
        let now = Instant::now();
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(key).filter(|entry| entry.live(now)) else {
            return ready(Ok(None));
        };
        let current = std::str::from_utf8(&entry.value)
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok());
        let result = match current.and_then(|n| n.checked_add(delta)) {
            Some(next) => {
                entry.value = next.to_string().into_bytes();
                Ok(Some(next))
            }
            None => Err(BackendError::NotAnInteger),
        };
        ready(result)
    }

    fn touch<'a>(
        &'a self,
        key: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        let now = Instant::now();
        let mut entries = self.lock();
        let found = match entries.get_mut(key).filter(|entry| entry.live(now)) {
            Some(entry) => {
                entry.expires = ttl.map(|ttl| now + ttl);
                true
            }
            None => false,
        };
        ready(Ok(found))
    }

    fn clear<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        // Handles with other prefixes may share this map: keep theirs.
        let mut entries = self.lock();
        let doomed: Vec<String> = entries
            .iter()
            .map(|(key, _)| key)
            .filter(|key| key.starts_with(prefix))
            .cloned()
            .collect();
        for key in doomed {
            entries.pop(&key);
        }
        ready(Ok(()))
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

/// A cache that keeps nothing (Django's `DummyCache`): every read misses,
/// every write succeeds. For development, or to switch caching off without
/// changing code.
#[derive(Debug, Default)]
pub struct DummyCache;

impl CacheBackend for DummyCache {
    fn get<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, BackendError>> {
        ready(Ok(None))
    }

    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<Vec<u8>>>, BackendError>> {
        ready(Ok(vec![None; keys.len()]))
    }

    fn set<'a>(
        &'a self,
        _key: &'a str,
        _value: &'a [u8],
        _ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        ready(Ok(()))
    }

    fn set_many<'a>(
        &'a self,
        _entries: &'a [(String, Vec<u8>)],
        _ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        ready(Ok(()))
    }

    fn add<'a>(
        &'a self,
        _key: &'a str,
        _value: &'a [u8],
        _ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        // Django's dummy cache says "added", and keeps nothing.
        ready(Ok(true))
    }

    fn delete_many<'a>(&'a self, _keys: &'a [String]) -> BoxFuture<'a, Result<u64, BackendError>> {
        ready(Ok(0))
    }

    fn delete_if_equal<'a>(
        &'a self,
        _key: &'a str,
        _value: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        ready(Ok(false))
    }

    fn incr<'a>(
        &'a self,
        _key: &'a str,
        _delta: i64,
    ) -> BoxFuture<'a, Result<Option<i64>, BackendError>> {
        ready(Ok(None))
    }

    fn touch<'a>(
        &'a self,
        _key: &'a str,
        _ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        ready(Ok(false))
    }

    fn clear<'a>(&'a self, _prefix: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        ready(Ok(()))
    }

    fn name(&self) -> &'static str {
        "dummy"
    }
}
