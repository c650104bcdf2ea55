//! The default store: one row per session in the `estate_session` table
//! (Django's `django_session`), the data signed so that a row written by
//! anyone without the secret key is refused.

use std::time::Duration;

use estate_orm::chrono::{DateTime, Utc};
use estate_orm::{Database, DbError, ErrorKind, Model};
use futures_util::future::BoxFuture;

use super::store::{SessionData, SessionError, SessionStore, is_key, new_key};
use crate::signing::Signer;

/// A stored session: its key, signed data and expiry.
#[derive(estate_macros::Model, Debug, Clone)]
#[model(
    crate = "crate::orm",
    table = "estate_session",
    verbose_name = "session",
    verbose_name_plural = "sessions"
)]
pub struct StoredSession {
    /// The key the cookie carries.
    #[model(primary_key, max_length = 40)]
    pub session_key: String,
    /// The data, JSON signed with the secret key.
    pub session_data: String,
    /// When the session stops being valid.
    #[model(index)]
    pub expire_date: DateTime<Utc>,
}

/// Sessions in the project's database.
pub struct DatabaseStore {
    db: Database,
    signer: Signer,
}

impl DatabaseStore {
    /// A store on `db`, signing with `signer`.
    pub fn new(db: Database, signer: Signer) -> DatabaseStore {
        DatabaseStore { db, signer }
    }
}

fn unavailable(err: DbError) -> SessionError {
    SessionError::Unavailable(err.to_string())
}

fn expiry(age: Duration) -> DateTime<Utc> {
    Utc::now()
        + estate_orm::chrono::Duration::seconds(
            i64::try_from(age.as_secs()).unwrap_or(i64::MAX / 1000),
        )
}

impl SessionStore for DatabaseStore {
    fn load<'a>(
        &'a self,
        cookie: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionData>, SessionError>> {
        Box::pin(async move {
            let row = StoredSession::objects()
                .filter(StoredSession::SESSION_KEY.eq(cookie))
                .filter(StoredSession::EXPIRE_DATE.gt(Utc::now()))
                .first(&self.db)
                .await
                .map_err(unavailable)?;
            let Some(row) = row else { return Ok(None) };
            match self.signer.unsign_object::<SessionData>(&row.session_data) {
                Ok(data) => Ok(Some(data)),
                Err(_) => {
                    tracing::warn!(
                        target: "estate::security",
                        "session data corrupted (bad signature): starting an empty session"
                    );
                    Ok(None)
                }
            }
        })
    }

    fn save<'a>(
        &'a self,
        cookie: Option<&'a str>,
        data: &'a SessionData,
        age: Duration,
    ) -> BoxFuture<'a, Result<String, SessionError>> {
        Box::pin(async move {
            let session_data = self.signer.sign_object(data, true);
            let expire_date = expiry(age);
            if let Some(key) = cookie {
                let updated = StoredSession::objects()
                    .filter(StoredSession::SESSION_KEY.eq(key))
                    .update(
                        &self.db,
                        [
                            StoredSession::SESSION_DATA.set(session_data),
                            StoredSession::EXPIRE_DATE.set(expire_date),
                        ],
                    )
                    .await
                    .map_err(unavailable)?;
                // Deleted meanwhile (a logout elsewhere): not brought back.
                return if updated == 0 {
                    Err(SessionError::Interrupted)
                } else {
                    Ok(key.to_owned())
                };
            }
            // A new key; on the (astronomically unlikely) clash, another.
            for _ in 0..10 {
                let mut row = StoredSession {
                    session_key: new_key(),
                    session_data: session_data.clone(),
                    expire_date,
                };
                match row.insert(&self.db).await {
                    Ok(_) => return Ok(row.session_key),
                    Err(err) if err.kind() == ErrorKind::UniqueViolation => continue,
                    Err(err) => return Err(unavailable(err)),
                }
            }
            Err(SessionError::Unavailable(
                "no free session key after 10 tries".to_owned(),
            ))
        })
    }

    fn delete<'a>(&'a self, cookie: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async move {
            StoredSession::objects()
                .filter(StoredSession::SESSION_KEY.eq(cookie))
                .delete(&self.db)
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }

    fn clear_expired(&self) -> BoxFuture<'_, Result<u64, SessionError>> {
        Box::pin(async move {
            let removed = StoredSession::objects()
                .filter(StoredSession::EXPIRE_DATE.lt(Utc::now()))
                .delete(&self.db)
                .await
                .map_err(unavailable)?;
            Ok(removed.total)
        })
    }

    fn accepts(&self, cookie: &str) -> bool {
        is_key(cookie)
    }
}
