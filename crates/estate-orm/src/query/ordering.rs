//! `ORDER BY` terms: `Question::PUB_DATE.desc().nulls_last()`,
//! `OrderBy::random()`, and the model's default ordering.

use std::marker::PhantomData;

use sea_query::{Expr, Func, NullOrdering, Order, SelectStatement};

use crate::model::{Col, Model, ModelMeta};

/// Where NULLs go in an ordering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nulls {
    /// Before every value.
    First,
    /// After every value.
    Last,
}

/// One backend-neutral ordering term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OrderTerm {
    Column {
        column: &'static str,
        descending: bool,
        nulls: Option<Nulls>,
    },
    /// A column of a joined table or subquery (an annotation); `missing`
    /// is the value a NULL stands for (a count of nothing is 0).
    Joined {
        table: &'static str,
        column: &'static str,
        descending: bool,
        nulls: Option<Nulls>,
        missing: Option<i64>,
    },
    Random,
}

fn flip(nulls: Option<Nulls>) -> Option<Nulls> {
    nulls.map(|n| match n {
        Nulls::First => Nulls::Last,
        Nulls::Last => Nulls::First,
    })
}

impl OrderTerm {
    /// The same term the other way round (for `last()`).
    pub(crate) fn reversed(self) -> Self {
        match self {
            OrderTerm::Column {
                column,
                descending,
                nulls,
            } => OrderTerm::Column {
                column,
                descending: !descending,
                nulls: flip(nulls),
            },
            OrderTerm::Joined {
                table,
                column,
                descending,
                nulls,
                missing,
            } => OrderTerm::Joined {
                table,
                column,
                descending: !descending,
                nulls: flip(nulls),
                missing,
            },
            OrderTerm::Random => OrderTerm::Random,
        }
    }
}

/// An `ORDER BY` term for a query on `M`: `Question::PUB_DATE.desc()`.
#[derive(Clone, Copy, Debug)]
pub struct OrderBy<M> {
    pub(crate) term: OrderTerm,
    _model: PhantomData<fn() -> M>,
}

impl<M> OrderBy<M> {
    pub(crate) fn new(term: OrderTerm) -> Self {
        OrderBy {
            term,
            _model: PhantomData,
        }
    }

    /// Random order (a fresh shuffle each time the query runs; slow on big
    /// tables, as everywhere).
    pub fn random() -> Self {
        Self::new(OrderTerm::Random)
    }

    /// NULLs before every value, on every backend.
    pub fn nulls_first(self) -> Self {
        self.with_nulls(Nulls::First)
    }

    /// NULLs after every value, on every backend.
    pub fn nulls_last(self) -> Self {
        self.with_nulls(Nulls::Last)
    }

    fn with_nulls(self, where_: Nulls) -> Self {
        match self.term {
            OrderTerm::Column {
                column, descending, ..
            } => Self::new(OrderTerm::Column {
                column,
                descending,
                nulls: Some(where_),
            }),
            OrderTerm::Joined {
                table,
                column,
                descending,
                missing,
                ..
            } => Self::new(OrderTerm::Joined {
                table,
                column,
                descending,
                nulls: Some(where_),
                missing,
            }),
            OrderTerm::Random => self,
        }
    }
}

impl<M: Model, T> Col<M, T> {
    /// Ascending order on this column.
    pub fn asc(&self) -> OrderBy<M> {
        OrderBy::new(OrderTerm::Column {
            column: self.field().column,
            descending: false,
            nulls: None,
        })
    }

    /// Descending order on this column.
    pub fn desc(&self) -> OrderBy<M> {
        OrderBy::new(OrderTerm::Column {
            column: self.field().column,
            descending: true,
            nulls: None,
        })
    }
}

/// The model's declared ordering.
pub(crate) fn model_default(meta: &ModelMeta) -> Vec<OrderTerm> {
    meta.ordering
        .iter()
        .filter_map(|(name, descending)| {
            meta.field(name).map(|f| OrderTerm::Column {
                column: f.column,
                descending: *descending,
                nulls: None,
            })
        })
        .collect()
}

/// Adds the terms to a statement on `table`.
pub(crate) fn apply(
    statement: &mut SelectStatement,
    table: &'static str,
    terms: &[OrderTerm],
    backend: crate::Backend,
) {
    for term in terms {
        let (table, column, descending, nulls) = match *term {
            OrderTerm::Column {
                column,
                descending,
                nulls,
            } => (table, column, descending, nulls),
            OrderTerm::Joined {
                table,
                column,
                descending,
                missing: Some(missing),
                ..
            } => {
                let order = if descending { Order::Desc } else { Order::Asc };
                let value = Func::coalesce([Expr::col((table, column)), Expr::val(missing)]);
                statement.order_by_expr(value.into(), order);
                continue;
            }
            OrderTerm::Joined {
                table,
                column,
                descending,
                nulls,
                missing: None,
            } => (table, column, descending, nulls),
            OrderTerm::Random => {
                let random = match backend {
                    crate::Backend::MySql => Func::cust("RAND"),
                    _ => Func::cust("RANDOM"),
                };
                statement.order_by_expr(Expr::from(random), Order::Asc);
                continue;
            }
        };
        let order = if descending { Order::Desc } else { Order::Asc };
        match nulls {
            // MySQL has no NULLS FIRST/LAST; sea-query emulates it.
            Some(Nulls::First) => {
                statement.order_by_with_nulls((table, column), order, NullOrdering::First)
            }
            Some(Nulls::Last) => {
                statement.order_by_with_nulls((table, column), order, NullOrdering::Last)
            }
            None => statement.order_by((table, column), order),
        };
    }
}
