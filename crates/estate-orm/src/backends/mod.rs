//! The three supported databases. Everything that differs between them lives
//! in `sqlite.rs`, `postgres.rs` and `mysql.rs`, which have the same shape:
//! `FEATURES`, `connect`, `prepare_value`, and the test-database helpers.
//! Shared code asks [`Features`] instead of checking which backend it is.

mod client;
pub(crate) mod mysql;
pub(crate) mod postgres;
pub(crate) mod sqlite;
pub(crate) mod sqlite_pool;

pub use client::{ClientCommand, client_command};

use std::time::Duration;

use rust_decimal::Decimal;
use sqlx::error::BoxDynError;
use sqlx::{Arguments, Connection};

use crate::database::PoolSettings;
use crate::error::{DbError, ErrorKind};
use crate::model::FieldType;
use crate::row::Row;
use crate::value::{Kind, Value};

/// How long a PostgreSQL or MySQL connection may have sat in the pool before
/// it is pinged again when taken out.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// The pool options of the server backends (PostgreSQL, MySQL).
///
/// sqlx pings every connection when it goes back to the pool, and by default
/// once more when it is taken out: a round trip to the server before every
/// query. A connection back from a query less than
/// [`PING_WHEN_IDLE_FOR`] ago was just found alive, so only one that sat
/// idle longer (long enough for the server to restart, or to drop idle
/// sessions) is pinged, and replaced when the ping fails. Under load that
/// saves a round trip per query; after a quiet spell the first query still
/// never lands on a dead connection.
pub(crate) fn server_pool_options<DB: sqlx::Database>(
    settings: &PoolSettings,
) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|connection, metadata| {
            Box::pin(async move {
                if metadata.idle_for >= PING_WHEN_IDLE_FOR {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

/// Which database a connection talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite (bundled; a file or `:memory:`).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl Backend {
    /// The backend a database URL names: `sqlite:`, `postgres://` (or
    /// `postgresql://`), `mysql://` (or `mariadb://`).
    pub fn from_url(url: &str) -> Result<Backend, DbError> {
        let scheme = url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "mysql" | "mariadb" => Ok(Backend::MySql),
            _ => Err(DbError::new(
                ErrorKind::Configuration,
                format!(
                    "unsupported database URL {}: use sqlite://path.db (or sqlite::memory:), \
                     postgres://user@host/db or mysql://user@host/db",
                    redact(url)
                ),
            )),
        }
    }

    /// What this backend can do.
    pub fn features(self) -> &'static Features {
        match self {
            Backend::Sqlite => &sqlite::FEATURES,
            Backend::Postgres => &postgres::FEATURES,
            Backend::MySql => &mysql::FEATURES,
        }
    }

    /// A short name: `sqlite`, `postgres`, `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Capability flags: shared code branches on these, never on the backend's name.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Features {
    /// Schema changes (CREATE/ALTER TABLE) can be rolled back in a transaction.
    pub can_rollback_ddl: bool,
    /// `INSERT ... RETURNING` is available.
    pub supports_returning: bool,
    /// `SELECT ... FOR UPDATE` locks rows.
    pub supports_select_for_update: bool,
    /// `FOR UPDATE SKIP LOCKED` is available.
    pub supports_skip_locked: bool,
    /// Parameters are written `$1, $2` (else `?`).
    pub numbered_parameters: bool,
    /// Longest identifier the database accepts.
    pub max_identifier_length: usize,
}

/// Rewrites `?` parameters to `$1, $2, ...` for PostgreSQL, leaving `?` inside
/// string literals, quoted identifiers and comments alone.
pub(crate) fn number_parameters(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                out.push(c);
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                out.push(c);
                let mut previous = ' ';
                for inner in chars.by_ref() {
                    out.push(inner);
                    if previous == '*' && inner == '/' {
                        break;
                    }
                    previous = inner;
                }
            }
            '?' => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            c => out.push(c),
        }
    }
    out
}

