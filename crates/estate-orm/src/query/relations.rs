//! Lookups across relations and subqueries, compiled to
//! `column IN (SELECT ...)`.
//!
//! A subquery rather than a JOIN keeps one row per object (a question with
//! three matching choices is still one question), works inside `update` and
//! `delete` (on MySQL, which refuses to change a table a subquery reads, the
//! keys are selected first), and refers to its own table even when a model
//! points at itself.

use sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};

use super::condition::{Condition, Node};
use super::queryset::QuerySet;
use crate::model::{Col, FieldValue, ForeignKey, Model};

/// A relation column: `ForeignKey<T>`, `OneToOne<T>` or an `Option` of one.
/// `Target` is the model pointed at.
pub trait RelationField {
    /// The model pointed at.
    type Target: Model;
}

impl<T: Model> RelationField for ForeignKey<T> {
    type Target = T;
}

impl<T: Model> RelationField for Option<ForeignKey<T>> {
    type Target = T;
}

/// `SELECT column FROM table WHERE filter [ORDER BY .. LIMIT ..]`, kept
/// backend-neutral until the outer query is compiled.
#[derive(Clone, Debug)]
pub(crate) struct SubSelect {
    pub(crate) table: &'static str,
    pub(crate) column: &'static str,
    pub(crate) filter: Option<Node>,
    /// Only set together with a limit or offset (ordering alone does not
    /// change which rows a subquery yields).
    pub(crate) ordering: Vec<super::ordering::OrderTerm>,
    pub(crate) limit: Option<u64>,
    pub(crate) offset: Option<u64>,
    /// Leaves NULLs out, so `NOT IN` stays true or false (a NULL in the
    /// list would make it unknown and drop every row).
    pub(crate) skip_nulls: bool,
}

impl SubSelect {
    pub(crate) fn compile(&self, backend: crate::Backend) -> SelectStatement {
        let mut select = Query::select();
        select.column((self.table, self.column)).from(self.table);
        if let Some(filter) = &self.filter {
            select.cond_where(filter.compile(backend));
        }
        let sliced = self.limit.is_some() || self.offset.is_some();
        if self.skip_nulls && !sliced {
            select.and_where(Expr::col((self.table, self.column)).is_not_null());
        }
        if !sliced {
            return select;
        }
        super::ordering::apply(&mut select, self.table, &self.ordering, backend);
        select.limit(self.limit.unwrap_or(i64::MAX as u64));
        if let Some(offset) = self.offset {
            select.offset(offset);
        }
        // MySQL refuses LIMIT directly inside IN (...); a derived table is
        // accepted everywhere.
        let alias = Alias::new("limited");
        let mut outer = Query::select();
        outer
            .column((alias.clone(), self.column))
            .from_subquery(select, alias.clone());
        if self.skip_nulls {
            // After the slice: NULLs count towards which rows it takes.
            outer.and_where(Expr::col((alias, self.column)).is_not_null());
        }
        outer
    }
}

impl<M: Model, F: RelationField> Col<M, F> {
    /// Rows whose related row matches `condition` (Django's
    /// `question__pub_date__gte=...`):
    /// `Choice::QUESTION.matching(Question::PUB_DATE.gte(now))`.
    /// Chains: `Vote::CHOICE.matching(Choice::QUESTION.matching(..))`.
    /// A NULL foreign key never matches, and `!` of it always does.
    pub fn matching(&self, condition: Condition<F::Target>) -> Condition<M> {
        let target = F::Target::META;
        let column = self.field().column;
        let inside = Node::InSubquery {
            table: M::META.table,
            column,
            select: Box::new(SubSelect {
                table: target.table,
                column: target.pk().column,
                filter: Some(condition.node),
                ordering: Vec::new(),
                limit: None,
                offset: None,
                skip_nulls: false,
            }),
        };
        let not_null = Node::Expr(Expr::col((M::META.table, column)).is_not_null());
        Condition::from_node(Node::All(vec![not_null, inside]))
    }

    /// The rows pointed at by at least one `M` matching `condition` (the
    /// reverse direction): questions with a popular choice are
    /// `Question::objects().filter(Choice::QUESTION.any(Choice::VOTES.gt(10)))`.
    pub fn any(&self, condition: Condition<M>) -> Condition<F::Target> {
        let target = F::Target::META;
        Condition::from_node(Node::InSubquery {
            table: target.table,
            column: target.pk().column,
            select: Box::new(SubSelect {
                table: M::META.table,
                column: self.field().column,
                filter: Some(condition.node),
                ordering: Vec::new(),
                limit: None,
                offset: None,
                skip_nulls: true,
            }),
        })
    }
}

impl<M: Model, T: FieldValue> Col<M, T> {
    /// `column IN (SELECT other FROM ... WHERE ...)`: the values of
    /// `other` in the rows of `query` (Django's `id__in=qs.values("x")`).
    /// Both columns must hold the same kind of value; NULLs in `other` are
    /// left out, and a row whose column is NULL never matches (so `!` of
    /// this keeps it).
    pub fn in_query<N: Model, U: FieldValue<Plain = T::Plain>>(
        &self,
        other: Col<N, U>,
        query: &QuerySet<N>,
    ) -> Condition<M> {
        let field = self.field();
        let inside = Node::InSubquery {
            table: M::META.table,
            column: field.column,
            select: Box::new(query.sub_select(other.field().column)),
        };
        if !field.null {
            return Condition::from_node(inside);
        }
        // A NULL column is never in the list, and `!` of this keeps it (as
        // Django's `exclude(x__in=...)` does), instead of SQL's unknown.
        let not_null = Node::Expr(Expr::col((M::META.table, field.column)).is_not_null());
        Condition::from_node(Node::All(vec![not_null, inside]))
    }
}

/// Reverse accessors: the rows of another model pointing at this one.
#[track_caller]
pub(crate) fn pointing_at<C: Model, F: RelationField, T: Model>(
    column: Col<C, F>,
    target: &T,
) -> QuerySet<C> {
    QuerySet::new().filter(Condition::new(
        Expr::col((C::META.table, column.field().column)).eq(crate::sql::to_sea(target.pk_value())),
    ))
}
