//! MySQL and MariaDB.

use std::str::FromStr;

use rust_decimal::Decimal;
use sqlx::error::BoxDynError;
use sqlx::mysql::{MySqlArguments, MySqlConnectOptions, MySqlPool};
use sqlx::{Arguments, MySql};

use super::{BindTypes, Features};
use crate::database::PoolSettings;
use crate::error::DbError;
use crate::model::FieldType;
use crate::query::TextOp;
use crate::query::like_pattern;

pub(crate) const FEATURES: Features = Features {
    can_rollback_ddl: false,
    supports_returning: false,
    supports_select_for_update: true,
    supports_skip_locked: true,
    numbered_parameters: false,
    max_identifier_length: 64,
};

/// Opens a pool with UTF-8 (`utf8mb4`) and UTC sessions.
pub(crate) async fn connect(url: &str, settings: &PoolSettings) -> Result<MySqlPool, DbError> {
    let options = MySqlConnectOptions::from_str(url)?
        .charset("utf8mb4")
        .timezone(Some(String::from("+00:00")));
    Ok(super::server_pool_options::<MySql>(settings)
        .connect_with(options)
        .await?)
}

impl BindTypes for MySql {
    fn add_decimal(args: &mut MySqlArguments, value: Option<Decimal>) -> Result<(), BoxDynError> {
        args.add(value)
    }

    /// Stored as the hyphenated text form (`CHAR(36)`), like Django does.
    fn add_uuid(args: &mut MySqlArguments, value: Option<uuid::Uuid>) -> Result<(), BoxDynError> {
        args.add(value.map(|u| u.hyphenated().to_string()))
    }
}

/// Creates database `name` (UTF-8, the usual case-insensitive collation).
pub(crate) async fn create_database(admin_url: &str, name: &str) -> Result<(), DbError> {
    super::admin::<sqlx::MySqlConnection>(
        admin_url,
        format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
    )
    .await
}

/// Drops database `name`.
pub(crate) async fn drop_database(admin_url: &str, name: &str) -> Result<(), DbError> {
    super::admin::<sqlx::MySqlConnection>(admin_url, format!("DROP DATABASE IF EXISTS `{name}`"))
        .await
}

/// InnoDB's estimate of a table's rows (from sampled statistics; it can be
/// off by tens of percent), for the table named by the one parameter.
pub(crate) const ROW_ESTIMATE: &str = "SELECT CAST(TABLE_ROWS AS SIGNED) FROM \
                                       information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
                                       AND TABLE_NAME = ?";

/// Quotes an identifier.
pub(crate) fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Where MySQL's column types differ from the standard ones: times keep
/// microseconds, and text without a maximum is `longtext`.
pub(crate) fn column_type(field: &super::ColumnSpec) -> Option<String> {
    Some(
        match field.field_type {
            FieldType::Bool => "bool",
            FieldType::String if field.max_length.is_none() => "longtext",
            FieldType::Time => "time(6)",
            FieldType::DateTime => "datetime(6)",
            FieldType::Bytes => "longblob",
            _ => return None,
        }
        .to_owned(),
    )
}

/// What follows the type for an auto-increment primary key.
pub(crate) const AUTO_KEY: &str = "PRIMARY KEY AUTO_INCREMENT";

/// MySQL's LIKE follows the column's collation (usually case-insensitive):
/// compare under the binary UTF-8 collation instead.
pub(crate) fn text_match(column: sea_query::Expr, op: TextOp, value: &str) -> sea_query::Expr {
    sea_query::Expr::cust_with_exprs(
        "? COLLATE utf8mb4_bin LIKE ? ESCAPE '!'",
        [column, sea_query::Expr::val(like_pattern(op, value))],
    )
}

/// `YEAR()`/`MONTH()`/`DAY()`; sessions and stored moments are UTC.
pub(crate) fn date_part(column: sea_query::Expr, part: crate::query::DatePart) -> sea_query::Expr {
    use crate::query::DatePart;
    let template = match part {
        DatePart::Year => "YEAR(?)",
        DatePart::Month => "MONTH(?)",
        DatePart::Day => "DAY(?)",
    };
    sea_query::Expr::cust_with_exprs(template, [column])
}

/// `EXPLAIN FORMAT=JSON` (MySQL 8 and MariaDB alike): one JSON document.
pub(crate) const EXPLAIN: (&str, usize) = ("EXPLAIN FORMAT=JSON ", 0);

/// MySQL restates the whole column to change it: `ALTER TABLE t MODIFY <definition>`.
pub(crate) fn set_not_null(table: &str, definition: &str) -> String {
    format!("ALTER TABLE {} MODIFY {definition}", quote(table))
}

/// The tables of the connected database (text even where MySQL 8 reports
/// `information_schema` names as binary strings).
pub(crate) const TABLE_NAMES: &str = "SELECT CAST(TABLE_NAME AS CHAR) FROM \
                                      information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
                                      AND TABLE_TYPE = 'BASE TABLE'";

/// Deletes every row with foreign key checks off (any order; nothing is
/// left to point anywhere), in one transaction, then restarts each
/// `AUTO_INCREMENT` at 1: an `ALTER TABLE`, which MySQL commits by itself,
/// so it runs only once the rows are gone for good. (`TRUNCATE` would also
/// commit by itself, table by table.)
pub(crate) async fn flush(db: &crate::Database, tables: &[&str]) -> Result<(), DbError> {
    use crate::executor::{Executor as _, execute};
    db.atomic_with_settings(
        Some(("SET FOREIGN_KEY_CHECKS = 0", "SET FOREIGN_KEY_CHECKS = 1")),
        async |tx| {
            for table in tables {
                execute(
                    tx.target(),
                    &format!("DELETE FROM {}", quote(table)),
                    Vec::new(),
                )
                .await?;
            }
            Ok::<_, DbError>(())
        },
    )
    .await?;
    for table in tables {
        let statement = format!("ALTER TABLE {} AUTO_INCREMENT = 1", quote(table));
        execute(db.target(), &statement, Vec::new()).await?;
    }
    Ok(())
}

/// `mysql --user=.. --host=.. --port=.. --protocol=TCP database` (or
/// `--socket=..`), the password in `MYSQL_PWD`; the MariaDB client
/// (`mariadb`) serves too.
pub(crate) fn client_command(url: &str) -> Result<super::ClientCommand, DbError> {
    let options = MySqlConnectOptions::from_str(url)?;
    let mut args = vec![
        format!("--user={}", options.get_username()),
        "--default-character-set=utf8mb4".to_owned(),
    ];
    match options.get_socket() {
        Some(socket) => args.push(format!("--socket={}", socket.to_string_lossy())),
        None => {
            // Like the driver: TCP even to `localhost`, which the client
            // would otherwise take as "the default socket".
            args.push(format!("--host={}", options.get_host()));
            args.push(format!("--port={}", options.get_port()));
            args.push("--protocol=TCP".to_owned());
        }
    }
    if let Some(database) = options.get_database() {
        args.push(database.to_owned());
    }
    let env = super::client::url_password(url)
        .map(|password| vec![("MYSQL_PWD".to_owned(), password)])
        .unwrap_or_default();
    Ok(super::ClientCommand {
        programs: vec!["mysql", "mariadb"],
        args,
        env,
        package: "mariadb-client",
    })
}