/// How one backend encodes the types that not every backend has natively.
pub(crate) trait BindTypes: sqlx::Database {
    fn add_decimal(args: &mut Self::Arguments, value: Option<Decimal>) -> Result<(), BoxDynError>;
    fn add_uuid(args: &mut Self::Arguments, value: Option<uuid::Uuid>) -> Result<(), BoxDynError>;
}

/// A type a backend can bind, both as a value and as a (typed) NULL.
pub(crate) trait Bind<DB: sqlx::Database>:
    for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB> + Send + 'static
{
    fn add_null(args: &mut DB::Arguments) -> Result<(), BoxDynError>;
}

impl<T, DB> Bind<DB> for T
where
    DB: sqlx::Database,
    T: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB> + Send + 'static,
    Option<T>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB> + Send + 'static,
{
    fn add_null(args: &mut DB::Arguments) -> Result<(), BoxDynError> {
        args.add(None::<T>)
    }
}

/// Builds a backend's argument list from values.
pub(crate) fn arguments<DB>(values: Vec<Value>) -> Result<DB::Arguments, DbError>
where
    DB: BindTypes,
    DB::Arguments: Default,
    bool: Bind<DB>,
    i16: Bind<DB>,
    i32: Bind<DB>,
    i64: Bind<DB>,
    f64: Bind<DB>,
    String: Bind<DB>,
    Vec<u8>: Bind<DB>,
    chrono::NaiveDate: Bind<DB>,
    chrono::NaiveTime: Bind<DB>,
    chrono::DateTime<chrono::Utc>: Bind<DB>,
    sqlx::types::Json<serde_json::Value>: Bind<DB>,
{
    let mut args = DB::Arguments::default();
    for value in values {
        let added = match value {
            Value::Bool(v) => args.add(v),
            Value::I16(v) => args.add(v),
            Value::I32(v) => args.add(v),
            Value::I64(v) => args.add(v),
            Value::F64(v) => args.add(v),
            Value::String(v) => args.add(v),
            Value::Bytes(v) => args.add(v),
            Value::Decimal(v) => DB::add_decimal(&mut args, Some(v)),
            Value::Date(v) => args.add(v),
            Value::Time(v) => args.add(v),
            Value::DateTime(v) => args.add(v),
            Value::Uuid(v) => DB::add_uuid(&mut args, Some(v)),
            Value::Json(v) => args.add(sqlx::types::Json(v)),
            Value::Null(kind) => match kind {
                Kind::Bool => <bool as Bind<DB>>::add_null(&mut args),
                Kind::I16 => <i16 as Bind<DB>>::add_null(&mut args),
                Kind::I32 => <i32 as Bind<DB>>::add_null(&mut args),
                Kind::I64 => <i64 as Bind<DB>>::add_null(&mut args),
                Kind::F64 => <f64 as Bind<DB>>::add_null(&mut args),
                Kind::String => <String as Bind<DB>>::add_null(&mut args),
                Kind::Bytes => <Vec<u8> as Bind<DB>>::add_null(&mut args),
                Kind::Decimal => DB::add_decimal(&mut args, None),
                Kind::Date => <chrono::NaiveDate as Bind<DB>>::add_null(&mut args),
                Kind::Time => <chrono::NaiveTime as Bind<DB>>::add_null(&mut args),
                Kind::DateTime => <chrono::DateTime<chrono::Utc> as Bind<DB>>::add_null(&mut args),
                Kind::Uuid => DB::add_uuid(&mut args, None),
                Kind::Json => {
                    <sqlx::types::Json<serde_json::Value> as Bind<DB>>::add_null(&mut args)
                }
            },
        };
        added.map_err(|err| {
            DbError::new(ErrorKind::Decode, format!("cannot bind a parameter: {err}"))
        })?;
    }
    Ok(args)
}

/// A field's column type on `backend`: the backend's own type where it has
/// one, else the standard SQL type (like Django's per-backend `data_types`).
pub(crate) fn column_type(backend: Backend, column: &ColumnSpec) -> String {
    let specific = match backend {
        Backend::Sqlite => sqlite::column_type(column),
        Backend::Postgres => postgres::column_type(column),
        Backend::MySql => mysql::column_type(column),
    };
    specific.unwrap_or_else(|| standard_column_type(column))
}

