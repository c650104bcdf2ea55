//! `annotate`: aggregates over the rows pointing at each row (Django's
//! `Question.objects.annotate(Count("choice"))`), returned next to it.
//!
//! The aggregates are computed once per key in a grouped subquery joined to
//! the query, which refers only to its own table (so a model pointing at
//! itself works) and leaves the outer query's filters, ordering and slices
//! as they are.

use std::marker::PhantomData;

use sea_query::{Alias, Expr, ExprTrait, Func, JoinType, Query, SelectStatement};

use super::queryset::QuerySet;
use super::relations::RelationField;
use crate::aggregate::Aggregates;
use crate::error::DbError;
use crate::executor::{self, Executor};
use crate::model::{Col, Model};
use crate::sql::build;

const JOINED: &str = "annotations";
const KEY: &str = "annotated_key";

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
    fn statement(&self, backend: crate::Backend) -> SelectStatement {
        let child = C::META.table;
        let mut grouped = Query::select();
        grouped.expr_as(Expr::col((child, self.column)), Alias::new(KEY));
        let exprs = self.aggregates.exprs(backend);
        for (i, expr) in exprs.iter().enumerate() {
            grouped.expr_as(expr.clone(), Alias::new(format!("a{i}")));
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
            let value = Expr::col((Alias::new(JOINED), Alias::new(format!("a{i}"))));
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
