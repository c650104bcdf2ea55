//! Sessions kept in the cookie itself, signed with the secret key and
//! timestamped (Django's `signed_cookies` backend). Nothing is stored on
//! the server, so any instance can read any session; but the data is
//! readable by the user (signed, not encrypted), a cookie holds at most
//! about 4 KB, and a copied cookie stays valid until it expires: logging
//! out cannot revoke it elsewhere.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::store::{SessionData, SessionError, SessionStore};
use crate::signing::TimestampSigner;

/// Sessions in a signed cookie.
pub struct SignedCookieStore {
    signer: TimestampSigner,
    max_age: Duration,
}

impl SignedCookieStore {
    /// A store signing with `signer`, refusing cookies older than
    /// `max_age` (the session cookie age).
    pub fn new(signer: TimestampSigner, max_age: Duration) -> SignedCookieStore {
        SignedCookieStore { signer, max_age }
    }
}

impl SessionStore for SignedCookieStore {
    fn load<'a>(
        &'a self,
        cookie: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionData>, SessionError>> {
        Box::pin(async move { Ok(self.signer.unsign_object(cookie, Some(self.max_age)).ok()) })
    }

    fn save<'a>(
        &'a self,
        _cookie: Option<&'a str>,
        data: &'a SessionData,
        _age: Duration,
    ) -> BoxFuture<'a, Result<String, SessionError>> {
        Box::pin(async move { Ok(self.signer.sign_object(data, true)) })
    }

    fn delete<'a>(&'a self, _cookie: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async { Ok(()) })
    }

    fn clear_expired(&self) -> BoxFuture<'_, Result<u64, SessionError>> {
        Box::pin(async { Ok(0) })
    }
}
