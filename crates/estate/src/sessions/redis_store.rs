//! Sessions in Redis, shared by every instance of the site, each entry
//! expiring by itself (`SET ... EX`). When Redis cannot be reached, a
//! session loads empty (the user appears logged out) and a change cannot be
//! saved (503): sessions fail closed.

use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;

use super::store::{SessionData, SessionError, SessionStore, is_key, new_key};

/// How long a Redis command may take before the store gives up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// Sessions in Redis under `estate:session:<key>`, as JSON.
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
}

fn unavailable(err: impl std::fmt::Display) -> SessionError {
    SessionError::Unavailable(format!("redis: {err}"))
}

/// A self-reconnecting Redis connection with short timeouts (shared with
/// the login throttle).
pub(crate) async fn connect_manager(url: &str) -> Result<ConnectionManager, String> {
    let client = redis::Client::open(url).map_err(|err| err.to_string())?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_number_of_retries(1);
    tokio::time::timeout(
        COMMAND_TIMEOUT * 2,
        ConnectionManager::new_with_config(client, config),
    )
    .await
    .map_err(|_| "timed out connecting".to_owned())?
    .map_err(|err| err.to_string())
}

impl RedisStore {
    /// Connects to `url` (`redis://127.0.0.1:6379`); the connection is
    /// re-established by itself after Redis restarts.
    ///
    /// # Errors
    /// When the URL is invalid or Redis cannot be reached now.
    pub async fn connect(url: &str) -> Result<RedisStore, SessionError> {
        let connection = connect_manager(url).await.map_err(unavailable)?;
        Ok(RedisStore {
            connection,
            prefix: "estate:session:".to_owned(),
        })
    }

    /// The same store under another key prefix (to share a Redis between
    /// sites).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> RedisStore {
        self.prefix = prefix.into();
        self
    }

    fn key(&self, session_key: &str) -> String {
        format!("{}{session_key}", self.prefix)
    }
}

impl SessionStore for RedisStore {
    fn load<'a>(
        &'a self,
        cookie: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionData>, SessionError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let text: Option<String> = connection
                .get(self.key(cookie))
                .await
                .map_err(unavailable)?;
            Ok(text.and_then(|text| serde_json::from_str(&text).ok()))
        })
    }

    fn save<'a>(
        &'a self,
        cookie: Option<&'a str>,
        data: &'a SessionData,
        age: Duration,
    ) -> BoxFuture<'a, Result<String, SessionError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let text = serde_json::Value::Object(data.clone()).to_string();
            let seconds = age.as_secs().max(1);
            if let Some(key) = cookie {
                // XX: only if it still exists; a deleted session stays deleted.
                let options = redis::SetOptions::default()
                    .conditional_set(redis::ExistenceCheck::XX)
                    .with_expiration(redis::SetExpiry::EX(seconds));
                let set: Option<String> = connection
                    .set_options(self.key(key), &text, options)
                    .await
                    .map_err(unavailable)?;
                return match set {
                    Some(_) => Ok(key.to_owned()),
                    None => Err(SessionError::Interrupted),
                };
            }
            for _ in 0..10 {
                let key = new_key();
                let options = redis::SetOptions::default()
                    .conditional_set(redis::ExistenceCheck::NX)
                    .with_expiration(redis::SetExpiry::EX(seconds));
                let set: Option<String> = connection
                    .set_options(self.key(&key), &text, options)
                    .await
                    .map_err(unavailable)?;
                if set.is_some() {
                    return Ok(key);
                }
            }
            Err(SessionError::Unavailable(
                "no free session key after 10 tries".to_owned(),
            ))
        })
    }

    fn delete<'a>(&'a self, cookie: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let _: i64 = connection
                .del(self.key(cookie))
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }

    fn clear_expired(&self) -> BoxFuture<'_, Result<u64, SessionError>> {
        // Redis expires entries itself.
        Box::pin(async { Ok(0) })
    }

    fn accepts(&self, cookie: &str) -> bool {
        is_key(cookie)
    }
}
