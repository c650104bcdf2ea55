//! Running SQL on a pool or inside a transaction, on any backend.

use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, MySql, Postgres, Sqlite};

use crate::backends::sqlite_pool::PooledSqlite;
use crate::backends::{Backend, arguments, number_parameters};
use crate::database::{Database, Pool};
use crate::error::DbError;
use crate::row::Row;
use crate::transaction::Transaction;
use crate::value::Value;

/// A checked-out connection (held by a transaction).
pub(crate) enum Conn {
    Sqlite(PooledSqlite),
    Postgres(PoolConnection<Postgres>),
    MySql(PoolConnection<MySql>),
}

impl Conn {
    pub(crate) async fn acquire(pool: &Pool) -> Result<Conn, DbError> {
        Ok(match pool {
            Pool::Sqlite(pool) => Conn::Sqlite(pool.acquire().await?),
            Pool::Postgres(pool) => Conn::Postgres(pool.acquire().await?),
            Pool::MySql(pool) => Conn::MySql(pool.acquire().await?),
        })
    }

    /// Closes the connection when dropped instead of returning it to the pool
    /// (the server then rolls back whatever it had open).
    pub(crate) fn close_on_drop(&mut self) {
        match self {
            Conn::Sqlite(conn) => conn.close_on_drop(),
            Conn::Postgres(conn) => conn.close_on_drop(),
            Conn::MySql(conn) => conn.close_on_drop(),
        }
    }

    /// Runs a transaction-control statement (BEGIN, SAVEPOINT, ...) with the
    /// simple protocol: MySQL does not prepare all of them.
    pub(crate) async fn control(&mut self, statement: String) -> Result<(), DbError> {
        use sqlx::Executor as _;
        let sql = sqlx::raw_sql(AssertSqlSafe(statement));
        match self {
            Conn::Sqlite(conn) => (&mut **conn).execute(sql).await.map(drop)?,
            Conn::Postgres(conn) => conn.execute(sql).await.map(drop)?,
            Conn::MySql(conn) => conn.execute(sql).await.map(drop)?,
        }
        Ok(())
    }
}

/// Where a query runs: a [`Database`] (any free connection of its pool) or a
/// [`Transaction`] (its connection). Query methods take `&impl Executor`, so
/// the same code runs inside and outside transactions.
pub trait Executor: Send + Sync {
    /// The backend the query will run on.
    fn backend(&self) -> Backend;

    /// The database (for a transaction, the one it runs on).
    fn database(&self) -> &Database;

    #[doc(hidden)]
    fn target(&self) -> Target<'_>;
}

/// Where an [`Executor`] sends queries (opaque).
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Target<'a>(Destination<'a>);

#[derive(Clone, Copy)]
enum Destination<'a> {
    Pool(&'a Pool),
    Transaction(&'a Transaction),
}

/// Runs `block` atomically on `db`, whichever it is: a transaction on a
/// database, a savepoint inside a transaction (for code generic over
/// [`Executor`]; with a known `Database` use `db.atomic`).
///
/// # Errors
/// The block's error, after rolling back.
pub async fn atomic<E, T, F>(db: &E, block: F) -> Result<T, DbError>
where
    E: Executor + ?Sized,
    F: AsyncFnOnce(&Transaction) -> Result<T, DbError>,
{
    match db.target().0 {
        Destination::Pool(_) => db.database().atomic(block).await,
        Destination::Transaction(tx) => tx.atomic(block).await,
    }
}

impl Executor for Database {
    fn backend(&self) -> Backend {
        Database::backend(self)
    }

    fn database(&self) -> &Database {
        self
    }

    fn target(&self) -> Target<'_> {
        Target(Destination::Pool(self.pool()))
    }
}

impl Executor for Transaction {
    fn backend(&self) -> Backend {
        Transaction::backend(self)
    }

    fn database(&self) -> &Database {
        Transaction::database(self)
    }

    fn target(&self) -> Target<'_> {
        Target(Destination::Transaction(self))
    }
}

