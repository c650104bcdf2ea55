//! SQLite: bundled with the binary, a file (WAL mode) or in memory.

use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Arguments, Sqlite};

use super::sqlite_pool::SqlitePool;
use super::{BindTypes, Features};
use crate::database::PoolSettings;
use crate::error::DbError;
use crate::model::FieldType;
use crate::query::TextOp;

pub(crate) const FEATURES: Features = Features {
    can_rollback_ddl: true,
    supports_returning: true,
    supports_select_for_update: false,
    supports_skip_locked: false,
    numbered_parameters: false,
    max_identifier_length: 1024,
};

/// Whether the URL names an in-memory database (which lives only as long as
/// its one connection).
pub(crate) fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Rows a SQLite connection's worker thread may read ahead of the task
/// taking them. sqlx's default (50) is below a page of most lists (the
/// admin shows 100), and a full channel makes the worker and the task take
/// turns row by row — a thread switch per row once the task is busy with
/// other requests, which measured as five times the switches of a page.
/// Enough for a page keeps a query to a handful of switches; the buffer is
/// per running query, so memory stays bounded.
const ROW_BUFFER_SIZE: usize = 1024;

/// Opens a pool: the file is created if missing, in WAL mode with foreign keys
/// enforced, `synchronous = NORMAL` (safe with WAL) and a 5 s busy timeout.
/// Estate's own pool (see [`super::sqlite_pool`]): connections go back
/// without the ping sqlx's pool makes. An in-memory database is one
/// connection, which the pool keeps open: the database is that connection.
pub(crate) async fn connect(url: &str, settings: &PoolSettings) -> Result<SqlitePool, DbError> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        .row_buffer_size(ROW_BUFFER_SIZE);
    let max_connections = if is_memory(url) {
        1
    } else {
        settings.max_connections
    };
    SqlitePool::open(options, max_connections, settings.acquire_timeout).await
}

impl BindTypes for Sqlite {
    /// SQLite has no exact decimal type: store the exact text.
    fn add_decimal(args: &mut SqliteArguments, value: Option<Decimal>) -> Result<(), BoxDynError> {
        args.add(value.map(|d| d.to_string()))
    }

    /// Stored as the hyphenated text form, readable in any SQLite tool.
    fn add_uuid(args: &mut SqliteArguments, value: Option<uuid::Uuid>) -> Result<(), BoxDynError> {
        args.add(value.map(|u| u.hyphenated().to_string()))
    }
}

/// Decimals are stored as their exact text.
pub(crate) fn decode_decimal(
    row: &sqlx::sqlite::SqliteRow,
    index: usize,
) -> Result<Decimal, DbError> {
    let text: String = sqlx::Row::try_get(row, index)?;
    text.parse().map_err(|err| {
        DbError::new(
            crate::error::ErrorKind::Decode,
            format!("column {index} holds {text:?}, not a decimal: {err}"),
        )
    })
}

/// Quotes an identifier.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Where SQLite's column types differ from the standard ones: the key must
/// be `integer` (an alias of the rowid), and decimals and JSON are stored as
/// text (exact and readable).
pub(crate) fn column_type(field: &super::ColumnSpec) -> Option<String> {
    Some(
        match field.field_type {
            FieldType::AutoInt | FieldType::AutoBigInt => "integer",
            FieldType::Bool => "bool",
            FieldType::Float => "real",
            FieldType::Decimal | FieldType::Json => "text",
            FieldType::DateTime => "datetime",
            FieldType::Bytes => "blob",
            _ => return None,
        }
        .to_owned(),
    )
}

/// What follows the type for an auto-increment primary key.
pub(crate) const AUTO_KEY: &str = "PRIMARY KEY AUTOINCREMENT";

/// Case-sensitive text lookups use GLOB (SQLite's LIKE ignores ASCII case);
/// GLOB's own wildcards in the value are bracketed so they match literally.
pub(crate) fn text_match(column: sea_query::Expr, op: TextOp, value: &str) -> sea_query::Expr {
    let mut escaped = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        match c {
            '*' => escaped.push_str("[*]"),
            '?' => escaped.push_str("[?]"),
            '[' => escaped.push_str("[[]"),
            c => escaped.push(c),
        }
    }
    let pattern = match op {
        TextOp::Exact => escaped,
        TextOp::Contains => format!("*{escaped}*"),
        TextOp::StartsWith => format!("{escaped}*"),
        TextOp::EndsWith => format!("*{escaped}"),
    };
    sea_query::Expr::cust_with_exprs("? GLOB ?", [column, sea_query::Expr::val(pattern)])
}

/// Dates and moments are ISO text: `strftime` reads them (moments are UTC).
pub(crate) fn date_part(column: sea_query::Expr, part: crate::query::DatePart) -> sea_query::Expr {
    use crate::query::DatePart;
    let template = match part {
        DatePart::Year => "CAST(strftime('%Y', ?) AS INTEGER)",
        DatePart::Month => "CAST(strftime('%m', ?) AS INTEGER)",
        DatePart::Day => "CAST(strftime('%d', ?) AS INTEGER)",
    };
    sea_query::Expr::cust_with_exprs(template, [column])
}

/// `EXPLAIN QUERY PLAN`: one row per step, described in column 3 (`detail`).
pub(crate) const EXPLAIN: (&str, usize) = ("EXPLAIN QUERY PLAN ", 3);

/// The tables of the database (SQLite's own `sqlite_*` tables left out).
pub(crate) const TABLE_NAMES: &str = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";

/// Empties `tables` with foreign key checks off (they can be deleted in any
/// order; nothing is left to point anywhere), then forgets their
/// `AUTOINCREMENT` counters so keys start at 1 again.
pub(crate) async fn flush(db: &crate::Database, tables: &[&str]) -> Result<(), DbError> {
    use crate::executor::{Executor as _, execute, fetch_optional};
    use crate::value::Value;
    db.atomic_with_settings(
        Some(("PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys = ON")),
        async |tx| {
            for table in tables {
                execute(
                    tx.target(),
                    &format!("DELETE FROM {}", quote(table)),
                    Vec::new(),
                )
                .await?;
            }
            // The counters' table exists once any AUTOINCREMENT table was created.
            let counters = fetch_optional(
                tx.target(),
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'",
                Vec::new(),
            )
            .await?;
            if counters.is_some() {
                let marks = vec!["?"; tables.len()].join(", ");
                let names = tables.iter().map(|t| Value::String((*t).to_owned()));
                execute(
                    tx.target(),
                    &format!("DELETE FROM sqlite_sequence WHERE name IN ({marks})"),
                    names.collect(),
                )
                .await?;
            }
            Ok::<_, DbError>(())
        },
    )
    .await
}

/// `sqlite3 FILE`; an in-memory database cannot be opened by another program.
pub(crate) fn client_command(url: &str) -> Result<super::ClientCommand, DbError> {
    if is_memory(url) {
        return Err(DbError::new(
            crate::ErrorKind::Configuration,
            format!(
                "the database {url} lives in memory, inside this process: no client can open \
                 it; use a database file (sqlite://db.sqlite3)"
            ),
        ));
    }
    let options = SqliteConnectOptions::from_str(url)?;
    Ok(super::ClientCommand {
        programs: vec!["sqlite3"],
        args: vec![options.get_filename().to_string_lossy().into_owned()],
        env: Vec::new(),
        package: "sqlite3",
    })
}