/// Quotes an identifier for `backend`.
pub(crate) fn quote(backend: Backend, name: &str) -> String {
    match backend {
        Backend::Sqlite => sqlite::quote(name),
        Backend::Postgres => postgres::quote(name),
        Backend::MySql => mysql::quote(name),
    }
}

/// What follows the type of an auto-increment primary key.
pub(crate) fn auto_key(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => sqlite::AUTO_KEY,
        Backend::Postgres => postgres::AUTO_KEY,
        Backend::MySql => mysql::AUTO_KEY,
    }
}

/// Makes an existing column NOT NULL (`definition` is its full column
/// definition, which MySQL restates). SQLite rebuilds the table instead.
pub(crate) fn set_not_null(
    backend: Backend,
    table: &str,
    column: &str,
    definition: &str,
) -> String {
    match backend {
        Backend::Postgres => postgres::set_not_null(table, column),
        Backend::MySql => mysql::set_not_null(table, definition),
        Backend::Sqlite => unreachable!("SQLite changes nullability by rebuilding the table"),
    }
}

/// What decides a column's SQL type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ColumnSpec {
    pub(crate) field_type: FieldType,
    pub(crate) max_length: Option<u32>,
    pub(crate) max_digits: Option<u32>,
    pub(crate) decimal_places: Option<u32>,
}

fn standard_column_type(field: &ColumnSpec) -> String {
    match field.field_type {
        FieldType::AutoInt | FieldType::Int => "integer".into(),
        FieldType::AutoBigInt | FieldType::BigInt => "bigint".into(),
        FieldType::SmallInt => "smallint".into(),
        FieldType::Bool => "boolean".into(),
        FieldType::Float => "double precision".into(),
        FieldType::String => match field.max_length {
            Some(n) => format!("varchar({n})"),
            None => "text".into(),
        },
        FieldType::Decimal => format!(
            "numeric({}, {})",
            field.max_digits.unwrap_or(30),
            field.decimal_places.unwrap_or(10)
        ),
        FieldType::Date => "date".into(),
        FieldType::Time => "time".into(),
        FieldType::DateTime => "timestamp with time zone".into(),
        FieldType::Uuid => "char(36)".into(),
        FieldType::Json => "json".into(),
        FieldType::Bytes => "blob".into(),
    }
}

/// Runs one administrative statement (CREATE/DROP DATABASE) on a fresh
/// connection to the server.
pub(crate) async fn admin<C>(url: &str, statement: String) -> Result<(), DbError>
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c>,
{
    let mut conn = C::connect(url).await?;
    sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(statement)).await?;
    conn.close().await?;
    Ok(())
}

/// The query listing the tables of the connected database (its current
/// schema on PostgreSQL), one name per row.
pub(crate) fn table_names_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => sqlite::TABLE_NAMES,
        Backend::Postgres => postgres::TABLE_NAMES,
        Backend::MySql => mysql::TABLE_NAMES,
    }
}

/// The query (and its parameters) that moves the key sequence of `table`'s
/// auto-increment `column` past the largest key, after rows were written
/// with explicit keys (Django's `sqlsequencereset`). `None` where the
/// database does that by itself: SQLite's `AUTOINCREMENT` and MySQL's
/// `AUTO_INCREMENT` always continue after the largest key.
pub(crate) fn reset_sequence(
    backend: Backend,
    table: &str,
    column: &str,
) -> Option<(String, Vec<Value>)> {
    match backend {
        Backend::Sqlite | Backend::MySql => None,
        Backend::Postgres => Some(postgres::reset_sequence(table, column)),
    }
}

/// Deletes every row of `tables` and restarts their auto-increment keys at
/// 1 (Django's `sql_flush`), whatever references run between them.
pub(crate) async fn flush(db: &crate::Database, tables: &[&str]) -> Result<(), DbError> {
    if tables.is_empty() {
        return Ok(());
    }
    match db.backend() {
        Backend::Sqlite => sqlite::flush(db, tables).await,
        Backend::Postgres => postgres::flush(db, tables).await,
        Backend::MySql => mysql::flush(db, tables).await,
    }
}

