//! Lookups on a column: comparisons, `in_`, `isnull`, date parts, text
//! matches.

use std::marker::PhantomData;

use sea_query::{Expr, ExprTrait};

use super::condition::{CompareOp, Condition, DatePart, Node, TextOp};
use crate::model::{Auto, Col, FieldValue, Model};
use crate::sql::to_sea;
use crate::value::Value;

/// Values a lookup on a column of type `T` accepts: a `T` itself, `&str` for
/// text, the inner value for `Option<T>` and `Auto<T>` columns.
pub trait LookupValue<T> {
    /// The value to bind.
    fn lookup_value(self) -> Value;
}

impl<T: FieldValue> LookupValue<T> for T {
    fn lookup_value(self) -> Value {
        self.to_value()
    }
}

impl<T: FieldValue> LookupValue<Option<T>> for T {
    fn lookup_value(self) -> Value {
        self.to_value()
    }
}

impl LookupValue<String> for &str {
    fn lookup_value(self) -> Value {
        Value::String(self.to_owned())
    }
}

impl LookupValue<Option<String>> for &str {
    fn lookup_value(self) -> Value {
        Value::String(self.to_owned())
    }
}

impl LookupValue<Auto<i64>> for i64 {
    fn lookup_value(self) -> Value {
        Value::I64(self)
    }
}

impl LookupValue<Auto<i32>> for i32 {
    fn lookup_value(self) -> Value {
        Value::I32(self)
    }
}

impl<M: Model, T> Col<M, T> {
    pub(crate) fn expr(&self) -> Expr {
        Expr::col((M::META.table, self.field().column))
    }

    fn compare(&self, op: fn(Expr, Expr) -> Expr, value: Value) -> Condition<M> {
        Condition::new(op(self.expr(), Expr::val(to_sea(value))))
    }

    /// `column = value`.
    pub fn eq(&self, value: impl LookupValue<T>) -> Condition<M> {
        self.compare(|c, v| c.eq(v), value.lookup_value())
    }

    /// `column <> value` (rows where the column is NULL do not match).
    pub fn ne(&self, value: impl LookupValue<T>) -> Condition<M> {
        self.compare(|c, v| c.ne(v), value.lookup_value())
    }

    /// `column < value`.
    pub fn lt(&self, value: impl LookupValue<T>) -> Condition<M> {
        self.compare(|c, v| c.lt(v), value.lookup_value())
    }

    /// `column <= value`.
    pub fn lte(&self, value: impl LookupValue<T>) -> Condition<M> {
        self.compare(|c, v| c.lte(v), value.lookup_value())
    }

    /// `column > value`.
    pub fn gt(&self, value: impl LookupValue<T>) -> Condition<M> {
        self.compare(|c, v| c.gt(v), value.lookup_value())
    }

    /// `column >= value`.
    pub fn gte(&self, value: impl LookupValue<T>) -> Condition<M> {
        self.compare(|c, v| c.gte(v), value.lookup_value())
    }

    /// `low <= column <= high` (Django's `range`).
    pub fn range(&self, low: impl LookupValue<T>, high: impl LookupValue<T>) -> Condition<M> {
        Condition::new(self.expr().between(
            Expr::val(to_sea(low.lookup_value())),
            Expr::val(to_sea(high.lookup_value())),
        ))
    }

    /// `column IN (values...)`; an empty list matches nothing.
    pub fn in_<V: LookupValue<T>>(&self, values: impl IntoIterator<Item = V>) -> Condition<M> {
        let values: Vec<sea_query::Value> = values
            .into_iter()
            .map(|v| to_sea(v.lookup_value()))
            .collect();
        if values.is_empty() {
            // `IN ()` is not valid SQL everywhere; "false" is what it means.
            return Condition::new(Expr::val(1).eq(Expr::val(0)));
        }
        Condition::new(self.expr().is_in(values))
    }

    /// `column IS NULL` (`true`) or `IS NOT NULL` (`false`).
    pub fn isnull(&self, is_null: bool) -> Condition<M> {
        let expr = if is_null {
            self.expr().is_null()
        } else {
            self.expr().is_not_null()
        };
        Condition::new(expr)
    }
}