/// Expands `$body` once per backend with `$query` bound to the prepared query
/// and `$exec` to the pool or connection, so each operation is written once.
macro_rules! on_backend {
    ($target:expr, $sql:expr, $values:expr, |$query:ident, $exec:ident, $row:ident| $body:expr) => {
        on_backend!($target, $sql, $values, true, |$query, $exec, $row| $body)
    };
    ($target:expr, $sql:expr, $values:expr, $persistent:expr, |$query:ident, $exec:ident, $row:ident| $body:expr) => {{
        let sql: &str = $sql;
        let values: Vec<Value> = $values;
        tracing::debug!(target: "estate::db", sql, params = values.len(), "query");
        match $target.0 {
            Destination::Pool(pool) => match pool {
                Pool::Sqlite(pool) => {
                    let $query = sqlx::query_with(AssertSqlSafe(sql.to_owned()), arguments::<Sqlite>(values)?).persistent($persistent);
                    let $row = Row::Sqlite;
                    let mut conn = pool.acquire().await?;
                    let outcome: Result<_, DbError> = async {
                        let $exec = &mut *conn;
                        $body
                    }
                    .await;
                    // A connection whose worker thread is gone fails every
                    // query: close it rather than hand it out again.
                    if outcome.as_ref().is_err_and(|err| err.kind() == crate::error::ErrorKind::Connection) {
                        conn.close_on_drop();
                    }
                    outcome
                }
                Pool::Postgres($exec) => {
                    let $query = sqlx::query_with(AssertSqlSafe(number_parameters(sql)), arguments::<Postgres>(values)?).persistent($persistent);
                    let $row = Row::Postgres;
                    $body
                }
                Pool::MySql($exec) => {
                    let $query = sqlx::query_with(AssertSqlSafe(sql.to_owned()), arguments::<MySql>(values)?).persistent($persistent);
                    let $row = Row::MySql;
                    $body
                }
            },
            Destination::Transaction(tx) => {
                let mut guard = tx.lock().await?;
                let conn = guard.as_mut().expect("the connection is only taken when the slot drops");
                match conn {
                    Conn::Sqlite(conn) => {
                        let $exec = &mut **conn;
                        let $query = sqlx::query_with(AssertSqlSafe(sql.to_owned()), arguments::<Sqlite>(values)?).persistent($persistent);
                        let $row = Row::Sqlite;
                        $body
                    }
                    Conn::Postgres(conn) => {
                        let $exec = &mut **conn;
                        let $query = sqlx::query_with(AssertSqlSafe(number_parameters(sql)), arguments::<Postgres>(values)?).persistent($persistent);
                        let $row = Row::Postgres;
                        $body
                    }
                    Conn::MySql(conn) => {
                        let $exec = &mut **conn;
                        let $query = sqlx::query_with(AssertSqlSafe(sql.to_owned()), arguments::<MySql>(values)?).persistent($persistent);
                        let $row = Row::MySql;
                        $body
                    }
                }
            }
        }
    }};
}

/// Runs a statement; returns the number of rows it affected.
pub(crate) async fn execute(
    target: Target<'_>,
    sql: &str,
    values: Vec<Value>,
) -> Result<u64, DbError> {
    let started = std::time::Instant::now();
    let result = async {
        on_backend!(target, sql, values, |query, exec, _row| {
            Ok(query.execute(exec).await?.rows_affected())
        })
    }
    .await;
    crate::query_log::record(sql, started);
    result
}

/// Runs a query and hands each row to `each` as it arrives, without holding
/// the whole result in memory; stops at the first error `each` returns.
pub(crate) async fn for_each_row(
    target: Target<'_>,
    sql: &str,
    values: Vec<Value>,
    each: &mut (dyn FnMut(Row) -> Result<(), DbError> + Send),
) -> Result<u64, DbError> {
    use futures_util::TryStreamExt;
    let started = std::time::Instant::now();
    let result = async {
        on_backend!(target, sql, values, |query, exec, row| {
            let mut stream = query.fetch(exec);
            let mut count = 0;
            while let Some(next) = stream.try_next().await? {
                each(row(next))?;
                count += 1;
            }
            Ok(count)
        })
    }
    .await;
    crate::query_log::record(sql, started);
    result
}

/// Whether queries on `target` run inside a transaction.
pub(crate) fn in_transaction(target: Target<'_>) -> bool {
    matches!(target.0, Destination::Transaction(_))
}

/// Runs a query; returns every row.
pub(crate) async fn fetch_all(
    target: Target<'_>,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<Row>, DbError> {
    let started = std::time::Instant::now();
    let retry = stale_plan_retry(target, &values);
    let mut result = async {
        on_backend!(target, sql, values, |query, exec, row| {
            Ok(query.fetch_all(exec).await?.into_iter().map(row).collect())
        })
    }
    .await;
    if let Some(values) = retry.filter(|_| is_stale_plan(&result)) {
        result = async {
            on_backend!(target, sql, values, false, |query, exec, row| {
                Ok(query.fetch_all(exec).await?.into_iter().map(row).collect())
            })
        }
        .await;
    }
    crate::query_log::record(sql, started);
    result
}

