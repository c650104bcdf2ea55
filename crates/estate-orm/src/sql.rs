//! SQL text from sea-query statements, for the backend at hand, with the
//! values converted to our own [`Value`] so they bind like every other query.

use sea_query::{
    MysqlQueryBuilder, PostgresQueryBuilder, QueryStatementWriter, SqliteQueryBuilder,
};

use crate::backends::Backend;
use crate::value::{Kind, Value};

/// Builds `statement` for `backend`: SQL text plus its parameters in order.
pub(crate) fn build(
    statement: &impl QueryStatementWriter,
    backend: Backend,
) -> (String, Vec<Value>) {
    let (sql, values) = match backend {
        Backend::Sqlite => statement.build(SqliteQueryBuilder),
        Backend::Postgres => statement.build(PostgresQueryBuilder),
        Backend::MySql => statement.build(MysqlQueryBuilder),
    };
    (sql, values.0.into_iter().map(from_sea).collect())
}

/// Our value as a sea-query value (only to carry it through the builder).
pub(crate) fn to_sea(value: Value) -> sea_query::Value {
    use sea_query::Value as S;
    match value {
        Value::Bool(v) => S::Bool(Some(v)),
        Value::I16(v) => S::SmallInt(Some(v)),
        Value::I32(v) => S::Int(Some(v)),
        Value::I64(v) => S::BigInt(Some(v)),
        Value::F64(v) => S::Double(Some(v)),
        Value::String(v) => S::String(Some(v)),
        Value::Bytes(v) => S::Bytes(Some(v)),
        Value::Decimal(v) => S::Decimal(Some(v)),
        Value::Date(v) => S::ChronoDate(Some(v)),
        Value::Time(v) => S::ChronoTime(Some(v)),
        Value::DateTime(v) => S::ChronoDateTimeUtc(Some(v)),
        Value::Uuid(v) => S::Uuid(Some(v)),
        Value::Json(v) => S::Json(Some(Box::new(v))),
        Value::Null(kind) => match kind {
            Kind::Bool => S::Bool(None),
            Kind::I16 => S::SmallInt(None),
            Kind::I32 => S::Int(None),
            Kind::I64 => S::BigInt(None),
            Kind::F64 => S::Double(None),
            Kind::String => S::String(None),
            Kind::Bytes => S::Bytes(None),
            Kind::Decimal => S::Decimal(None),
            Kind::Date => S::ChronoDate(None),
            Kind::Time => S::ChronoTime(None),
            Kind::DateTime => S::ChronoDateTimeUtc(None),
            Kind::Uuid => S::Uuid(None),
            Kind::Json => S::Json(None),
        },
    }
}

/// The inverse of [`to_sea`] (plus the integer kinds sea-query itself adds,
/// such as LIMIT and OFFSET).
fn from_sea(value: sea_query::Value) -> Value {
    use sea_query::Value as S;
    fn or_null<T>(value: Option<T>, kind: Kind, wrap: impl FnOnce(T) -> Value) -> Value {
        value.map_or(Value::Null(kind), wrap)
    }
    match value {
        S::Bool(v) => or_null(v, Kind::Bool, Value::Bool),
        S::TinyInt(v) => or_null(v, Kind::I16, |v| Value::I16(v.into())),
        S::SmallInt(v) => or_null(v, Kind::I16, Value::I16),
        S::Int(v) => or_null(v, Kind::I32, Value::I32),
        S::BigInt(v) => or_null(v, Kind::I64, Value::I64),
        S::TinyUnsigned(v) => or_null(v, Kind::I16, |v| Value::I16(v.into())),
        S::SmallUnsigned(v) => or_null(v, Kind::I32, |v| Value::I32(v.into())),
        S::Unsigned(v) => or_null(v, Kind::I64, |v| Value::I64(v.into())),
        S::BigUnsigned(v) => or_null(v, Kind::I64, |v| {
            Value::I64(i64::try_from(v).unwrap_or(i64::MAX))
        }),
        S::Float(v) => or_null(v, Kind::F64, |v| Value::F64(v.into())),
        S::Double(v) => or_null(v, Kind::F64, Value::F64),
        S::String(v) => or_null(v, Kind::String, Value::String),
        S::Char(v) => or_null(v, Kind::String, |c| Value::String(c.to_string())),
        S::Bytes(v) => or_null(v, Kind::Bytes, Value::Bytes),
        S::Decimal(v) => or_null(v, Kind::Decimal, Value::Decimal),
        S::ChronoDate(v) => or_null(v, Kind::Date, Value::Date),
        S::ChronoTime(v) => or_null(v, Kind::Time, Value::Time),
        S::ChronoDateTimeUtc(v) => or_null(v, Kind::DateTime, Value::DateTime),
        S::Uuid(v) => or_null(v, Kind::Uuid, Value::Uuid),
        S::Json(v) => or_null(v, Kind::Json, |j| Value::Json(*j)),
        other => unreachable!("Estate never puts {other:?} into a query"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_survive_the_round_trip() {
        for value in [
            Value::I64(-5),
            Value::String("x".into()),
            Value::Null(Kind::Uuid),
            Value::Null(Kind::Decimal),
            Value::Json(serde_json::json!({"a": [1, 2]})),
        ] {
            assert_eq!(from_sea(to_sea(value.clone())), value);
        }
    }
}
