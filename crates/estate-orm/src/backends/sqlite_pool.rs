//! Estate's own pool of SQLite connections.
//!
//! sqlx's pool pings every connection on its way back (and, by default, on
//! its way out). For PostgreSQL and MySQL that guards against a server that
//! dropped the session. A SQLite connection is a file handle in this process
//! with nothing to drop, and its ping is a round trip to the connection's
//! worker thread — two context switches and a spawned task for every query.
//! This pool hands connections out and takes them back without one: a
//! semaphore bounds how many are open, idle ones wait in a stack (the most
//! recently used first, its pages still in the cache), and a connection is
//! closed only when asked to (an abandoned transaction that could not be
//! rolled back) or when the pool closes.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::DbError;

/// A bounded pool of SQLite connections. Clones share the pool.
#[derive(Clone)]
pub(crate) struct SqlitePool(Arc<Shared>);

struct Shared {
    options: SqliteConnectOptions,
    /// Connections not in use, the most recently returned last.
    idle: Mutex<Vec<SqliteConnection>>,
    /// One permit per connection that may be open; closed with the pool.
    permits: Arc<Semaphore>,
    /// Connections open, idle or in use.
    size: AtomicU32,
    max_connections: u32,
    acquire_timeout: Duration,
}

impl std::fmt::Debug for SqlitePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlitePool")
            .field("size", &self.size())
            .field("idle", &self.num_idle())
            .field("max_connections", &self.0.max_connections)
            .finish()
    }
}

impl SqlitePool {
    /// A pool of up to `max_connections`; opens one connection now, so a
    /// bad path or an unreadable file fails here, at startup.
    pub(crate) async fn open(
        options: SqliteConnectOptions,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<SqlitePool, DbError> {
        let max_connections = max_connections.max(1);
        let pool = SqlitePool(Arc::new(Shared {
            options,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max_connections as usize)),
            size: AtomicU32::new(0),
            max_connections,
            acquire_timeout,
        }));
        // Dropped at once: the first connection waits in the pool.
        pool.acquire().await?;
        Ok(pool)
    }

    /// A connection: an idle one, or a new one while fewer than the maximum
    /// are open; otherwise waits up to the acquire timeout.
    pub(crate) async fn acquire(&self) -> Result<PooledSqlite, DbError> {
        let permits = self.0.permits.clone();
        // A free permit is taken at once; only a wait needs the timer.
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(tokio::sync::TryAcquireError::Closed) => return Err(sqlx::Error::PoolClosed.into()),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                match tokio::time::timeout(self.0.acquire_timeout, permits.acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_closed)) => return Err(sqlx::Error::PoolClosed.into()),
                    Err(_elapsed) => return Err(sqlx::Error::PoolTimedOut.into()),
                }
            }
        };
        let idle = self.0.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let connection = match idle {
            Some(connection) => connection,
            None => {
                let connection = SqliteConnection::connect_with(&self.0.options).await?;
                self.0.size.fetch_add(1, Ordering::Relaxed);
                connection
            }
        };
        Ok(PooledSqlite {
            connection: Some(connection),
            permit: Some(permit),
            pool: self.0.clone(),
            close_on_drop: false,
        })
    }

    /// Closes every idle connection and refuses new acquires; connections in
    /// use close when they come back.
    pub(crate) async fn close(&self) {
        self.0.permits.close();
        let idle = std::mem::take(&mut *self.0.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for connection in idle {
            self.0.size.fetch_sub(1, Ordering::Relaxed);
            // An error closing a file handle leaves nothing to do.
            let _ = connection.close().await;
        }
    }

    /// Connections open, idle or in use.
    pub(crate) fn size(&self) -> u32 {
        self.0.size.load(Ordering::Relaxed)
    }

    /// Connections open and not in use.
    pub(crate) fn num_idle(&self) -> usize {
        self.0.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The most connections the pool opens.
    pub(crate) fn max_connections(&self) -> u32 {
        self.0.max_connections
    }
}

/// A connection taken from a [`SqlitePool`]; back to the pool when dropped.
pub(crate) struct PooledSqlite {
    /// Always `Some` until dropped.
    connection: Option<SqliteConnection>,
    /// Released after the connection is back, so a waiter finds it idle.
    permit: Option<OwnedSemaphorePermit>,
    pool: Arc<Shared>,
    close_on_drop: bool,
}

impl PooledSqlite {
    /// Closes the connection when dropped instead of returning it (SQLite
    /// then rolls back whatever it had open).
    pub(crate) fn close_on_drop(&mut self) {
        self.close_on_drop = true;
    }
}

impl Deref for PooledSqlite {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.connection.as_ref().expect("taken only in drop")
    }
}

impl DerefMut for PooledSqlite {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.connection.as_mut().expect("taken only in drop")
    }
}

impl Drop for PooledSqlite {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if self.close_on_drop || self.pool.permits.is_closed() {
            // Dropping it ends its worker thread, which closes the handle.
            self.pool.size.fetch_sub(1, Ordering::Relaxed);
            drop(connection);
        } else {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(connection);
        }
        drop(self.permit.take());
    }
}
