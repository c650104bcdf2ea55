//! Aggregates: `Count`, `Sum`, `Avg`, `Min`, `Max`, each optionally
//! filtered, over a whole query or per group.
//!
//! ```text
//! let (total, votes) = Question::objects()
//!     .aggregate(&db, (Count::all(), Sum::of(Question::VOTES)))
//!     .await?;                                   // (i64, Option<i64>)
//! let per_writer = Post::objects()
//!     .group_by(Post::WRITER)
//!     .aggregate(&db, (Count::all(),))
//!     .await?;                                   // Vec<(ForeignKey<Writer>, (i64,))>
//! ```
//!
//! Results have one Rust type on every backend: counts are `i64`, sums of
//! integers `Option<i64>` (NULL over no rows), averages `Option<f64>`, and
//! `Min`/`Max` the column's own type. Backends that widen (PostgreSQL's
//! `SUM(bigint)` is numeric, MySQL's is decimal) are cast back.

use std::marker::PhantomData;

use sea_query::{Expr, Func};

use crate::backends::Backend;
use crate::error::DbError;
use crate::model::{Col, FieldValue, Model};
use crate::query::{Condition, Node};
use crate::row::Row;

/// One aggregate over rows of `M`.
pub trait Aggregate<M> {
    /// The Rust type of the result.
    type Output;
    /// The SQL expression.
    fn expr(&self, backend: Backend) -> Expr;
    /// Reads the result from column `index`.
    fn read(row: &Row, index: usize) -> Result<Self::Output, DbError>;
    /// The result over no rows when the database would give NULL instead
    /// (a count is 0); used when annotating rows that nothing points at.
    fn over_no_rows() -> Option<i64> {
        None
    }
}

/// A list of aggregates: a tuple of up to four.
pub trait Aggregates<M> {
    /// The tuple of results.
    type Output;
    /// The SQL expressions, in order.
    fn exprs(&self, backend: Backend) -> Vec<Expr>;
    /// Reads the results from columns starting at `offset`.
    fn read(row: &Row, offset: usize) -> Result<Self::Output, DbError>;
    /// [`Aggregate::over_no_rows`] of each, in order.
    fn over_no_rows() -> Vec<Option<i64>>;
    /// Handles on the results as annotations of rows of `Outer`, to filter
    /// and order by (see [`Annotated`](crate::query::Annotated)).
    type Refs<Outer>;
    /// The handles, in order.
    fn refs<Outer>() -> Self::Refs<Outer>;
}

macro_rules! aggregate_tuples {
    ($(($($name:ident $index:tt),+)),*) => {$(
        impl<M, $($name: Aggregate<M>),+> Aggregates<M> for ($($name,)+) {
            type Output = ($($name::Output,)+);
            fn exprs(&self, backend: Backend) -> Vec<Expr> {
                vec![$(self.$index.expr(backend)),+]
            }
            fn read(row: &Row, offset: usize) -> Result<Self::Output, DbError> {
                Ok(($($name::read(row, offset + $index)?,)+))
            }
            fn over_no_rows() -> Vec<Option<i64>> {
                vec![$($name::over_no_rows()),+]
            }
            type Refs<Outer> = ($(crate::query::AnnotationRef<Outer, $name::Output>,)+);
            fn refs<Outer>() -> Self::Refs<Outer> {
                ($(crate::query::AnnotationRef::new($index, $name::over_no_rows()),)+)
            }
        }
    )*};
}

aggregate_tuples!((A 0), (A 0, B 1), (A 0, B 1, C 2), (A 0, B 1, C 2, D 3));

/// Integer column types: their sums are `i64`.
pub trait IntegerColumn {}
impl IntegerColumn for i16 {}
impl IntegerColumn for i32 {}
impl IntegerColumn for i64 {}
impl<T: IntegerColumn> IntegerColumn for Option<T> {}

/// Columns with a numeric value for `Avg`.
pub trait AverageColumn {}
impl AverageColumn for i16 {}
impl AverageColumn for i32 {}
impl AverageColumn for i64 {}
impl AverageColumn for f64 {}
impl<T: AverageColumn> AverageColumn for Option<T> {}

/// Columns that order the same way in every backend's storage, for
/// `Min`/`Max` (not decimals, which SQLite keeps as text).
pub trait OrderedColumn {}
macro_rules! ordered {
    ($($ty:ty),*) => {$(
        impl OrderedColumn for $ty {}
        impl OrderedColumn for Option<$ty> {}
    )*};
}
ordered!(
    i16,
    i32,
    i64,
    f64,
    String,
    bool,
    chrono::NaiveDate,
    chrono::NaiveTime,
    chrono::DateTime<chrono::Utc>
);

