//! QuerySets: lazy, chainable queries that compile to one SQL statement.
//!
//! ```text
//! let latest = Question::objects()
//!     .filter(Question::PUB_DATE.lte(now) & Question::VOTES.gt(0))
//!     .order_by(Question::PUB_DATE.desc())
//!     .limit(5)
//!     .all(&db)
//!     .await?;
//! ```
//!
//! Conditions are typed by model: a `Choice` column cannot filter a
//! `Question` query, and a value of the wrong type does not compile.

use std::marker::PhantomData;

use sea_query::{Alias, Expr, ExprTrait, Func, IntoCondition, Order, Query, SelectStatement};

use crate::error::{DbError, ErrorKind};
use crate::executor::{self, Executor};
use crate::model::{Auto, Col, DeleteResult, FieldValue, Model};
use crate::sql::{build, to_sea};
use crate::value::Value;

/// A condition on rows of model `M`: combine with `&`, `|` and `!`.
///
/// Conditions are built without knowing the database and compiled to SQL for
/// the backend the query runs on (text lookups differ between backends).
pub struct Condition<M> {
    node: Node,
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

impl<M> Condition<M> {
    fn new(expr: Expr) -> Self {
        Self::from_node(Node::Expr(expr))
    }

    fn from_node(node: Node) -> Self {
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

/// An `ORDER BY` term: `Question::PUB_DATE.desc()`.
#[derive(Clone, Copy, Debug)]
pub struct OrderBy<M> {
    column: &'static str,
    descending: bool,
    _model: PhantomData<fn() -> M>,
}

impl<M: Model, T> Col<M, T> {
    fn expr(&self) -> Expr {
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

    /// Ascending order on this column.
    pub fn asc(&self) -> OrderBy<M> {
        OrderBy {
            column: self.field().column,
            descending: false,
            _model: PhantomData,
        }
    }

    /// Descending order on this column.
    pub fn desc(&self) -> OrderBy<M> {
        OrderBy {
            column: self.field().column,
            descending: true,
            _model: PhantomData,
        }
    }
}

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

impl<M: Model, T: Numeric> Operand<M, T> for Col<M, T> {
    fn into_expr(self) -> Expr {
        self.expr()
    }
}

/// `column = expression`, for [`QuerySet::update`].
pub struct Assignment<M> {
    column: &'static str,
    expr: Expr,
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

/// A relation column: `ForeignKey<T>` or `Option<ForeignKey<T>>`.
pub trait RelationTo<T: Model> {}
impl<T: Model> RelationTo<T> for crate::model::ForeignKey<T> {}
impl<T: Model> RelationTo<T> for Option<crate::model::ForeignKey<T>> {}

/// Loads a related model from a joined row (type-erased for storage).
type LoadRelated = fn(&crate::row::Row, usize) -> Result<Box<dyn std::any::Any + Send>, DbError>;

fn load_related<T: Model>(
    row: &crate::row::Row,
    offset: usize,
) -> Result<Box<dyn std::any::Any + Send>, DbError> {
    Ok(Box::new(T::from_row_at(row, offset)?))
}

/// A `select_related` join.
#[derive(Clone, Copy)]
struct Related {
    field_index: usize,
    column: &'static str,
    target: &'static crate::model::ModelMeta,
    load: LoadRelated,
}

/// A lazy query over model `M`. Nothing runs until a method that takes the
/// database (`all`, `first`, `get`, `count`, `exists`, `delete`).
pub struct QuerySet<M> {
    /// Where the query was built, reported by the query log.
    location: &'static std::panic::Location<'static>,
    filter: Option<Node>,
    related: Vec<Related>,
    ordering: Option<Vec<(&'static str, bool)>>,
    limit: Option<u64>,
    offset: Option<u64>,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for QuerySet<M> {
    fn clone(&self) -> Self {
        QuerySet {
            location: self.location,
            filter: self.filter.clone(),
            related: self.related.clone(),
            ordering: self.ordering.clone(),
            limit: self.limit,
            offset: self.offset,
            _model: PhantomData,
        }
    }
}

impl<M: Model> Default for QuerySet<M> {
    #[track_caller]
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> QuerySet<M> {
    /// All rows.
    #[track_caller]
    pub fn new() -> Self {
        QuerySet {
            location: std::panic::Location::caller(),
            filter: None,
            related: Vec::new(),
            ordering: None,
            limit: None,
            offset: None,
            _model: PhantomData,
        }
    }

    /// Keeps rows matching `condition` (and any earlier filter).
    pub fn filter(mut self, condition: Condition<M>) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(existing) => Node::All(vec![existing, condition.node]),
            None => condition.node,
        });
        self
    }

    /// Drops rows matching `condition`.
    pub fn exclude(self, condition: Condition<M>) -> Self {
        self.filter(!condition)
    }

    /// Replaces the ordering (the model's default ordering applies otherwise).
    pub fn order_by(mut self, terms: impl IntoIterator<Item = OrderBy<M>>) -> Self {
        self.ordering = Some(
            terms
                .into_iter()
                .map(|t| (t.column, t.descending))
                .collect(),
        );
        self
    }

    /// Loads the row a foreign key points at in the same query (a JOIN), so
    /// `obj.question.get()` is `Some` without another query.
    pub fn select_related<T: Model, F: RelationTo<T>>(mut self, column: Col<M, F>) -> Self {
        let field = column.field();
        self.related.push(Related {
            field_index: column.index(),
            column: field.column,
            target: T::META,
            load: load_related::<T>,
        });
        self
    }

    /// Builds an instance from a row of [`select`](Self::select), with the
    /// `select_related` instances attached.
    fn decode(&self, row: &crate::row::Row) -> Result<M, DbError> {
        let mut obj = M::from_row_at(row, 0)?;
        let mut offset = M::META.fields.len();
        for related in &self.related {
            if !row.is_null(offset + related.target.primary_key)? {
                obj.set_related(related.field_index, (related.load)(row, offset)?);
            }
            offset += related.target.fields.len();
        }
        Ok(obj)
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }

    fn select(&self, backend: crate::Backend) -> SelectStatement {
        let meta = M::META;
        let mut statement = Query::select();
        statement
            .columns(meta.columns().map(|c| (meta.table, c)))
            .from(meta.table);
        for (i, related) in self.related.iter().enumerate() {
            let alias = Alias::new(format!("related_{i}"));
            statement.join_as(
                sea_query::JoinType::LeftJoin,
                related.target.table,
                alias.clone(),
                Expr::col((alias.clone(), related.target.pk().column))
                    .equals((meta.table, related.column)),
            );
            statement.columns(related.target.columns().map(|c| (alias.clone(), c)));
        }
        if let Some(filter) = &self.filter {
            statement.cond_where(filter.compile(backend));
        }
        let ordering: Vec<(&str, bool)> = match &self.ordering {
            Some(ordering) => ordering.clone(),
            None => meta
                .ordering
                .iter()
                .filter_map(|(name, desc)| meta.field(name).map(|f| (f.column, *desc)))
                .collect(),
        };
        for (column, descending) in ordering {
            let order = if descending { Order::Desc } else { Order::Asc };
            statement.order_by((meta.table, column), order);
        }
        if let Some(limit) = self.limit {
            statement.limit(limit);
        }
        if let Some(offset) = self.offset {
            if self.limit.is_none() {
                // Some backends need a LIMIT to take an OFFSET.
                statement.limit(i64::MAX as u64);
            }
            statement.offset(offset);
        }
        statement
    }

    /// The SQL this query runs on `backend`, with `?`/`$n` placeholders.
    pub fn sql(&self, backend: crate::Backend) -> String {
        build(&self.select(backend), backend).0
    }

    /// Every matching row.
    pub async fn all<E: Executor + ?Sized>(&self, db: &E) -> Result<Vec<M>, DbError> {
        let location = self.location;
        crate::query_log::at(location, async move {
            let (sql, params) = build(&self.select(db.backend()), db.backend());
            executor::fetch_all(db.target(), &sql, params)
                .await?
                .iter()
                .map(|row| self.decode(row))
                .collect()
        })
        .await
    }

    /// The first matching row, if any.
    pub async fn first<E: Executor + ?Sized>(&self, db: &E) -> Result<Option<M>, DbError> {
        let location = self.location;
        crate::query_log::at(location, async move {
            let mut query = self.clone();
            query.limit = Some(1);
            if query.ordering.is_none() && M::META.ordering.is_empty() {
                // Like Django: without an ordering, first() orders by the key.
                query.ordering = Some(vec![(M::META.pk().column, false)]);
            }
            let (sql, params) = build(&query.select(db.backend()), db.backend());
            executor::fetch_optional(db.target(), &sql, params)
                .await?
                .map(|row| query.decode(&row))
                .transpose()
        })
        .await
    }

    /// The one row matching `condition`: `DoesNotExist` if none,
    /// `MultipleObjectsReturned` if more.
    pub async fn get<E: Executor + ?Sized>(
        &self,
        db: &E,
        condition: Condition<M>,
    ) -> Result<M, DbError> {
        let query = self.clone().filter(condition).limit(2);
        let mut rows = query.all(db).await?;
        match rows.len() {
            1 => Ok(rows.remove(0)),
            0 => Err(DbError::new(
                ErrorKind::DoesNotExist,
                format!("{} matching query does not exist", M::META.name),
            )),
            _ => Err(DbError::new(
                ErrorKind::MultipleObjectsReturned,
                format!("get() returned more than one {}", M::META.name),
            )),
        }
    }

    /// How many rows match.
    pub async fn count<E: Executor + ?Sized>(&self, db: &E) -> Result<i64, DbError> {
        let location = self.location;
        crate::query_log::at(location, async move {
            let meta = M::META;
            let mut statement = Query::select();
            if self.limit.is_some() || self.offset.is_some() {
                let mut inner = self.select(db.backend());
                inner.clear_order_by();
                statement
                    .expr(Func::count(Expr::col(sea_query::Asterisk)))
                    .from_subquery(inner, Alias::new("sliced"));
            } else {
                statement
                    .expr(Func::count(Expr::col(sea_query::Asterisk)))
                    .from(meta.table);
                if let Some(filter) = &self.filter {
                    statement.cond_where(filter.compile(db.backend()));
                }
            }
            let (sql, params) = build(&statement, db.backend());
            let row = executor::fetch_optional(db.target(), &sql, params)
                .await?
                .ok_or_else(|| DbError::new(ErrorKind::Other, "COUNT returned no row"))?;
            row.get::<i64, usize>(0)
        })
        .await
    }

    /// Whether any row matches.
    pub async fn exists<E: Executor + ?Sized>(&self, db: &E) -> Result<bool, DbError> {
        let location = self.location;
        crate::query_log::at(location, async move {
            let mut query = self.clone();
            query.limit = Some(1);
            let mut statement = query.select(db.backend());
            statement.clear_selects();
            statement.expr(Expr::val(1));
            statement.clear_order_by();
            let (sql, params) = build(&statement, db.backend());
            Ok(executor::fetch_optional(db.target(), &sql, params)
                .await?
                .is_some())
        })
        .await
    }

    /// Updates every matching row in one statement; returns how many
    /// matched. Expressions such as `Choice::VOTES + 1` are evaluated by the
    /// database, so concurrent updates lose nothing.
    pub async fn update<E: Executor + ?Sized>(
        &self,
        db: &E,
        assignments: impl IntoIterator<Item = Assignment<M>>,
    ) -> Result<u64, DbError> {
        let location = self.location;
        crate::query_log::at(location, async move {
            if self.limit.is_some() || self.offset.is_some() {
                return Err(DbError::new(
                    ErrorKind::Other,
                    "cannot update a sliced query (limit/offset); filter instead",
                ));
            }
            let values: Vec<(&'static str, Expr)> = assignments
                .into_iter()
                .map(|a| (a.column, a.expr))
                .collect();
            if values.is_empty() {
                return Ok(0);
            }
            let mut statement = Query::update();
            statement.table(M::META.table).values(values);
            if let Some(filter) = &self.filter {
                statement.cond_where(filter.compile(db.backend()));
            }
            let (sql, params) = build(&statement, db.backend());
            executor::execute(db.target(), &sql, params).await
        })
        .await
    }

    /// Deletes every matching row, applying `on_delete` to rows pointing at
    /// them, in one transaction. Returns what was deleted, per model.
    pub async fn delete<E: Executor + ?Sized>(&self, db: &E) -> Result<DeleteResult, DbError> {
        let location = self.location;
        crate::query_log::at(location, async move {
            if self.limit.is_some() || self.offset.is_some() {
                return Err(DbError::new(
                    ErrorKind::Other,
                    "cannot delete a sliced query (limit/offset); filter instead",
                ));
            }
            let filter = self.filter.as_ref().map(|f| f.compile(db.backend()));
            crate::model::deletion::delete_matching(db, M::META, filter).await
        })
        .await
    }

    /// Saves a new instance and returns it (with its generated key).
    pub async fn create<E: Executor + ?Sized>(&self, db: &E, mut obj: M) -> Result<M, DbError> {
        obj.save(db).await?;
        Ok(obj)
    }

    /// The row matching `condition`, or a new one from `make` (saved), and
    /// whether it was created. If another request creates the same row at
    /// the same moment (a unique violation), that row is returned instead.
    pub async fn get_or_create<E, F>(
        &self,
        db: &E,
        condition: Condition<M>,
        make: F,
    ) -> Result<(M, bool), DbError>
    where
        E: Executor + ?Sized,
        F: FnOnce() -> M + Send,
    {
        match self.get(db, condition.clone()).await {
            Ok(found) => return Ok((found, false)),
            Err(err) if err.kind() == ErrorKind::DoesNotExist => {}
            Err(err) => return Err(err),
        }
        let mut obj = make();
        let saved = crate::executor::atomic(db, async |tx| obj.save(tx).await).await;
        match saved {
            Ok(()) => Ok((obj, true)),
            Err(err) if err.kind() == ErrorKind::UniqueViolation => {
                Ok((self.get(db, condition).await?, false))
            }
            Err(err) => Err(err),
        }
    }

    /// Updates the row matching `condition` with `change`, or creates one
    /// from `make`; returns it and whether it was created.
    pub async fn update_or_create<E, C, F>(
        &self,
        db: &E,
        condition: Condition<M>,
        change: C,
        make: F,
    ) -> Result<(M, bool), DbError>
    where
        E: Executor + ?Sized,
        C: FnOnce(&mut M) + Send,
        F: FnOnce() -> M + Send,
    {
        crate::executor::atomic(db, async |tx| match self.get(tx, condition).await {
            Ok(mut found) => {
                change(&mut found);
                found.save(tx).await?;
                Ok((found, false))
            }
            Err(err) if err.kind() == ErrorKind::DoesNotExist => {
                let mut obj = make();
                obj.save(tx).await?;
                Ok((obj, true))
            }
            Err(err) => Err(err),
        })
        .await
    }

    /// Inserts many instances with as few statements as possible, in one
    /// transaction, after validating them all. Generated keys are filled in
    /// where the database reports them (PostgreSQL and SQLite; on MySQL only
    /// for a single row, as in Django).
    pub async fn bulk_create<E: Executor + ?Sized>(
        &self,
        db: &E,
        mut objs: Vec<M>,
    ) -> Result<Vec<M>, DbError> {
        for obj in &objs {
            obj.validate()?;
        }
        let rows: Vec<Vec<crate::value::Value>> = objs.iter().map(Model::to_values).collect();
        crate::executor::atomic(db, async |tx| {
            crate::model::persist::insert_rows(tx, &mut objs, rows).await
        })
        .await?;
        Ok(objs)
    }

    /// Computes aggregates over the matching rows: a tuple in, a tuple of
    /// typed results out (see [`crate::aggregate`]).
    pub async fn aggregate<E, A>(&self, db: &E, aggregates: A) -> Result<A::Output, DbError>
    where
        E: Executor + ?Sized,
        A: crate::aggregate::Aggregates<M>,
    {
        let backend = db.backend();
        let mut statement = Query::select();
        statement.from(M::META.table);
        for expr in aggregates.exprs(backend) {
            statement.expr(expr);
        }
        if let Some(filter) = &self.filter {
            statement.cond_where(filter.compile(backend));
        }
        let (sql, params) = build(&statement, backend);
        let location = self.location;
        let row = crate::query_log::at(
            location,
            executor::fetch_optional(db.target(), &sql, params),
        )
        .await?
        .ok_or_else(|| DbError::new(ErrorKind::Other, "an aggregate query returned no row"))?;
        A::read(&row, 0)
    }

    /// Groups the matching rows by a column, for per-group aggregates
    /// (Django's `values(...).annotate(...)`).
    pub fn group_by<T: FieldValue>(self, column: Col<M, T>) -> Grouped<M, T> {
        Grouped {
            query: self,
            column: column.field().column,
            _type: PhantomData,
        }
    }

    /// The row with primary key `key`.
    pub async fn get_by_key<E: Executor + ?Sized>(
        &self,
        db: &E,
        key: M::Key,
    ) -> Result<M, DbError> {
        let meta = M::META;
        let condition =
            Condition::new(Expr::col((meta.table, meta.pk().column)).eq(to_sea(key.to_value())));
        self.get(db, condition).await
    }
}

/// A query grouped by one column; see [`QuerySet::group_by`].
pub struct Grouped<M, T> {
    query: QuerySet<M>,
    column: &'static str,
    _type: PhantomData<fn() -> T>,
}

impl<M: Model, T: FieldValue> Grouped<M, T> {
    /// One entry per distinct value of the column (in ascending order), with
    /// the aggregates over that group's rows.
    pub async fn aggregate<E, A>(
        &self,
        db: &E,
        aggregates: A,
    ) -> Result<Vec<(T, A::Output)>, DbError>
    where
        E: Executor + ?Sized,
        A: crate::aggregate::Aggregates<M>,
    {
        let backend = db.backend();
        let table = M::META.table;
        let mut statement = Query::select();
        statement.column((table, self.column)).from(table);
        for expr in aggregates.exprs(backend) {
            statement.expr(expr);
        }
        if let Some(filter) = &self.query.filter {
            statement.cond_where(filter.compile(backend));
        }
        statement
            .group_by_col((table, self.column))
            .order_by((table, self.column), Order::Asc);
        let (sql, params) = build(&statement, backend);
        let rows = crate::query_log::at(
            self.query.location,
            executor::fetch_all(db.target(), &sql, params),
        )
        .await?;
        rows.iter()
            .map(|row| Ok((T::from_row(row, 0)?, A::read(row, 1)?)))
            .collect()
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
