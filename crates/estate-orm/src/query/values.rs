//! `values`: selected columns as typed tuples instead of whole models
//! (Django's `values_list`; one column gives plain values, like
//! `flat=True`).
//!
//! ```text
//! let pairs: Vec<(i64, String)> = Question::objects()
//!     .values((Question::ID, Question::QUESTION_TEXT))
//!     .all(&db).await?;
//! let years: Vec<i32> = Question::objects().values(Question::YEAR).distinct().all(&db).await?;
//! ```

use std::marker::PhantomData;

use sea_query::SelectStatement;

use super::ordering::OrderTerm;
use super::queryset::QuerySet;
use crate::error::DbError;
use crate::executor::{self, Executor};
use crate::model::{Col, FieldValue, Model};
use crate::row::Row;
use crate::sql::build;

/// Columns of `M` to select: one column (plain values) or a tuple of up to
/// eight (tuples of values).
pub trait Columns<M> {
    /// What one row becomes.
    type Output: Send;
    /// The selected columns, in order.
    fn columns(&self) -> Vec<&'static str>;
    /// Reads one row.
    fn read(row: &Row) -> Result<Self::Output, DbError>;
}

impl<M: Model, T: FieldValue> Columns<M> for Col<M, T> {
    type Output = T;

    fn columns(&self) -> Vec<&'static str> {
        vec![self.field().column]
    }

    fn read(row: &Row) -> Result<T, DbError> {
        T::from_row(row, 0)
    }
}

macro_rules! tuple_columns {
    ($(($($name:ident $index:tt),+))*) => {$(
        impl<M: Model, $($name: FieldValue),+> Columns<M> for ($(Col<M, $name>,)+) {
            type Output = ($($name,)+);

            fn columns(&self) -> Vec<&'static str> {
                vec![$(self.$index.field().column),+]
            }

            fn read(row: &Row) -> Result<Self::Output, DbError> {
                Ok(($($name::from_row(row, $index)?,)+))
            }
        }
    )*};
}

tuple_columns! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
}

/// A query returning selected columns; see [`QuerySet::values`].
pub struct Values<M, C> {
    query: QuerySet<M>,
    columns: Vec<&'static str>,
    _columns: PhantomData<fn() -> C>,
}

impl<M: Model> QuerySet<M> {
    /// Selects only `columns`: `values(Question::ID)` gives `Vec<Auto<i64>>`,
    /// `values((Question::ID, Question::QUESTION_TEXT))` gives tuples.
    /// Filters, ordering, slicing and `distinct` carry over.
    pub fn values<C: Columns<M>>(self, columns: C) -> Values<M, C> {
        Values {
            columns: columns.columns(),
            query: self,
            _columns: PhantomData,
        }
    }
}

impl<M: Model, C: Columns<M>> Values<M, C> {
    /// Leaves out duplicate rows. Ordering terms on columns that are not
    /// selected are dropped (SQL cannot order distinct rows by them).
    pub fn distinct(mut self) -> Self {
        self.query.distinct = true;
        self
    }

    fn statement(&self, backend: crate::Backend) -> SelectStatement {
        let mut query = self.query.clone();
        if query.distinct {
            let kept = query
                .effective_ordering()
                .into_iter()
                .filter(|term| {
                    matches!(term, OrderTerm::Column { column, .. } if self.columns.contains(column))
                })
                .collect();
            query.ordering = Some(kept);
        }
        let mut statement = query.select(backend);
        statement.clear_selects();
        let table = M::META.table;
        statement.columns(self.columns.iter().map(|c| (table, *c)));
        statement
    }

    /// The SQL this runs on `backend`.
    pub fn sql(&self, backend: crate::Backend) -> String {
        build(&self.statement(backend), backend).0
    }

    /// Every row's values.
    pub async fn all<E: Executor + ?Sized>(&self, db: &E) -> Result<Vec<C::Output>, DbError> {
        self.query.check_lock(db)?;
        let (sql, params) = build(&self.statement(db.backend()), db.backend());
        crate::query_log::at(self.query.location, async move {
            executor::fetch_all(db.target(), &sql, params)
                .await?
                .iter()
                .map(C::read)
                .collect()
        })
        .await
    }

    /// Every row's values turned into `S` (a struct with
    /// `impl From<(A, B)> for S`, say): Django's `values()` into your own type.
    pub async fn all_as<S, E>(&self, db: &E) -> Result<Vec<S>, DbError>
    where
        S: From<C::Output>,
        E: Executor + ?Sized,
    {
        Ok(self.all(db).await?.into_iter().map(S::from).collect())
    }

    /// The first row's values, if any.
    pub async fn first<E: Executor + ?Sized>(&self, db: &E) -> Result<Option<C::Output>, DbError> {
        let limited: Values<M, C> = Values {
            query: self.query.clone().limit(1).ordered_by_key_if_unordered(),
            columns: self.columns.clone(),
            _columns: PhantomData,
        };
        Ok(limited.all(db).await?.into_iter().next())
    }
}