/// Applies an aggregate's filter portably: only matching rows' values count.
fn filtered(value: Expr, filter: &Option<Node>, backend: Backend) -> Expr {
    match filter {
        None => value,
        // CASE WHEN ... THEN value END: NULL (ignored by aggregates) otherwise.
        Some(node) => Expr::case(node.compile(backend), value).into(),
    }
}

/// `COUNT(*)` (or of one column's non-NULL values), optionally filtered.
pub struct Count<M> {
    column: Option<(&'static str, &'static str)>,
    filter: Option<Node>,
    _model: PhantomData<fn() -> M>,
}

impl<M: Model> Count<M> {
    /// Counts rows.
    pub fn all() -> Self {
        Count {
            column: None,
            filter: None,
            _model: PhantomData,
        }
    }

    /// Counts non-NULL values of a column.
    pub fn of<T>(column: Col<M, T>) -> Self {
        Count {
            column: Some((M::META.table, column.field().column)),
            filter: None,
            _model: PhantomData,
        }
    }

    /// Counts only rows matching `condition`.
    pub fn filter(mut self, condition: Condition<M>) -> Self {
        self.filter = Some(condition.into_node());
        self
    }
}

impl<M> Aggregate<M> for Count<M> {
    type Output = i64;
    fn expr(&self, backend: Backend) -> Expr {
        let value = match self.column {
            Some(column) => Expr::col(column),
            None => Expr::val(1),
        };
        Func::count(filtered(value, &self.filter, backend)).into()
    }
    fn read(row: &Row, index: usize) -> Result<i64, DbError> {
        row.get::<i64, usize>(index)
    }
    fn over_no_rows() -> Option<i64> {
        Some(0)
    }
}

/// Declares a one-column aggregate type.
macro_rules! column_aggregate {
    ($(#[$doc:meta])* $name:ident, $bound:ident) => {
        $(#[$doc])*
        pub struct $name<M, T> {
            column: (&'static str, &'static str),
            filter: Option<Node>,
            _types: PhantomData<fn() -> (M, T)>,
        }

        impl<M: Model, T: $bound> $name<M, T> {
            /// Over this column.
            pub fn of(column: Col<M, T>) -> Self {
                $name {
                    column: (M::META.table, column.field().column),
                    filter: None,
                    _types: PhantomData,
                }
            }

            /// Over only the rows matching `condition`.
            pub fn filter(mut self, condition: Condition<M>) -> Self {
                self.filter = Some(condition.into_node());
                self
            }
        }
    };
}

column_aggregate!(
    /// The sum of an integer column: `Option<i64>` (`None` over no rows).
    Sum, IntegerColumn
);
column_aggregate!(
    /// The average of a numeric column: `Option<f64>`.
    Avg, AverageColumn
);
column_aggregate!(
    /// The smallest value of a column, in the column's type.
    Min, OrderedColumn
);
column_aggregate!(
    /// The largest value of a column, in the column's type.
    Max, OrderedColumn
);

impl<M, T> Aggregate<M> for Sum<M, T> {
    type Output = Option<i64>;
    fn expr(&self, backend: Backend) -> Expr {
        let sum: Expr = Func::sum(filtered(Expr::col(self.column), &self.filter, backend)).into();
        crate::backends::cast_to_i64(backend, sum)
    }
    fn read(row: &Row, index: usize) -> Result<Option<i64>, DbError> {
        row.get::<Option<i64>, usize>(index)
    }
}

impl<M, T> Aggregate<M> for Avg<M, T> {
    type Output = Option<f64>;
    fn expr(&self, backend: Backend) -> Expr {
        let avg: Expr = Func::avg(filtered(Expr::col(self.column), &self.filter, backend)).into();
        crate::backends::cast_to_f64(backend, avg)
    }
    fn read(row: &Row, index: usize) -> Result<Option<f64>, DbError> {
        row.get::<Option<f64>, usize>(index)
    }
}

/// `Min`/`Max` read back as the column's own type (made nullable).
macro_rules! extreme {
    ($name:ident, $func:ident) => {
        impl<M, T: FieldValue> Aggregate<M> for $name<M, T> {
            type Output = Option<T>;
            fn expr(&self, backend: Backend) -> Expr {
                Func::$func(filtered(Expr::col(self.column), &self.filter, backend)).into()
            }
            fn read(row: &Row, index: usize) -> Result<Option<T>, DbError> {
                <Option<T> as FieldValue>::from_row(row, index)
            }
        }
    };
}

extreme!(Min, min);
extreme!(Max, max);