/// Date and moment columns, whose parts can be compared.
pub trait DateColumn {
    /// Whether the column holds a moment (`DateTime<Utc>`) rather than a date.
    const MOMENT: bool;
}
impl DateColumn for chrono::NaiveDate {
    const MOMENT: bool = false;
}
impl DateColumn for chrono::DateTime<chrono::Utc> {
    const MOMENT: bool = true;
}
impl<T: DateColumn> DateColumn for Option<T> {
    const MOMENT: bool = T::MOMENT;
}

/// A date part of a column, to compare with a number:
/// `Question::PUB_DATE.year().eq(2026)`. Moments are taken in UTC.
pub struct DatePartOf<M> {
    table: &'static str,
    column: &'static str,
    part: DatePart,
    moment: bool,
    _model: PhantomData<fn() -> M>,
}

impl<M> DatePartOf<M> {
    fn compare(&self, op: CompareOp, value: i32) -> Condition<M> {
        Condition::from_node(Node::DatePart {
            table: self.table,
            column: self.column,
            part: self.part,
            moment: self.moment,
            op,
            value,
        })
    }

    /// `part = value`.
    pub fn eq(&self, value: i32) -> Condition<M> {
        self.compare(CompareOp::Eq, value)
    }

    /// `part < value`.
    pub fn lt(&self, value: i32) -> Condition<M> {
        self.compare(CompareOp::Lt, value)
    }

    /// `part <= value`.
    pub fn lte(&self, value: i32) -> Condition<M> {
        self.compare(CompareOp::Lte, value)
    }

    /// `part > value`.
    pub fn gt(&self, value: i32) -> Condition<M> {
        self.compare(CompareOp::Gt, value)
    }

    /// `part >= value`.
    pub fn gte(&self, value: i32) -> Condition<M> {
        self.compare(CompareOp::Gte, value)
    }
}

impl<M: Model, T: DateColumn> Col<M, T> {
    fn part(&self, part: DatePart) -> DatePartOf<M> {
        DatePartOf {
            table: M::META.table,
            column: self.field().column,
            part,
            moment: T::MOMENT,
            _model: PhantomData,
        }
    }

    /// The year (Django's `__year`).
    pub fn year(&self) -> DatePartOf<M> {
        self.part(DatePart::Year)
    }

    /// The month, 1–12 (`__month`).
    pub fn month(&self) -> DatePartOf<M> {
        self.part(DatePart::Month)
    }

    /// The day of the month (`__day`).
    pub fn day(&self) -> DatePartOf<M> {
        self.part(DatePart::Day)
    }
}

/// Text lookups, for `String` and `Option<String>` columns.
pub trait TextColumn {}
impl TextColumn for String {}
impl TextColumn for Option<String> {}

impl<M: Model, T: TextColumn> Col<M, T> {
    fn text(&self, op: TextOp, value: &str, case_insensitive: bool) -> Condition<M> {
        Condition::from_node(Node::Text {
            table: M::META.table,
            column: self.field().column,
            op,
            value: value.to_owned(),
            case_insensitive,
        })
    }

    /// Contains `value`, case-sensitively on every backend. `%` and `_` in
    /// the value are matched literally.
    pub fn contains(&self, value: &str) -> Condition<M> {
        self.text(TextOp::Contains, value, false)
    }

    /// Contains `value`, ignoring case.
    pub fn icontains(&self, value: &str) -> Condition<M> {
        self.text(TextOp::Contains, value, true)
    }

    /// Starts with `value`, case-sensitively.
    pub fn startswith(&self, value: &str) -> Condition<M> {
        self.text(TextOp::StartsWith, value, false)
    }

    /// Starts with `value`, ignoring case.
    pub fn istartswith(&self, value: &str) -> Condition<M> {
        self.text(TextOp::StartsWith, value, true)
    }

    /// Ends with `value`, case-sensitively.
    pub fn endswith(&self, value: &str) -> Condition<M> {
        self.text(TextOp::EndsWith, value, false)
    }

    /// Ends with `value`, ignoring case.
    pub fn iendswith(&self, value: &str) -> Condition<M> {
        self.text(TextOp::EndsWith, value, true)
    }

    /// Equals `value`, ignoring case.
    pub fn iexact(&self, value: &str) -> Condition<M> {
        self.text(TextOp::Exact, value, true)
    }
}
