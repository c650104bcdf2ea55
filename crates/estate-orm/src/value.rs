//! Values bound to SQL parameters. Every value travels as a bound parameter,
//! never spliced into SQL text.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

/// The type of a value, needed to bind a typed NULL (PostgreSQL insists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Boolean.
    Bool,
    /// 16-bit integer.
    I16,
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// Double-precision float.
    F64,
    /// Text.
    String,
    /// Binary.
    Bytes,
    /// Exact decimal.
    Decimal,
    /// Calendar date.
    Date,
    /// Time of day.
    Time,
    /// A moment in time, in UTC.
    DateTime,
    /// UUID.
    Uuid,
    /// JSON document.
    Json,
}

/// A value to bind to a query parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL of a given type.
    Null(Kind),
    /// Boolean.
    Bool(bool),
    /// 16-bit integer.
    I16(i16),
    /// 32-bit integer.
    I32(i32),
    /// 64-bit integer.
    I64(i64),
    /// Double-precision float.
    F64(f64),
    /// Text.
    String(String),
    /// Binary.
    Bytes(Vec<u8>),
    /// Exact decimal.
    Decimal(Decimal),
    /// Calendar date.
    Date(NaiveDate),
    /// Time of day.
    Time(NaiveTime),
    /// A moment in time, in UTC.
    DateTime(DateTime<Utc>),
    /// UUID.
    Uuid(Uuid),
    /// JSON document.
    Json(serde_json::Value),
}

impl Value {
    /// The value's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Null(kind) => *kind,
            Value::Bool(_) => Kind::Bool,
            Value::I16(_) => Kind::I16,
            Value::I32(_) => Kind::I32,
            Value::I64(_) => Kind::I64,
            Value::F64(_) => Kind::F64,
            Value::String(_) => Kind::String,
            Value::Bytes(_) => Kind::Bytes,
            Value::Decimal(_) => Kind::Decimal,
            Value::Date(_) => Kind::Date,
            Value::Time(_) => Kind::Time,
            Value::DateTime(_) => Kind::DateTime,
            Value::Uuid(_) => Kind::Uuid,
            Value::Json(_) => Kind::Json,
        }
    }
}

/// Types that convert into a [`Value`], with the kind of their NULL.
pub trait IntoValue {
    /// The kind used when the value is `None`.
    const KIND: Kind;
    /// Converts.
    fn into_value(self) -> Value;
}

macro_rules! into_value {
    ($($ty:ty => $variant:ident),* $(,)?) => {$(
        impl IntoValue for $ty {
            const KIND: Kind = Kind::$variant;
            fn into_value(self) -> Value {
                Value::$variant(self.into())
            }
        }
        impl From<$ty> for Value {
            fn from(value: $ty) -> Value {
                value.into_value()
            }
        }
    )*};
}

into_value! {
    bool => Bool,
    i16 => I16,
    i32 => I32,
    i64 => I64,
    f64 => F64,
    String => String,
    &str => String,
    Vec<u8> => Bytes,
    Decimal => Decimal,
    NaiveDate => Date,
    NaiveTime => Time,
    DateTime<Utc> => DateTime,
    Uuid => Uuid,
    serde_json::Value => Json,
}

impl<T: IntoValue> IntoValue for Option<T> {
    const KIND: Kind = T::KIND;
    fn into_value(self) -> Value {
        match self {
            Some(value) => value.into_value(),
            None => Value::Null(T::KIND),
        }
    }
}

impl<T: IntoValue> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.into_value()
    }
}

/// Builds a `Vec<Value>` from mixed values: `params![1, "a", None::<i64>]`.
#[macro_export]
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::Value::from($value)),*]
    };
}