/// A case-sensitive text lookup: the one thing each backend spells
/// differently (SQLite's LIKE ignores ASCII case, MySQL's follows the
/// column's usually case-insensitive collation).
/// The query estimating a table's rows from the database's statistics,
/// taking the table's name as its one parameter; SQLite keeps none.
pub(crate) fn row_estimate_sql(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(postgres::ROW_ESTIMATE),
        Backend::MySql => Some(mysql::ROW_ESTIMATE),
    }
}

pub(crate) fn text_match(
    backend: Backend,
    column: sea_query::Expr,
    op: crate::query::TextOp,
    value: &str,
) -> sea_query::Expr {
    match backend {
        Backend::Sqlite => sqlite::text_match(column, op, value),
        Backend::Postgres => postgres::text_match(column, op, value),
        Backend::MySql => mysql::text_match(column, op, value),
    }
}

/// Adds `FOR UPDATE` to a select of `table`. SQLite has no row locks (a
/// write transaction locks the database), so there it adds nothing, as in
/// Django. PostgreSQL locks `table`'s rows only (`FOR UPDATE OF`), since it
/// cannot lock the optional side of an outer join (`select_related`) or a
/// grouped subquery (`annotate`); MySQL and MariaDB lock the joined rows too.
pub(crate) fn lock_rows(
    backend: Backend,
    statement: &mut sea_query::SelectStatement,
    table: &'static str,
    wait: crate::query::ForUpdate,
) {
    use crate::query::ForUpdate;
    use sea_query::{LockBehavior, LockType};
    let behavior = match wait {
        ForUpdate::Wait => None,
        ForUpdate::NoWait => Some(LockBehavior::Nowait),
        ForUpdate::SkipLocked => Some(LockBehavior::SkipLocked),
    };
    match (backend, behavior) {
        (Backend::Sqlite, _) => {}
        (Backend::Postgres, Some(b)) => {
            statement.lock_with_tables_behavior(LockType::Update, [table], b);
        }
        (Backend::Postgres, None) => {
            statement.lock_with_tables(LockType::Update, [table]);
        }
        (Backend::MySql, Some(b)) => {
            statement.lock_with_behavior(LockType::Update, b);
        }
        (Backend::MySql, None) => {
            statement.lock(LockType::Update);
        }
    }
}

/// How to ask the backend for a query plan: the statement prefix and the
/// result column holding one line of the plan.
pub(crate) fn explain(backend: Backend) -> (&'static str, usize) {
    match backend {
        Backend::Sqlite => sqlite::EXPLAIN,
        Backend::Postgres => postgres::EXPLAIN,
        Backend::MySql => mysql::EXPLAIN,
    }
}

/// Casts an aggregate back to a 64-bit integer where the backend widens it.
pub(crate) fn cast_to_i64(backend: Backend, expr: sea_query::Expr) -> sea_query::Expr {
    match backend {
        Backend::Sqlite => expr,
        Backend::Postgres => sea_query::Expr::cust_with_exprs("CAST($1 AS BIGINT)", [expr]),
        Backend::MySql => sea_query::Expr::cust_with_exprs("CAST(? AS SIGNED)", [expr]),
    }
}

/// Casts an aggregate to a double where the backend makes it exact-numeric.
pub(crate) fn cast_to_f64(backend: Backend, expr: sea_query::Expr) -> sea_query::Expr {
    match backend {
        Backend::Sqlite => expr,
        Backend::Postgres => {
            sea_query::Expr::cust_with_exprs("CAST($1 AS DOUBLE PRECISION)", [expr])
        }
        Backend::MySql => sea_query::Expr::cust_with_exprs("CAST(? AS DOUBLE)", [expr]),
    }
}

/// A date part as an integer expression (moments in UTC).
pub(crate) fn date_part(
    backend: Backend,
    column: sea_query::Expr,
    part: crate::query::DatePart,
    moment: bool,
) -> sea_query::Expr {
    match backend {
        Backend::Sqlite => sqlite::date_part(column, part),
        Backend::Postgres => postgres::date_part(column, part, moment),
        Backend::MySql => mysql::date_part(column, part),
    }
}

