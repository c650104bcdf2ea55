//! Transactions: `db.atomic(async |tx| ...)`, nested as savepoints.
//!
//! Like Django's `transaction.atomic`: the block commits if it returns `Ok`,
//! rolls back if it returns `Err` or panics, and a nested `tx.atomic` is a
//! savepoint that rolls back alone. If the block's future is dropped midway
//! (a cancelled request), the connection is closed rather than returned to
//! the pool, so the database rolls the transaction back.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::FutureExt;
use tokio::sync::{Mutex, MutexGuard};

use crate::backends::Backend;
use crate::database::Database;
use crate::error::{DbError, ErrorKind};
use crate::executor::Conn;

/// A transaction (or savepoint) in progress. Run queries on it exactly as on
/// a [`Database`]; it is cheap to clone.
#[derive(Clone)]
pub struct Transaction {
    database: Database,
    slot: Arc<ConnSlot>,
    /// Whether this level (transaction or savepoint) is still open.
    level_open: Arc<AtomicBool>,
    depth: usize,
    backend: Backend,
}

/// The transaction's connection, shared by its savepoints.
struct ConnSlot {
    /// Always `Some` while the slot lives; taken out only in `drop`.
    conn: Mutex<Option<Conn>>,
    /// True from BEGIN until a successful COMMIT or ROLLBACK.
    open: AtomicBool,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        if !*self.open.get_mut() {
            return;
        }
        // Abandoned mid-transaction (the block's future was dropped). Roll
        // back before the connection goes back to the pool; if that cannot
        // be done, close it so the server rolls back.
        let Some(mut conn) = self.conn.get_mut().take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if conn.control("ROLLBACK".to_owned()).await.is_err() {
                        conn.close_on_drop();
                    }
                });
            }
            Err(_) => conn.close_on_drop(),
        }
    }
}

impl Transaction {
    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database this transaction runs on.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// How deep this is: 0 for the transaction, 1 for a savepoint in it, ...
    pub fn depth(&self) -> usize {
        self.depth
    }

    pub(crate) async fn lock(&self) -> Result<MutexGuard<'_, Option<Conn>>, DbError> {
        if !self.level_open.load(Ordering::Acquire) {
            return Err(DbError::new(
                ErrorKind::Other,
                "this transaction has already ended (committed or rolled back); run the \
                 query inside the `atomic` block",
            ));
        }
        Ok(self.slot.conn.lock().await)
    }

    /// Runs `block` in a savepoint: its changes are kept if it returns `Ok`,
    /// undone (and only they) if it returns `Err` or panics.
    pub async fn atomic<T, E, F>(&self, block: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&Transaction) -> Result<T, E>,
        E: From<DbError>,
    {
        let depth = self.depth + 1;
        let inner = Transaction {
            database: self.database.clone(),
            slot: self.slot.clone(),
            level_open: Arc::new(AtomicBool::new(true)),
            depth,
            backend: self.backend,
        };
        let name = format!("estate_sp_{depth}");
        self.control(format!("SAVEPOINT {name}")).await?;
        let outcome = AssertUnwindSafe(block(&inner)).catch_unwind().await;
        inner.level_open.store(false, Ordering::Release);
        match outcome {
            Ok(Ok(value)) => {
                self.control(format!("RELEASE SAVEPOINT {name}")).await?;
                Ok(value)
            }
            Ok(Err(err)) => {
                self.undo_savepoint(&name).await?;
                Err(err)
            }
            Err(panic) => {
                let _ = self.undo_savepoint(&name).await;
                std::panic::resume_unwind(panic)
            }
        }
    }

    async fn undo_savepoint(&self, name: &str) -> Result<(), DbError> {
        self.control(format!("ROLLBACK TO SAVEPOINT {name}"))
            .await?;
        self.control(format!("RELEASE SAVEPOINT {name}")).await
    }

    async fn control(&self, statement: String) -> Result<(), DbError> {
        let mut guard = self.slot.conn.lock().await;
        let conn = guard
            .as_mut()
            .expect("the connection is only taken when the slot drops");
        conn.control(statement).await
    }
}

impl Database {
    /// Runs `block` in a transaction: committed if it returns `Ok`, rolled
    /// back if it returns `Err` or panics (the panic then continues).
    ///
    /// ```no_run
    /// # use estate_orm::{Database, RawSql, params};
    /// # async fn demo(db: Database) -> Result<(), estate_orm::DbError> {
    /// db.atomic(async |tx| {
    ///     tx.execute("UPDATE account SET balance = balance - ? WHERE id = ?", params![10, 1]).await?;
    ///     tx.execute("UPDATE account SET balance = balance + ? WHERE id = ?", params![10, 2]).await?;
    ///     Ok::<_, estate_orm::DbError>(())
    /// })
    /// .await
    /// # }
    /// ```
    ///
    /// Inside the block, run queries on `tx`: the block holds one connection,
    /// and an in-memory SQLite database has only one.
    pub async fn atomic<T, E, F>(&self, block: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&Transaction) -> Result<T, E>,
        E: From<DbError>,
    {
        self.atomic_with_settings(None, block).await
    }

    /// [`atomic`](Self::atomic) with connection settings that can only change
    /// outside a transaction (SQLite's `PRAGMA foreign_keys`): `settings.0`
    /// runs before BEGIN, `settings.1` after the end, whatever the outcome.
    pub(crate) async fn atomic_with_settings<T, E, F>(
        &self,
        settings: Option<(&str, &str)>,
        block: F,
    ) -> Result<T, E>
    where
        F: AsyncFnOnce(&Transaction) -> Result<T, E>,
        E: From<DbError>,
    {
        let backend = self.backend();
        let mut conn = Conn::acquire(self.pool()).await?;
        if let Some((before, _)) = settings {
            conn.control(before.to_owned()).await?;
        }
        // SQLite: take the write lock up front, so two transactions never
        // deadlock upgrading from read to write.
        let begin = match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
            Backend::MySql => "START TRANSACTION",
        };
        conn.control(begin.to_owned()).await?;
        let tx = Transaction {
            database: self.clone(),
            slot: Arc::new(ConnSlot {
                conn: Mutex::new(Some(conn)),
                open: AtomicBool::new(true),
            }),
            level_open: Arc::new(AtomicBool::new(true)),
            depth: 0,
            backend,
        };
        let outcome = AssertUnwindSafe(block(&tx)).catch_unwind().await;
        tx.level_open.store(false, Ordering::Release);
        let ended = match outcome {
            Ok(Ok(value)) => tx
                .control("COMMIT".to_owned())
                .await
                .map(|()| Ok(value))
                .map_err(E::from),
            Ok(Err(err)) => tx
                .control("ROLLBACK".to_owned())
                .await
                .map(|()| Err(err))
                .map_err(E::from),
            Err(panic) => {
                if tx.control("ROLLBACK".to_owned()).await.is_ok() {
                    tx.slot.open.store(false, Ordering::Release);
                }
                std::panic::resume_unwind(panic)
            }
        };
        if ended.is_ok() {
            tx.slot.open.store(false, Ordering::Release);
        }
        if let Some((_, after)) = settings {
            let restored = match ended {
                Ok(_) => tx.control(after.to_owned()).await.is_ok(),
                Err(_) => false,
            };
            if !restored {
                // Never hand a connection with changed settings back to the pool.
                if let Some(conn) = tx.slot.conn.lock().await.as_mut() {
                    conn.close_on_drop();
                }
            }
        }
        ended?
    }
}
