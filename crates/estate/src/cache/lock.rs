//! Locks in the cache: one holder at a time for a name, across every
//! instance sharing a Redis (within one process with the memory backend).
//! For "only one instance rebuilds this" or "one worker runs the nightly
//! job", not for guarding money: a holder that stalls past the lock's
//! lifetime loses it.
//!
//! ```
//! use std::time::Duration;
//! use estate::cache::Cache;
//!
//! # async fn demo(cache: Cache) -> estate::Result<()> {
//! if let Some(lock) = cache.lock("rebuild-index", Duration::from_secs(30)).await? {
//!     // ... only one instance gets here at a time ...
//!     lock.release().await?;
//! }
//! # Ok(()) }
//! ```

use std::time::{Duration, Instant};

use super::{Cache, CacheError};

/// A held lock. Released by [`CacheLock::release`], when dropped (in the
/// background), or by itself when its lifetime ends.
#[must_use = "a lock is released when dropped"]
pub struct CacheLock {
    cache: Cache,
    name: String,
    key: String,
    token: Vec<u8>,
    held: bool,
}

impl std::fmt::Debug for CacheLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheLock")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Cache {
    fn lock_key(&self, name: &str) -> String {
        // Not versioned: a lock must hold whatever version readers use.
        format!("{}:lock:{name}", self.shared.key_prefix)
    }

    /// Takes the lock `name` if nobody holds it, for at most `ttl` (after
    /// which it frees itself, should the holder die). `None` when it is
    /// held elsewhere.
    ///
    /// # Errors
    /// When the store fails, whatever `cache.raise_errors` says: a lock
    /// that cannot be checked is not taken.
    pub async fn lock(&self, name: &str, ttl: Duration) -> Result<Option<CacheLock>, CacheError> {
        let key = self.lock_key(name);
        let token = crate::crypto::get_random_string(32).into_bytes();
        let ttl = ttl.max(Duration::from_millis(1));
        match self.shared.backend.add(&key, &token, Some(ttl)).await {
            Ok(true) => Ok(Some(CacheLock {
                cache: self.clone(),
                name: name.to_owned(),
                key,
                token,
                held: true,
            })),
            Ok(false) => Ok(None),
            Err(err) => Err(CacheError::Unavailable {
                backend: self.backend_name(),
                reason: err.to_string(),
            }),
        }
    }

    /// Like [`Cache::lock`], trying again (every 50 ms, then less often)
    /// until it is taken or `wait` has passed.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn lock_wait(
        &self,
        name: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Option<CacheLock>, CacheError> {
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(50);
        loop {
            if let Some(lock) = self.lock(name, ttl).await? {
                return Ok(Some(lock));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}

impl CacheLock {
    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Releases the lock; `false` when it had already expired (and maybe
    /// been taken by someone else, whose lock is left alone).
    ///
    /// # Errors
    /// When the store fails (the lock then expires by itself).
    pub async fn release(mut self) -> Result<bool, CacheError> {
        self.held = false;
        self.cache
            .shared
            .backend
            .delete_if_equal(&self.key, &self.token)
            .await
            .map_err(|err| CacheError::Unavailable {
                backend: self.cache.backend_name(),
                reason: err.to_string(),
            })
    }
}

impl Drop for CacheLock {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        // Dropped while held (an early return, a panic): release it in the
        // background when a runtime is there, else let it expire.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let backend = self.cache.shared.backend.clone();
            let key = std::mem::take(&mut self.key);
            let token = std::mem::take(&mut self.token);
            runtime.spawn(async move {
                let _ = backend.delete_if_equal(&key, &token).await;
            });
        }
    }
}
