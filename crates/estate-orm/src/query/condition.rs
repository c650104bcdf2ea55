//! Conditions: a backend-neutral tree of filters, compiled per backend.

use std::marker::PhantomData;

use sea_query::{Expr, ExprTrait, IntoCondition};

/// A condition on rows of model `M`: combine with `&`, `|` and `!`.
///
/// Conditions are built without knowing the database and compiled to SQL for
/// the backend the query runs on (text lookups differ between backends).
pub struct Condition<M> {
    pub(crate) node: Node,
    _model: PhantomData<fn() -> M>,
}

/// A backend-neutral condition tree.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    /// Portable SQL.
    Expr(Expr),
    /// A text lookup, compiled per backend.
    Text {
        table: &'static str,
        column: &'static str,
        op: TextOp,
        value: String,
        case_insensitive: bool,
    },
    /// A date part compared with a number, compiled per backend.
    DatePart {
        table: &'static str,
        column: &'static str,
        part: DatePart,
        moment: bool,
        op: CompareOp,
        value: i32,
    },
    /// `table.column IN (subquery)`.
    InSubquery {
        table: &'static str,
        column: &'static str,
        select: Box<super::relations::SubSelect>,
    },
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
}

/// A part of a date or a moment (in UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatePart {
    /// The year.
    Year,
    /// The month, 1–12.
    Month,
    /// The day of the month, 1–31.
    Day,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl CompareOp {
    fn apply(self, left: Expr, right: Expr) -> Expr {
        match self {
            CompareOp::Eq => left.eq(right),
            CompareOp::Lt => left.lt(right),
            CompareOp::Lte => left.lte(right),
            CompareOp::Gt => left.gt(right),
            CompareOp::Gte => left.gte(right),
        }
    }
}

/// Which text lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TextOp {
    Exact,
    Contains,
    StartsWith,
    EndsWith,
}

impl Node {
    /// Whether a subquery in this condition reads `table`.
    pub(crate) fn reads_table(&self, table: &str) -> bool {
        match self {
            Node::InSubquery { select, .. } => {
                select.table == table
                    || select
                        .filter
                        .as_ref()
                        .is_some_and(|filter| filter.reads_table(table))
            }
            Node::All(nodes) | Node::Any(nodes) => nodes.iter().any(|n| n.reads_table(table)),
            Node::Not(node) => node.reads_table(table),
            Node::Expr(_) | Node::Text { .. } | Node::DatePart { .. } => false,
        }
    }

    pub(crate) fn compile(&self, backend: crate::Backend) -> sea_query::Condition {
        match self {
            Node::Expr(expr) => expr.clone().into_condition(),
            Node::Text {
                table,
                column,
                op,
                value,
                case_insensitive,
            } => {
                let column = Expr::col((*table, *column));
                if *case_insensitive {
                    text_match_insensitive(backend, column, *op, value).into_condition()
                } else {
                    crate::backends::text_match(backend, column, *op, value).into_condition()
                }
            }
            Node::DatePart {
                table,
                column,
                part,
                moment,
                op,
                value,
            } => {
                let extracted = crate::backends::date_part(
                    backend,
                    Expr::col((*table, *column)),
                    *part,
                    *moment,
                );
                op.apply(extracted, Expr::val(*value)).into_condition()
            }
            Node::InSubquery {
                table,
                column,
                select,
            } => Expr::col((*table, *column))
                .in_subquery(select.compile(backend))
                .into_condition(),
            Node::All(nodes) => nodes.iter().fold(sea_query::Condition::all(), |c, n| {
                c.add(n.compile(backend))
            }),
            Node::Any(nodes) => nodes.iter().fold(sea_query::Condition::any(), |c, n| {
                c.add(n.compile(backend))
            }),
            Node::Not(node) => node.compile(backend).not(),
        }
    }
}

/// `LIKE` special characters escaped with `!` (the same on every backend,
/// unlike a backslash, which MySQL treats specially in literals).
pub(crate) fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '!' | '%' | '_') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

/// The `LIKE` pattern for a lookup, with the value escaped.
pub(crate) fn like_pattern(op: TextOp, value: &str) -> String {
    let escaped = like_escape(value);
    match op {
        TextOp::Exact => escaped,
        TextOp::Contains => format!("%{escaped}%"),
        TextOp::StartsWith => format!("{escaped}%"),
        TextOp::EndsWith => format!("%{escaped}"),
    }
}

/// Case-insensitive lookups, portable: both sides lowered by the database.
/// (Custom SQL takes the backend's own placeholder: `?`, or `$n` on PostgreSQL.)
fn text_match_insensitive(backend: crate::Backend, column: Expr, op: TextOp, value: &str) -> Expr {
    let numbered = backend.features().numbered_parameters;
    let (template, pattern) = match (op, numbered) {
        (TextOp::Exact, true) => ("LOWER($1) = LOWER($2)", value.to_owned()),
        (TextOp::Exact, false) => ("LOWER(?) = LOWER(?)", value.to_owned()),
        (_, true) => (
            "LOWER($1) LIKE LOWER($2) ESCAPE '!'",
            like_pattern(op, value),
        ),
        (_, false) => ("LOWER(?) LIKE LOWER(?) ESCAPE '!'", like_pattern(op, value)),
    };
    Expr::cust_with_exprs(template, [column, Expr::val(pattern)])
}

impl<M> Clone for Condition<M> {
    fn clone(&self) -> Self {
        Condition {
            node: self.node.clone(),
            _model: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for Condition<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Condition").field(&self.node).finish()
    }
}

impl<M> Condition<M> {
    pub(crate) fn new(expr: Expr) -> Self {
        Self::from_node(Node::Expr(expr))
    }

    pub(crate) fn from_node(node: Node) -> Self {
        Condition {
            node,
            _model: PhantomData,
        }
    }

    pub(crate) fn into_node(self) -> Node {
        self.node
    }
}

impl<M> std::ops::BitAnd for Condition<M> {
    type Output = Condition<M>;
    fn bitand(self, other: Self) -> Self {
        Condition::from_node(Node::All(vec![self.node, other.node]))
    }
}

impl<M> std::ops::BitOr for Condition<M> {
    type Output = Condition<M>;
    fn bitor(self, other: Self) -> Self {
        Condition::from_node(Node::Any(vec![self.node, other.node]))
    }
}

impl<M> std::ops::Not for Condition<M> {
    type Output = Condition<M>;
    fn not(self) -> Self {
        Condition::from_node(Node::Not(Box::new(self.node)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern(TextOp::Contains, "100%_!"), "%100!%!_!!%");
        assert_eq!(like_pattern(TextOp::StartsWith, "a"), "a%");
        assert_eq!(like_pattern(TextOp::EndsWith, "a"), "%a");
    }
}