/// PostgreSQL keeps prepared statements per connection; after a migration
/// changes a column's type, one prepared before fails with "cached plan must
/// not change result type". Outside a transaction such a query is run again
/// unprepared, so a migration never breaks a running process's queries.
fn stale_plan_retry(target: Target<'_>, values: &[Value]) -> Option<Vec<Value>> {
    matches!(target.0, Destination::Pool(Pool::Postgres(_))).then(|| values.to_vec())
}

fn is_stale_plan<T>(result: &Result<T, DbError>) -> bool {
    result.as_ref().err().is_some_and(|err| {
        err.message()
            .contains("cached plan must not change result type")
    })
}

/// Runs a query; returns the first row, if any.
pub(crate) async fn fetch_optional(
    target: Target<'_>,
    sql: &str,
    values: Vec<Value>,
) -> Result<Option<Row>, DbError> {
    let started = std::time::Instant::now();
    let retry = stale_plan_retry(target, &values);
    let mut result = async {
        on_backend!(target, sql, values, |query, exec, row| {
            Ok(query.fetch_optional(exec).await?.map(row))
        })
    }
    .await;
    if let Some(values) = retry.filter(|_| is_stale_plan(&result)) {
        result = async {
            on_backend!(target, sql, values, false, |query, exec, row| {
                Ok(query.fetch_optional(exec).await?.map(row))
            })
        }
        .await;
    }
    crate::query_log::record(sql, started);
    result
}

/// The key a backend reports for the row an INSERT created.
trait InsertId {
    fn insert_id(&self) -> Option<i64>;
}

impl InsertId for sqlx::sqlite::SqliteQueryResult {
    fn insert_id(&self) -> Option<i64> {
        Some(self.last_insert_rowid())
    }
}

impl InsertId for sqlx::postgres::PgQueryResult {
    /// PostgreSQL reports no key; inserts use RETURNING instead.
    fn insert_id(&self) -> Option<i64> {
        None
    }
}

impl InsertId for sqlx::mysql::MySqlQueryResult {
    fn insert_id(&self) -> Option<i64> {
        i64::try_from(self.last_insert_id()).ok()
    }
}

/// Runs an INSERT and returns the key the database generated for it
/// (SQLite's rowid, MySQL's `LAST_INSERT_ID()`; `None` on PostgreSQL, which
/// uses RETURNING instead).
pub(crate) async fn execute_returning_insert_id(
    target: Target<'_>,
    sql: &str,
    values: Vec<Value>,
) -> Result<Option<i64>, DbError> {
    let started = std::time::Instant::now();
    let result = async {
        on_backend!(target, sql, values, |query, exec, _row| {
            Ok(query.execute(exec).await?.insert_id())
        })
    }
    .await;
    crate::query_log::record(sql, started);
    result
}

/// Raw SQL on any executor. `?` marks parameters on every backend (rewritten
/// to `$1, $2` for PostgreSQL); values are always bound, never spliced in.
pub trait RawSql: Executor {
    /// Runs a statement; returns how many rows it affected.
    fn execute(
        &self,
        sql: &str,
        params: Vec<Value>,
    ) -> impl std::future::Future<Output = Result<u64, DbError>> + Send {
        execute(self.target(), sql, params)
    }

    /// Runs a query; returns all rows.
    fn fetch_all(
        &self,
        sql: &str,
        params: Vec<Value>,
    ) -> impl std::future::Future<Output = Result<Vec<Row>, DbError>> + Send {
        fetch_all(self.target(), sql, params)
    }

    /// Runs a query; returns the first row, if any.
    fn fetch_optional(
        &self,
        sql: &str,
        params: Vec<Value>,
    ) -> impl std::future::Future<Output = Result<Option<Row>, DbError>> + Send {
        fetch_optional(self.target(), sql, params)
    }

    /// Runs a query that must return a row.
    fn fetch_one(
        &self,
        sql: &str,
        params: Vec<Value>,
    ) -> impl std::future::Future<Output = Result<Row, DbError>> + Send {
        let sql = sql.to_owned();
        async move {
            fetch_optional(self.target(), &sql, params)
                .await?
                .ok_or_else(|| {
                    DbError::new(
                        crate::error::ErrorKind::Other,
                        format!("no row returned by: {sql}"),
                    )
                })
        }
    }
}

impl<E: Executor + ?Sized> RawSql for E {}
