//! The connection pool: one per database URL, cheap to clone and share.

use std::sync::Arc;
use std::time::Duration;

use sqlx::mysql::MySqlPool;
use sqlx::postgres::PgPool;

use crate::backends::sqlite_pool::SqlitePool;
use crate::backends::{self, Backend, Features};
use crate::error::DbError;
use crate::model::ModelMeta;

/// Pool sizing.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// Most connections open at once. Default 10.
    pub max_connections: u32,
    /// How long a query waits for a free connection before failing. Default 10s.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// How many connections a pool holds right now, for monitoring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStatus {
    /// Open connections, in use or idle.
    pub size: u32,
    /// Open connections waiting for a query.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max_connections: u32,
}

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql(MySqlPool),
}

/// A database: a pool of connections to SQLite, PostgreSQL or MySQL/MariaDB.
/// Clone it freely; clones share the pool.
#[derive(Clone)]
pub struct Database(Arc<Inner>);

struct Inner {
    pool: Pool,
    backend: Backend,
    url: String,
    /// The models in use, for `on_delete`: who points at whom.
    models: std::sync::RwLock<Vec<&'static ModelMeta>>,
}

impl Database {
    /// Connects to `url`: `sqlite://db.sqlite3` (created if missing),
    /// `sqlite::memory:`, `postgres://user@host/db`, `mysql://user@host/db`.
    pub async fn connect(url: &str) -> Result<Database, DbError> {
        Self::connect_with(url, &PoolSettings::default()).await
    }

    /// Connects with explicit pool settings.
    pub async fn connect_with(url: &str, settings: &PoolSettings) -> Result<Database, DbError> {
        let backend = Backend::from_url(url)?;
        let connected = match backend {
            Backend::Sqlite => backends::sqlite::connect(url, settings)
                .await
                .map(Pool::Sqlite),
            Backend::Postgres => backends::postgres::connect(url, settings)
                .await
                .map(Pool::Postgres),
            Backend::MySql => backends::mysql::connect(url, settings)
                .await
                .map(Pool::MySql),
        };
        let pool = connected
            .map_err(|err| err.context(&format!("cannot connect to {}", backends::redact(url))))?;
        Ok(Database(Arc::new(Inner {
            pool,
            backend,
            url: backends::redact(url),
            models: std::sync::RwLock::new(Vec::new()),
        })))
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.0.backend
    }

    /// What the backend can do.
    pub fn features(&self) -> &'static Features {
        self.0.backend.features()
    }

    /// The URL, password hidden.
    pub fn url(&self) -> &str {
        &self.0.url
    }

    /// Closes every connection; queries afterwards fail.
    pub async fn close(&self) {
        match &self.0.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
            Pool::MySql(pool) => pool.close().await,
        }
    }

    /// The pool's connections right now (for metrics). Cheap: no query.
    pub fn pool_status(&self) -> PoolStatus {
        fn status<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> PoolStatus {
            PoolStatus {
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max_connections: pool.options().get_max_connections(),
            }
        }
        match &self.0.pool {
            Pool::Sqlite(pool) => PoolStatus {
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max_connections: pool.max_connections(),
            },
            Pool::Postgres(pool) => status(pool),
            Pool::MySql(pool) => status(pool),
        }
    }

    /// Registers models (and their generated many-to-many tables), so that
    /// deleting a row applies the `on_delete` of every registered model
    /// pointing at it. Apps register theirs at
    /// startup; [`create_table`](crate::create_table) registers too.
    pub fn register(&self, models: &[&'static ModelMeta]) {
        let mut registered = self.0.models.write().unwrap_or_else(|e| e.into_inner());
        // Generated through tables come with their model.
        let through = models.iter().flat_map(|m| {
            m.many_to_many
                .iter()
                .filter(|m2m| m2m.auto_created)
                .map(|m2m| (m2m.through)())
        });
        let all: Vec<&'static ModelMeta> = models.iter().copied().chain(through).collect();
        for model in &all {
            if !registered
                .iter()
                .any(|m| std::ptr::eq(*m, *model) || m.table == model.table)
            {
                registered.push(model);
            }
        }
    }

    /// The registered models.
    pub fn models(&self) -> Vec<&'static ModelMeta> {
        self.0
            .models
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.0.pool
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.0.url)
            .finish()
    }
}
