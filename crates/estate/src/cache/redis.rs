//! The shared cache: entries in Redis, seen by every instance of the site,
//! each expiring by itself (`SET ... PX`). Atomic operations (`add`, `incr`,
//! lock release) are single Redis commands or scripts, so they hold across
//! instances.
//!
//! The connection is made lazily and re-made after Redis restarts; while
//! Redis is away every command fails quickly (short timeouts), which the
//! [`Cache`](super::Cache) turns into misses.

use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::ConnectionManager;

use super::backend::{BackendError, CacheBackend};

/// How long connecting or one command may take before it counts as a
/// failure: short, because a cache that stalls the page is worse than a miss.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);

/// Keys deleted per `DEL` while clearing.
const CLEAR_BATCH: usize = 500;

/// `incr` that leaves a missing key missing (Redis' own `INCRBY` would
/// create it): nil when absent, the new value otherwise.
const INCR_EXISTING: &str = "if redis.call('exists', KEYS[1]) == 1 then \
     return redis.call('incrby', KEYS[1], ARGV[1]) else return false end";

/// Delete only when the value matches (a lock's holder releasing it).
const DELETE_IF_EQUAL: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then \
     return redis.call('del', KEYS[1]) else return 0 end";

/// A new expiry in milliseconds, or none for `0`; 0 when the key is absent.
const TOUCH: &str = "if redis.call('exists', KEYS[1]) == 0 then return 0 end \
     if ARGV[1] == '0' then redis.call('persist', KEYS[1]) \
     else redis.call('pexpire', KEYS[1], ARGV[1]) end return 1";

/// A cache in Redis.
#[derive(Clone)]
pub struct RedisCache {
    connection: ConnectionManager,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisCache")
    }
}

fn failed(err: redis::RedisError) -> BackendError {
    if err.to_string().contains("not an integer") {
        BackendError::NotAnInteger
    } else {
        BackendError::Unavailable(format!("redis: {err}"))
    }
}

/// Milliseconds for `PX` (at least 1: `PX 0` is an error in Redis).
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// `prefix` with Redis' glob characters escaped, then `*`.
fn glob_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    pattern
}

impl RedisCache {
    /// A cache in the Redis at `url` (`redis://127.0.0.1:6379/0`). Does not
    /// connect yet: the first command does, so a site starts (and serves,
    /// with misses) while Redis is away.
    ///
    /// # Errors
    /// When `url` is not a Redis URL. Must be called inside a tokio runtime.
    pub fn new(url: &str) -> Result<RedisCache, BackendError> {
        let client = redis::Client::open(url)
            .map_err(|err| BackendError::Unavailable(format!("invalid Redis URL: {err}")))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client, config).map_err(failed)?;
        Ok(RedisCache { connection })
    }

    /// Whether Redis answers `PING` now.
    pub async fn ping(&self) -> Result<(), BackendError> {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(drop)
            .map_err(failed)
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, BackendError> {
        let mut connection = self.connection.clone();
        cmd.query_async(&mut connection).await.map_err(failed)
    }
}

fn set_command(key: &str, value: &[u8], ttl: Option<Duration>) -> redis::Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(value);
    if let Some(ttl) = ttl {
        cmd.arg("PX").arg(millis(ttl));
    }
    cmd
}

impl CacheBackend for RedisCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, BackendError>> {
        Box::pin(async move { self.query(redis::cmd("GET").arg(key)).await })
    }

    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<Vec<u8>>>, BackendError>> {
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            self.query(redis::cmd("MGET").arg(keys)).await
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move { self.query(&set_command(key, value, ttl)).await })
    }

    fn set_many<'a>(
        &'a self,
        entries: &'a [(String, Vec<u8>)],
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            if entries.is_empty() {
                return Ok(());
            }
            // One round trip, applied all together.
            let mut pipe = redis::pipe();
            pipe.atomic();
            for (key, value) in entries {
                pipe.add_command(set_command(key, value, ttl)).ignore();
            }
            let mut connection = self.connection.clone();
            pipe.query_async::<()>(&mut connection)
                .await
                .map_err(failed)
        })
    }

    fn add<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            let mut cmd = set_command(key, value, ttl);
            cmd.arg("NX");
            let set: Option<String> = self.query(&cmd).await?;
            Ok(set.is_some())
        })
    }

    fn delete_many<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<u64, BackendError>> {
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(0);
            }
            self.query(redis::cmd("DEL").arg(keys)).await
        })
    }

    fn delete_if_equal<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            let deleted: i64 = self
                .query(
                    redis::cmd("EVAL")
                        .arg(DELETE_IF_EQUAL)
                        .arg(1)
                        .arg(key)
                        .arg(value),
                )
                .await?;
            Ok(deleted > 0)
        })
    }

    fn incr<'a>(
        &'a self,
        key: &'a str,
        delta: i64,
    ) -> BoxFuture<'a, Result<Option<i64>, BackendError>> {
        Box::pin(async move {
            self.query(
                redis::cmd("EVAL")
                    .arg(INCR_EXISTING)
                    .arg(1)
                    .arg(key)
                    .arg(delta),
            )
            .await
        })
    }

    fn touch<'a>(
        &'a self,
        key: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            let found: i64 = self
                .query(
                    redis::cmd("EVAL")
                        .arg(TOUCH)
                        .arg(1)
                        .arg(key)
                        .arg(ttl.map_or(0, millis)),
                )
                .await?;
            Ok(found > 0)
        })
    }

    fn clear<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            // SCAN, not KEYS (which blocks Redis), and never FLUSHDB: the
            // same database may hold sessions, counters and tasks.
            let pattern = glob_prefix(prefix);
            let mut cursor: u64 = 0;
            loop {
                let (next, keys): (u64, Vec<String>) = self
                    .query(
                        redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&pattern)
                            .arg("COUNT")
                            .arg(1000),
                    )
                    .await?;
                for batch in keys.chunks(CLEAR_BATCH) {
                    let _: u64 = self.query(redis::cmd("DEL").arg(batch)).await?;
                }
                if next == 0 {
                    return Ok(());
                }
                cursor = next;
            }
        })
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::glob_prefix;

    #[test]
    fn clearing_matches_the_prefix_literally() {
        assert_eq!(glob_prefix("site:1:"), "site:1:*");
        assert_eq!(glob_prefix("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\*");
    }
}