/// Reads a decimal column: SQLite keeps decimals as exact text.
pub(crate) fn decode_decimal(row: &Row, index: usize) -> Result<Decimal, DbError> {
    match row {
        Row::Sqlite(row) => sqlite::decode_decimal(row, index),
        Row::Postgres(row) => Ok(sqlx::Row::try_get::<Decimal, usize>(row, index)?),
        Row::MySql(row) => Ok(sqlx::Row::try_get::<Decimal, usize>(row, index)?),
    }
}

/// Reads a UUID column: text on SQLite and MySQL, native on PostgreSQL.
pub(crate) fn decode_uuid(row: &Row, index: usize) -> Result<uuid::Uuid, DbError> {
    let text = match row {
        Row::Postgres(row) => return Ok(sqlx::Row::try_get::<uuid::Uuid, usize>(row, index)?),
        Row::Sqlite(row) => sqlx::Row::try_get::<String, usize>(row, index)?,
        Row::MySql(row) => sqlx::Row::try_get::<String, usize>(row, index)?,
    };
    uuid::Uuid::parse_str(&text).map_err(|err| {
        DbError::new(
            ErrorKind::Decode,
            format!("column {index} holds {text:?}, not a UUID: {err}"),
        )
    })
}

/// A server URL's user part: `(user, password)` of
/// `scheme://user:password@host/...`, the password still percent-encoded.
/// The authority ends at the first `/`, `?` or `#`, and its user part at the
/// last `@` in it — as URL parsers (and so the drivers) read it, even when
/// the password holds an unencoded `@`.
pub(crate) fn url_credentials(url: &str) -> Option<(&str, Option<&str>)> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (userinfo, _) = authority.rsplit_once('@')?;
    Some(match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (userinfo, None),
    })
}

/// A URL with its password hidden, for messages and logs:
/// `postgres://ann:secret@db/site` becomes `postgres://ann:****@db/site`.
pub fn redact(url: &str) -> String {
    let masked = match url_credentials(url) {
        Some((user, Some(password))) => {
            // The user part is `user:password@`, right after `://`.
            let (scheme, rest) = url.split_once("://").unwrap_or_default();
            let host = &rest[user.len() + 1 + password.len() + 1..];
            format!("{scheme}://{user}:****@{host}")
        }
        _ => url.to_owned(),
    };
    // A password may also come as a query parameter (`?password=...`).
    match masked.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.to_ascii_lowercase().contains("pass") => {
                        format!("{key}=****")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => masked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parameters_outside_literals_and_comments() {
        assert_eq!(
            number_parameters(
                "SELECT ? , '?' , \"a?\" FROM t WHERE x = ? -- why?\nAND y = ? /* ? */"
            ),
            "SELECT $1 , '?' , \"a?\" FROM t WHERE x = $2 -- why?\nAND y = $3 /* ? */"
        );
        assert_eq!(
            number_parameters("SELECT 'it''s ?', ?"),
            "SELECT 'it''s ?', $1"
        );
    }

    #[test]
    fn urls_name_their_backend_and_hide_passwords() {
        assert_eq!(
            Backend::from_url("sqlite::memory:").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/d").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::from_url("mariadb://u@h/d").unwrap(),
            Backend::MySql
        );
        let err = Backend::from_url("oracle://scott:tiger@db/x").unwrap_err();
        assert!(
            err.to_string().contains("oracle://scott:****@db/x"),
            "{err}"
        );
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
    }

    #[test]
    fn passwords_are_masked_wherever_the_drivers_find_them() {
        // An unencoded `@` in the password: the last `@` ends the user part.
        assert_eq!(
            redact("postgres://ann:p@ss@db:5432/site"),
            "postgres://ann:****@db:5432/site"
        );
        assert_eq!(
            redact("postgres://db/site?user=ann&password=secret&sslmode=require"),
            "postgres://db/site?user=ann&password=****&sslmode=require"
        );
        assert_eq!(redact("mysql://root@h/d?x=@y"), "mysql://root@h/d?x=@y");
        assert_eq!(redact("sqlite://db.sqlite3"), "sqlite://db.sqlite3");
    }
}
