//! Expressions over columns: arithmetic like Django's `F("votes") + 1`,
//! and assignments for [`QuerySet::update`](super::QuerySet::update).

use std::marker::PhantomData;

use sea_query::{Expr, ExprTrait};

use super::condition::Condition;
use crate::model::{Col, FieldValue, Model};
use crate::sql::to_sea;

/// Numeric column types, which take part in arithmetic (F-expressions).
pub trait Numeric {}
impl Numeric for i16 {}
impl Numeric for i32 {}
impl Numeric for i64 {}
impl Numeric for f64 {}
impl Numeric for rust_decimal::Decimal {}
impl<T: Numeric> Numeric for Option<T> {}

/// A computed value over columns of `M` with Rust type `T`, like Django's
/// `F("votes") + 1`: `Choice::VOTES + 1`. Evaluated by the database, so
/// concurrent updates lose nothing.
pub struct ColExpr<M, T> {
    expr: Expr,
    _types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> ColExpr<M, T> {
    fn new(expr: Expr) -> Self {
        ColExpr {
            expr,
            _types: PhantomData,
        }
    }
}

/// What an assignment or comparison can take: a value, a column, or a
/// computed [`ColExpr`].
pub trait Operand<M, T> {
    /// The SQL expression.
    fn into_expr(self) -> Expr;
}

macro_rules! value_operands {
    ($($ty:ty),* $(,)?) => {$(
        impl<M> Operand<M, $ty> for $ty {
            fn into_expr(self) -> Expr {
                Expr::val(to_sea(self.to_value()))
            }
        }
        impl<M> Operand<M, Option<$ty>> for $ty {
            fn into_expr(self) -> Expr {
                Expr::val(to_sea(self.to_value()))
            }
        }
        impl<M> Operand<M, Option<$ty>> for Option<$ty> {
            fn into_expr(self) -> Expr {
                Expr::val(to_sea(self.to_value()))
            }
        }
    )*};
}

value_operands!(
    bool,
    i16,
    i32,
    i64,
    f64,
    String,
    Vec<u8>,
    rust_decimal::Decimal,
    chrono::NaiveDate,
    chrono::NaiveTime,
    chrono::DateTime<chrono::Utc>,
    uuid::Uuid,
    serde_json::Value,
);

impl<M, T: crate::model::Choices + FieldValue> Operand<M, T> for T {
    fn into_expr(self) -> Expr {
        Expr::val(to_sea(self.to_value()))
    }
}

impl<M, T: crate::model::Choices + FieldValue> Operand<M, Option<T>> for T {
    fn into_expr(self) -> Expr {
        Expr::val(to_sea(self.to_value()))
    }
}

impl<M, T: crate::model::Choices + FieldValue> Operand<M, Option<T>> for Option<T> {
    fn into_expr(self) -> Expr {
        Expr::val(to_sea(self.to_value()))
    }
}

impl<M> Operand<M, String> for &str {
    fn into_expr(self) -> Expr {
        Expr::val(self)
    }
}

impl<M> Operand<M, Option<String>> for &str {
    fn into_expr(self) -> Expr {
        Expr::val(self)
    }
}

impl<M, T> Operand<M, T> for ColExpr<M, T> {
    fn into_expr(self) -> Expr {
        self.expr
    }
}

macro_rules! arithmetic {
    ($($trait:ident $method:ident $op:ident),*) => {$(
        impl<M: Model, T: Numeric, R: Operand<M, T>> std::ops::$trait<R> for Col<M, T> {
            type Output = ColExpr<M, T>;
            fn $method(self, rhs: R) -> ColExpr<M, T> {
                ColExpr::new(self.expr().$op(rhs.into_expr()))
            }
        }

        impl<M: Model, T: Numeric, R: Operand<M, T>> std::ops::$trait<R> for ColExpr<M, T> {
            type Output = ColExpr<M, T>;
            fn $method(self, rhs: R) -> ColExpr<M, T> {
                ColExpr::new(self.expr.$op(rhs.into_expr()))
            }
        }
    )*};
}

arithmetic!(Add add add, Sub sub sub, Mul mul mul, Div div div);

impl<M: Model, T> Operand<M, T> for Col<M, T> {
    fn into_expr(self) -> Expr {
        self.expr()
    }
}

impl<M: Model, T> Col<M, T> {
    /// The column as an expression, like Django's `F("votes")`, to compare
    /// with another column: `Question::VOTES.f().gt(Question::MIN_VOTES)`.
    pub fn f(&self) -> ColExpr<M, T> {
        ColExpr::new(self.expr())
    }
}

impl<M, T> ColExpr<M, T> {
    fn compare(self, op: fn(Expr, Expr) -> Expr, other: impl Operand<M, T>) -> Condition<M> {
        Condition::new(op(self.expr, other.into_expr()))
    }

    /// `expression = other` (a value, a column or an expression).
    pub fn eq(self, other: impl Operand<M, T>) -> Condition<M> {
        self.compare(|a, b| a.eq(b), other)
    }

    /// `expression <> other`.
    pub fn ne(self, other: impl Operand<M, T>) -> Condition<M> {
        self.compare(|a, b| a.ne(b), other)
    }

    /// `expression < other`.
    pub fn lt(self, other: impl Operand<M, T>) -> Condition<M> {
        self.compare(|a, b| a.lt(b), other)
    }

    /// `expression <= other`.
    pub fn lte(self, other: impl Operand<M, T>) -> Condition<M> {
        self.compare(|a, b| a.lte(b), other)
    }

    /// `expression > other`.
    pub fn gt(self, other: impl Operand<M, T>) -> Condition<M> {
        self.compare(|a, b| a.gt(b), other)
    }

    /// `expression >= other`.
    pub fn gte(self, other: impl Operand<M, T>) -> Condition<M> {
        self.compare(|a, b| a.gte(b), other)
    }
}

/// `column = expression`, for [`QuerySet::update`](super::QuerySet::update).
pub struct Assignment<M> {
    pub(crate) column: &'static str,
    pub(crate) expr: Expr,
    _model: PhantomData<fn() -> M>,
}

impl<M: Model, T> Col<M, T> {
    /// Sets the column to a value or an expression: `Choice::VOTES.set(Choice::VOTES + 1)`.
    pub fn set(&self, value: impl Operand<M, T>) -> Assignment<M> {
        Assignment {
            column: self.field().column,
            expr: value.into_expr(),
            _model: PhantomData,
        }
    }
}
