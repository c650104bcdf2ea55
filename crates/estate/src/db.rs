//! The database in handlers: `Db`, connected at startup from `DATABASE_URL`.
//!
//! When `database_url` is set (in `estate.toml` or the `DATABASE_URL`
//! environment variable), the app connects before serving or running a
//! command, and a URL it cannot reach stops startup with an error that names
//! it (password hidden). Handlers take [`Db`]:
//!
//! ```
//! use estate::prelude::*;
//! use estate::db::{Db, RawSql, params};
//!
//! async fn note_count(db: Db) -> estate::Result<String> {
//!     let row = db.fetch_one("SELECT COUNT(*) FROM note", params![]).await?;
//!     Ok(row.get::<i64, _>(0)?.to_string())
//! }
//! ```

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::context::AppContext;
use crate::error::Error;

pub use estate_orm::{
    Backend, Database, DbError, ErrorKind, Executor, Features, PoolSettings, PoolStatus, RawSql,
    Row, Transaction, Value, params,
};

/// The app's database, as a handler argument. Derefs to [`Database`].
#[derive(Clone, Debug)]
pub struct Db(pub Database);

impl std::ops::Deref for Db {
    type Target = Database;

    fn deref(&self) -> &Database {
        &self.0
    }
}

/// Queries take `&db` directly: `Question::objects().all(&db)`.
impl Executor for Db {
    fn backend(&self) -> Backend {
        self.0.backend()
    }

    fn database(&self) -> &Database {
        &self.0
    }

    fn target(&self) -> estate_orm::executor_target::Target<'_> {
        self.0.target()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Db {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = AppContext::from_request_parts(parts, state).await?;
        context.get::<Database>().cloned().map(Db).ok_or_else(|| {
            Error::msg(
                "no database is configured: set DATABASE_URL (or database_url in estate.toml), \
                 e.g. sqlite://db.sqlite3",
            )
        })
    }
}
