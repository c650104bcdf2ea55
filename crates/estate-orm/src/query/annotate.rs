//! `annotate`: aggregates over the rows pointing at each row (Django's
//! `Question.objects.annotate(Count("choice"))`), returned next to it.
//!
//! The aggregates are computed once per key in a grouped subquery joined to
//! the query, which refers only to its own table (so a model pointing at
//! itself works) and leaves the outer query's filters, ordering and slices
//! as they are.

use std::marker::PhantomData;

use sea_query::{Alias, Expr, ExprTrait, Func, JoinType, Query, SelectStatement};

use super::condition::Condition;
use super::lookups::LookupValue;
use super::ordering::{Nulls, OrderBy, OrderTerm};
use super::queryset::QuerySet;
use super::relations::RelationField;
use crate::aggregate::Aggregates;
use crate::error::DbError;
use crate::executor::{self, Executor};
use crate::model::{Col, Model};
use crate::sql::build;

const JOINED: &str = "annotations";
const KEY: &str = "annotated_key";
/// The result columns of the joined subquery (a tuple has at most four).
const RESULTS: [&str; 4] = ["a0", "a1", "a2", "a3"];

/// A query whose rows come with aggregates; see [`QuerySet::annotate`].
pub struct Annotated<M, C, A> {
    query: QuerySet<M>,
    column: &'static str,
    aggregates: A,
    _child: PhantomData<fn() -> C>,
}

impl<M: Model> QuerySet<M> {
    /// Each row together with aggregates over the rows of `C` whose
    /// `relation` points at it: questions with their number of choices are
    /// `Question::objects().annotate(Choice::QUESTION, (Count::all(),))`,
    /// giving `Vec<(Question, (i64,))>`. A row nothing points at gets
    /// counts of 0 and `None` for the others.
    pub fn annotate<C, F, A>(self, relation: Col<C, F>, aggregates: A) -> Annotated<M, C, A>
    where
        C: Model,
        F: RelationField<Target = M>,
        A: Aggregates<C>,
    {
        Annotated {
            query: self,
            column: relation.field().column,
            aggregates,
            _child: PhantomData,
        }
    }
}

impl<M: Model, C: Model, A: Aggregates<C>> Annotated<M, C, A> {
    /// Keeps the rows whose annotations match (SQL's `HAVING`): the closure
    /// gets one handle per aggregate, in order.
    /// `.filter_annotations(|(choices,)| choices.gt(1))`.
    pub fn filter_annotations(
        mut self,
        condition: impl FnOnce(A::Refs<M>) -> Condition<M>,
    ) -> Self {
        self.query = self.query.filter(condition(A::refs()));
        self
    }

    /// Orders by annotations (and columns): replaces the ordering.
    /// `.order_by_annotations(|(choices,)| [choices.desc(), Question::ID.asc()])`.
    pub fn order_by_annotations<I: IntoIterator<Item = OrderBy<M>>>(
        mut self,
        terms: impl FnOnce(A::Refs<M>) -> I,
    ) -> Self {
        self.query = self.query.order_by(terms(A::refs()));
        self
    }

    fn statement(&self, backend: crate::Backend) -> SelectStatement {
        let child = C::META.table;
        let mut grouped = Query::select();
        grouped.expr_as(Expr::col((child, self.column)), Alias::new(KEY));
        let exprs = self.aggregates.exprs(backend);
        for (i, expr) in exprs.iter().enumerate() {
            grouped.expr_as(expr.clone(), Alias::new(RESULTS[i]));
        }
        grouped
            .from(child)
            .and_where(Expr::col((child, self.column)).is_not_null())
            .group_by_col((child, self.column));

        let mut statement = self.query.select(backend);
        let meta = M::META;
        statement.join_subquery(
            JoinType::LeftJoin,
            grouped,
            Alias::new(JOINED),
            Expr::col((Alias::new(JOINED), Alias::new(KEY))).equals((meta.table, meta.pk().column)),
        );
        for (i, empty) in A::over_no_rows().into_iter().enumerate() {
            let value = Expr::col((JOINED, RESULTS[i]));
            match empty {
                Some(zero) => statement.expr(Func::coalesce([value, Expr::val(zero)])),
                None => statement.expr(value),
            };
        }
        statement
    }

