//! Where session data lives: the [`SessionStore`] trait and its error.

use std::fmt;
use std::time::Duration;

use futures_util::future::BoxFuture;

/// A session's data: string keys, JSON values.
pub type SessionData = serde_json::Map<String, serde_json::Value>;

/// A session store failed: the database or Redis is unreachable, or the
/// session was deleted by another request while this one ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// The store could not be reached or refused the operation.
    Unavailable(String),
    /// The session was deleted (a logout in another tab) while this
    /// request ran; its changes are not saved, so a logout stays a logout.
    Interrupted,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Unavailable(reason) => write!(f, "session store unavailable: {reason}"),
            SessionError::Interrupted => f.write_str(
                "the session was deleted before the request completed (the user may have logged \
                 out in a concurrent request)",
            ),
        }
    }
}

impl std::error::Error for SessionError {}

/// A place to keep sessions. The cookie carries a value the store chooses:
/// a random key for the database and Redis stores, the signed data itself
/// for the signed-cookie store.
pub trait SessionStore: Send + Sync + 'static {
    /// The data the cookie value stands for; `None` when it is unknown,
    /// expired or tampered with (the session then starts empty, under a new
    /// key: a client cannot choose its own session key).
    fn load<'a>(
        &'a self,
        cookie: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionData>, SessionError>>;

    /// Stores `data` for `age`, under `cookie` when the session already
    /// exists (loaded from that value), else under a new key. Returns the
    /// cookie value to send.
    ///
    /// Saving under an existing key whose row was deleted meanwhile fails
    /// with [`SessionError::Interrupted`], as in Django.
    fn save<'a>(
        &'a self,
        cookie: Option<&'a str>,
        data: &'a SessionData,
        age: Duration,
    ) -> BoxFuture<'a, Result<String, SessionError>>;

    /// Forgets the session (logout). Unknown values are fine.
    fn delete<'a>(&'a self, cookie: &'a str) -> BoxFuture<'a, Result<(), SessionError>>;

    /// Removes expired sessions, returning how many (the `clearsessions`
    /// command). Stores that expire entries themselves return 0.
    fn clear_expired(&self) -> BoxFuture<'_, Result<u64, SessionError>>;

    /// Whether the cookie value is a key the store may look up: stores with
    /// random keys refuse anything else before a lookup.
    fn accepts(&self, cookie: &str) -> bool {
        !cookie.is_empty()
    }
}

/// Lower-case letters and digits: the alphabet of session keys (Django's
/// `VALID_KEY_CHARS`).
pub(crate) const KEY_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A new random session key: 32 characters (165 bits).
pub(crate) fn new_key() -> String {
    crate::crypto::random_string_from(32, KEY_CHARS)
}

/// Whether a cookie value has the shape of a session key.
pub(crate) fn is_key(value: &str) -> bool {
    (8..=40).contains(&value.len()) && value.bytes().all(|b| KEY_CHARS.contains(&b))
}
