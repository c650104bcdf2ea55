//! Rows returned by queries, read with typed getters.

use sqlx::mysql::MySqlRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{ColumnIndex, MySql, Postgres, Row as _, Sqlite, ValueRef as _};

use crate::error::{DbError, ErrorKind};

/// A type that can be read from a column on every backend: `bool`, the
/// integers, `f64`, `String`, `Vec<u8>`, chrono's date/time types, `Uuid`,
/// JSON, and `Option` of any of them (for NULL).
pub trait Decode:
    for<'r> sqlx::Decode<'r, Sqlite>
    + sqlx::Type<Sqlite>
    + for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
    + for<'r> sqlx::Decode<'r, MySql>
    + sqlx::Type<MySql>
{
    /// Whether NULL is a valid value (only for `Option`). Some drivers
    /// would otherwise read NULL as 0 or "".
    #[doc(hidden)]
    const NULLABLE: bool;
}

macro_rules! decode_types {
    ($($ty:ty),* $(,)?) => {$(
        impl Decode for $ty {
            const NULLABLE: bool = false;
        }
    )*};
}

decode_types!(
    bool,
    i16,
    i32,
    i64,
    f64,
    String,
    Vec<u8>,
    chrono::NaiveDate,
    chrono::NaiveTime,
    chrono::DateTime<chrono::Utc>,
    sqlx::types::Json<serde_json::Value>,
);

impl<T: Decode> Decode for Option<T>
where
    Option<T>: for<'r> sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Sqlite>
        + for<'r> sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
        + for<'r> sqlx::Decode<'r, MySql>
        + sqlx::Type<MySql>,
{
    const NULLABLE: bool = true;
}

/// A column position (`usize`) or name (`&str`).
pub trait Column: ColumnIndex<SqliteRow> + ColumnIndex<PgRow> + ColumnIndex<MySqlRow> {}

impl<T> Column for T where T: ColumnIndex<SqliteRow> + ColumnIndex<PgRow> + ColumnIndex<MySqlRow> {}

/// One row of a result.
pub enum Row {
    /// From SQLite.
    Sqlite(SqliteRow),
    /// From PostgreSQL.
    Postgres(PgRow),
    /// From MySQL/MariaDB.
    MySql(MySqlRow),
}

impl Row {
    /// Reads a column as `T`; a type mismatch or NULL into a non-`Option` is
    /// an error naming the column.
    pub fn get<T: Decode, I: Column + std::fmt::Debug + Copy>(
        &self,
        column: I,
    ) -> Result<T, DbError> {
        match self {
            // SQLite's driver would read NULL as 0 or ""; the others refuse
            // NULL for a non-Option type themselves. Reading through
            // `Option` looks the column up once, NULL check included.
            Row::Sqlite(row) if !T::NULLABLE => {
                match row.try_get::<Option<T>, I>(column).map_err(DbError::from)? {
                    Some(value) => Ok(value),
                    None => Err(DbError::new(
                        ErrorKind::Decode,
                        format!(
                            "column {column:?} is NULL; read it as Option<{}>",
                            std::any::type_name::<T>()
                        ),
                    )),
                }
            }
            Row::Sqlite(row) => row.try_get::<T, I>(column).map_err(DbError::from),
            Row::Postgres(row) => row.try_get::<T, I>(column).map_err(DbError::from),
            Row::MySql(row) => row.try_get::<T, I>(column).map_err(DbError::from),
        }
    }

    /// Whether a column holds NULL.
    pub fn is_null<I: Column + std::fmt::Debug + Copy>(&self, column: I) -> Result<bool, DbError> {
        Ok(match self {
            Row::Sqlite(row) => row.try_get_raw(column)?.is_null(),
            Row::Postgres(row) => row.try_get_raw(column)?.is_null(),
            Row::MySql(row) => row.try_get_raw(column)?.is_null(),
        })
    }

    /// Reads a column as a [`Value`](crate::Value) of the given kind (NULL included).
    pub fn get_value(
        &self,
        index: usize,
        kind: crate::value::Kind,
    ) -> Result<crate::value::Value, DbError> {
        use crate::value::{Kind, Value};
        if self.is_null(index)? {
            return Ok(Value::Null(kind));
        }
        Ok(match kind {
            Kind::Bool => Value::Bool(self.get(index)?),
            Kind::I16 => Value::I16(self.get(index)?),
            Kind::I32 => Value::I32(self.get(index)?),
            Kind::I64 => Value::I64(self.get(index)?),
            Kind::F64 => Value::F64(self.get(index)?),
            Kind::String => Value::String(self.get(index)?),
            Kind::Bytes => Value::Bytes(self.get(index)?),
            Kind::Decimal => Value::Decimal(crate::backends::decode_decimal(self, index)?),
            Kind::Date => Value::Date(self.get(index)?),
            Kind::Time => Value::Time(self.get(index)?),
            Kind::DateTime => Value::DateTime(self.get(index)?),
            Kind::Uuid => Value::Uuid(crate::backends::decode_uuid(self, index)?),
            Kind::Json => Value::Json(
                self.get::<sqlx::types::Json<serde_json::Value>, usize>(index)?
                    .0,
            ),
        })
    }

    /// How many columns the row has.
    pub fn len(&self) -> usize {
        match self {
            Row::Sqlite(row) => row.len(),
            Row::Postgres(row) => row.len(),
            Row::MySql(row) => row.len(),
        }
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Row({} columns)", self.len())
    }
}