    /// The SQL this runs on `backend`.
    pub fn sql(&self, backend: crate::Backend) -> String {
        build(&self.statement(backend), backend).0
    }

    /// Every matching row with its aggregates.
    pub async fn all<E: Executor + ?Sized>(&self, db: &E) -> Result<Vec<(M, A::Output)>, DbError> {
        self.query.check_lock(db)?;
        let (sql, params) = build(&self.statement(db.backend()), db.backend());
        let count = A::over_no_rows().len();
        crate::query_log::at(self.query.location, async move {
            let rows = executor::fetch_all(db.target(), &sql, params).await?;
            let mut objs = Vec::with_capacity(rows.len());
            let mut results = Vec::with_capacity(rows.len());
            for row in &rows {
                objs.push(self.query.decode(row)?);
                results.push(A::read(row, row.len() - count)?);
            }
            self.query.run_prefetch(db, &mut objs).await?;
            Ok(objs.into_iter().zip(results).collect())
        })
        .await
    }
}

/// One annotation of rows of `M`, with Rust type `T`, to filter and order
/// by; handed out by [`Annotated::filter_annotations`] and
/// [`Annotated::order_by_annotations`]. A count of rows nothing points at is
/// 0 here too.
pub struct AnnotationRef<M, T> {
    index: usize,
    zero: Option<i64>,
    _types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> AnnotationRef<M, T> {
    /// The handle on result `index` (used by the aggregate tuples).
    #[doc(hidden)]
    pub fn new(index: usize, zero: Option<i64>) -> Self {
        AnnotationRef {
            index,
            zero,
            _types: PhantomData,
        }
    }

    fn expr(&self) -> Expr {
        let value = Expr::col((JOINED, RESULTS[self.index]));
        match self.zero {
            Some(zero) => Func::coalesce([value, Expr::val(zero)]).into(),
            None => value,
        }
    }

    fn compare(&self, op: fn(Expr, Expr) -> Expr, value: crate::Value) -> Condition<M> {
        Condition::new(op(self.expr(), Expr::val(crate::sql::to_sea(value))))
    }

    /// `annotation = value`.
    pub fn eq(&self, value: impl LookupValue<T>) -> Condition<M> {
        self.compare(|a, b| a.eq(b), value.lookup_value())
    }

    /// `annotation <> value`.
    pub fn ne(&self, value: impl LookupValue<T>) -> Condition<M> {
        self.compare(|a, b| a.ne(b), value.lookup_value())
    }

    /// `annotation < value`.
    pub fn lt(&self, value: impl LookupValue<T>) -> Condition<M> {
        self.compare(|a, b| a.lt(b), value.lookup_value())
    }

    /// `annotation <= value`.
    pub fn lte(&self, value: impl LookupValue<T>) -> Condition<M> {
        self.compare(|a, b| a.lte(b), value.lookup_value())
    }

    /// `annotation > value`.
    pub fn gt(&self, value: impl LookupValue<T>) -> Condition<M> {
        self.compare(|a, b| a.gt(b), value.lookup_value())
    }

    /// `annotation >= value`.
    pub fn gte(&self, value: impl LookupValue<T>) -> Condition<M> {
        self.compare(|a, b| a.gte(b), value.lookup_value())
    }

    fn order(&self, descending: bool) -> OrderBy<M> {
        // A missing count sorts as the 0 it means (like the filters);
        // other missing results (NULL) go last either way.
        let nulls = Nulls::Last;
        OrderBy::new(OrderTerm::Joined {
            table: JOINED,
            column: RESULTS[self.index],
            descending,
            nulls: Some(nulls),
            missing: self.zero,
        })
    }

    /// Ascending order on this annotation.
    pub fn asc(&self) -> OrderBy<M> {
        self.order(false)
    }

    /// Descending order on this annotation.
    pub fn desc(&self) -> OrderBy<M> {
        self.order(true)
    }
}
