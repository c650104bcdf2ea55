//! [`QuerySet`]: a lazy query over one model, and [`Grouped`] for
//! per-group aggregates.

use std::marker::PhantomData;

use sea_query::{Alias, Expr, ExprTrait, Func, Order, Query, SelectStatement};

use super::condition::{Condition, Node};
use super::expr::Assignment;
use super::ordering::{self, OrderBy, OrderTerm};
use super::prefetch::{Prefetch, PrefetchStep};
use super::relations::{RelationField, SubSelect};
use crate::error::{DbError, ErrorKind};
use crate::executor::{self, Executor};
use crate::model::{Col, DeleteResult, FieldValue, Model};
use crate::sql::{build, to_sea};

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

/// Keys per `IN (...)` list when writing by key, well under every
/// backend's parameter limit.
const KEY_CHUNK: usize = 500;

/// How `select_for_update` treats rows another transaction has locked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForUpdate {
    /// Wait until they are free.
    Wait,
    /// Fail at once (`NOWAIT`).
    NoWait,
    /// Leave them out (`SKIP LOCKED`): for work queues.
    SkipLocked,
}

/// How many rows a query has, and whether that number is exact or an
/// estimate from the database's statistics
/// ([`QuerySet::count_estimate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowCount {
    /// The rows.
    pub rows: i64,
    /// Whether `rows` was counted (else estimated).
    pub exact: bool,
}

/// A lazy query over model `M`. Nothing runs until a method that takes the
/// database (`all`, `first`, `get`, `count`, `exists`, `delete`).
pub struct QuerySet<M> {
    /// Where the query was built, reported by the query log.
    pub(super) location: &'static std::panic::Location<'static>,
    pub(super) filter: Option<Node>,
    related: Vec<Related>,
    pub(super) prefetch: Vec<PrefetchStep<M>>,
    pub(super) ordering: Option<Vec<OrderTerm>>,
    pub(super) limit: Option<u64>,
    pub(super) offset: Option<u64>,
    pub(super) distinct: bool,
    lock: Option<ForUpdate>,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for QuerySet<M> {
    fn clone(&self) -> Self {
        QuerySet {
            location: self.location,
            filter: self.filter.clone(),
            related: self.related.clone(),
            prefetch: self.prefetch.clone(),
            ordering: self.ordering.clone(),
            limit: self.limit,
            offset: self.offset,
            distinct: self.distinct,
            lock: self.lock,
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
            prefetch: Vec::new(),
            ordering: None,
            limit: None,
            offset: None,
            distinct: false,
            lock: None,
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
        self.ordering = Some(terms.into_iter().map(|t| t.term).collect());
        self
    }

    /// Orders by the key when nothing else orders the rows, so that "first"
    /// means something (as in Django).
    pub(super) fn ordered_by_key_if_unordered(mut self) -> Self {
        if self.effective_ordering().is_empty() {
            self.ordering = Some(vec![OrderTerm::Column {
                column: M::META.pk().column,
                descending: false,
                nulls: None,
            }]);
        }
        self
    }

    /// Reverses the ordering (the explicit one, else the model's, else the
    /// primary key's), like Django's `reverse()`. On a sliced query the
    /// slice is then taken from the other end (Django refuses instead).
    pub fn reverse(self) -> Self {
        let mut query = self.ordered_by_key_if_unordered();
        let terms = query.effective_ordering();
        query.ordering = Some(terms.into_iter().map(OrderTerm::reversed).collect());
        query
    }

    /// Locks the selected rows until the transaction ends (`SELECT ... FOR
    /// UPDATE`), so no other transaction changes them meanwhile. Must run
    /// inside `atomic`; on SQLite, which locks the whole database for a
    /// write transaction, it adds nothing.
    pub fn select_for_update(mut self, wait: ForUpdate) -> Self {
        self.lock = Some(wait);
        self
    }

    /// The error for a locking query outside a transaction.
    pub(super) fn check_lock<E: Executor + ?Sized>(&self, db: &E) -> Result<(), DbError> {
        if self.lock.is_some() && !executor::in_transaction(db.target()) {
            return Err(DbError::new(
                ErrorKind::Other,
                format!(
                    "select_for_update() on {} outside a transaction: the lock would end with \
                     the statement; run it inside db.atomic(..)",
                    M::META.name
                ),
            ));
        }
        Ok(())
    }

    /// Leaves out duplicate rows (`SELECT DISTINCT`); mostly useful with
    /// [`values`](Self::values).
    pub fn distinct(mut self) -> Self {
        self.distinct = true;
        self
    }

    /// Loads the row a foreign key points at in the same query (a JOIN), so
    /// `obj.question.get()` is `Some` without another query.
    pub fn select_related<F: RelationField>(mut self, column: Col<M, F>) -> Self {
        let field = column.field();
        self.related.push(Related {
            field_index: column.index(),
            column: field.column,
            target: F::Target::META,
            load: load_related::<F::Target>,
        });
        self
    }

    /// Loads a relation of the result with one more query per relation
    /// (not a JOIN): a foreign key (`Book::AUTHOR`, attached like
    /// `select_related`) or a many-to-many field (`Article::TAGS`, filling
    /// `article.tags.get()`).
    pub fn prefetch_related(mut self, relation: impl Prefetch<M>) -> Self {
        self.prefetch.push(relation.into_step());
        self
    }

    /// Runs the `prefetch_related` steps on loaded objects.
    pub(super) async fn run_prefetch<E: Executor + ?Sized>(
        &self,
        db: &E,
        objs: &mut [M],
    ) -> Result<(), DbError> {
        if objs.is_empty() {
            return Ok(());
        }
        for step in &self.prefetch {
            step(db.target(), db.backend(), objs).await?;
        }
        Ok(())
    }

    /// Builds an instance from a row of [`select`](Self::select), with the
    /// `select_related` instances attached.
    pub(super) fn decode(&self, row: &crate::row::Row) -> Result<M, DbError> {
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

    /// The explicit ordering, else the model's default.
    pub(super) fn effective_ordering(&self) -> Vec<OrderTerm> {
        match &self.ordering {
            Some(ordering) => ordering.clone(),
            None => ordering::model_default(M::META),
        }
    }

    pub(super) fn select(&self, backend: crate::Backend) -> SelectStatement {
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
        if self.distinct {
            statement.distinct();
        }
        if let Some(wait) = self.lock {
            crate::backends::lock_rows(backend, &mut statement, meta.table, wait);
        }
        ordering::apply(
            &mut statement,
            meta.table,
            &self.effective_ordering(),
            backend,
        );
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

    /// This query as a subquery selecting `column`.
    pub(crate) fn sub_select(&self, column: &'static str) -> SubSelect {
        SubSelect {
            table: M::META.table,
            column,
            filter: self.filter.clone(),
            ordering: self.effective_ordering(),
            limit: self.limit,
            offset: self.offset,
            skip_nulls: true,
        }
    }

    /// The SQL this query runs on `backend`, with `?`/`$n` placeholders.
    pub fn sql(&self, backend: crate::Backend) -> String {
        build(&self.select(backend), backend).0
    }

    /// The database's plan for this query (`EXPLAIN`; `EXPLAIN QUERY PLAN`
    /// on SQLite, JSON on MySQL), one line per row of the answer.
    pub async fn explain<E: Executor + ?Sized>(&self, db: &E) -> Result<String, DbError> {
        let backend = db.backend();
        let (sql, params) = build(&self.select(backend), backend);
        let (prefix, column) = crate::backends::explain(backend);
        let rows = executor::fetch_all(db.target(), &format!("{prefix}{sql}"), params).await?;
        let lines = rows
            .iter()
            .map(|row| row.get::<String, usize>(column))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(lines.join("\n"))
    }

    /// Streams the matching rows to `each`, one at a time, without loading
    /// them all (Django's `iterator()`): for exports and batch jobs over
    /// large tables. Holds one connection meanwhile; returns how many rows
    /// there were. An error from `each` stops the query.
    ///
    /// # Errors
    /// With `prefetch_related`, which needs every row first.
    pub async fn for_each<E, F>(&self, db: &E, mut each: F) -> Result<u64, DbError>
    where
        E: Executor + ?Sized,
        F: FnMut(M) -> Result<(), DbError> + Send,
    {
        if !self.prefetch.is_empty() {
            return Err(DbError::new(
                ErrorKind::Other,
                "for_each() streams rows one by one, so it cannot prefetch_related; use all() \
                 or select_related",
            ));
        }
        self.check_lock(db)?;
        let (sql, params) = build(&self.select(db.backend()), db.backend());
        crate::query_log::at(
            self.location,
            executor::for_each_row(db.target(), &sql, params, &mut |row| {
                each(self.decode(&row)?)
            }),
        )
        .await
    }

    /// Every matching row.
    pub async fn all<E: Executor + ?Sized>(&self, db: &E) -> Result<Vec<M>, DbError> {
        let location = self.location;
        crate::query_log::at(location, async move {
            self.check_lock(db)?;
            let (sql, params) = build(&self.select(db.backend()), db.backend());
            let mut objs = executor::fetch_all(db.target(), &sql, params)
                .await?
                .iter()
                .map(|row| self.decode(row))
                .collect::<Result<Vec<M>, DbError>>()?;
            self.run_prefetch(db, &mut objs).await?;
            Ok(objs)
        })
        .await
    }

    /// The first matching row, if any.
    pub async fn first<E: Executor + ?Sized>(&self, db: &E) -> Result<Option<M>, DbError> {
        let location = self.location;
        crate::query_log::at(location, async move {
            self.check_lock(db)?;
            let query = self.clone().limit(1).ordered_by_key_if_unordered();
            let (sql, params) = build(&query.select(db.backend()), db.backend());
            let mut found = executor::fetch_optional(db.target(), &sql, params)
                .await?
                .map(|row| query.decode(&row))
                .transpose()?;
            if let Some(obj) = &mut found {
                self.run_prefetch(db, std::slice::from_mut(obj)).await?;
            }
            Ok(found)
        })
        .await
    }

    /// The last matching row in the query's ordering (by key without one).
    ///
    /// # Errors
    /// On a sliced query (limit/offset), where "last" would be ambiguous.
    pub async fn last<E: Executor + ?Sized>(&self, db: &E) -> Result<Option<M>, DbError> {
        if self.limit.is_some() || self.offset.is_some() {
            return Err(DbError::new(
                ErrorKind::Other,
                "cannot take last() of a sliced query (limit/offset); reverse() the ordering \
                 and take first() instead",
            ));
        }
        self.clone().reverse().first(db).await
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

    /// The number of rows, or for a whole big table an estimate from the
    /// database's statistics, which costs nothing where `COUNT(*)` reads
    /// the table (PostgreSQL's `pg_class.reltuples`, MySQL's
    /// `information_schema.TABLES.TABLE_ROWS`). Exact — one `COUNT(*)` —
    /// when the query filters or slices, on SQLite (no statistics), when
    /// the statistics are missing, and when the estimate is below
    /// `exact_below` (small tables count fast, and their estimates are the
    /// least reliable). The admin's change list uses it when its
    /// `ModelAdmin` asks (`estimated_count`).
    ///
    /// # Errors
    /// A database failure.
    pub async fn count_estimate<E: Executor + ?Sized>(
        &self,
        db: &E,
        exact_below: i64,
    ) -> Result<RowCount, DbError> {
        let whole_table = self.filter.is_none() && self.limit.is_none() && self.offset.is_none();
        if let (true, Some(sql)) = (whole_table, crate::backends::row_estimate_sql(db.backend())) {
            let table = match db.backend() {
                // to_regclass takes a (quoted) name, as SQL would.
                crate::Backend::Postgres => crate::backends::quote(db.backend(), M::META.table),
                _ => M::META.table.to_owned(),
            };
            let row = executor::fetch_optional(db.target(), sql, vec![crate::Value::String(table)])
                .await?;
            let estimate = match row {
                Some(row) if !row.is_null(0usize)? => Some(row.get::<i64, usize>(0)?),
                _ => None,
            };
            if let Some(rows) = estimate.filter(|rows| *rows >= Ord::max(exact_below, 0)) {
                return Ok(RowCount { rows, exact: false });
            }
        }
        Ok(RowCount {
            rows: self.count(db).await?,
            exact: true,
        })
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
            let meta = M::META;
            if !self.keys_first(db.backend()) {
                let mut statement = Query::update();
                statement.table(meta.table).values(values);
                if let Some(filter) = &self.filter {
                    statement.cond_where(filter.compile(db.backend()));
                }
                let (sql, params) = build(&statement, db.backend());
                return executor::execute(db.target(), &sql, params).await;
            }
            executor::atomic(db, async |tx| {
                let keys = self.matching_keys(tx, None).await?;
                let mut updated = 0;
                for chunk in keys.chunks(KEY_CHUNK) {
                    let mut statement = Query::update();
                    statement
                        .table(meta.table)
                        .values(values.clone())
                        .and_where(
                            Expr::col((meta.table, meta.pk().column))
                                .is_in(chunk.iter().cloned().map(to_sea)),
                        );
                    let (sql, params) = build(&statement, tx.backend());
                    updated += executor::execute(tx.target(), &sql, params).await?;
                }
                Ok(updated)
            })
            .await
        })
        .await
    }

    /// Whether a write filtered by this query must select the keys first:
    /// MySQL refuses to change a table that a subquery in the same
    /// statement reads (error 1093); MariaDB, PostgreSQL and SQLite do not.
    pub(super) fn keys_first(&self, backend: crate::Backend) -> bool {
        backend == crate::Backend::MySql
            && self
                .filter
                .as_ref()
                .is_some_and(|filter| filter.reads_table(M::META.table))
    }

    /// The keys of the rows matching the filter (and `extra`).
    pub(super) async fn matching_keys(
        &self,
        tx: &crate::Transaction,
        extra: Option<sea_query::Condition>,
    ) -> Result<Vec<crate::Value>, DbError> {
        let meta = M::META;
        let pk = meta.pk();
        let mut select = Query::select();
        select.column((meta.table, pk.column)).from(meta.table);
        if let Some(filter) = &self.filter {
            select.cond_where(filter.compile(tx.backend()));
        }
        if let Some(extra) = extra {
            select.cond_where(extra);
        }
        let (sql, params) = build(&select, tx.backend());
        executor::fetch_all(tx.target(), &sql, params)
            .await?
            .iter()
            .map(|row| row.get_value(0, pk.field_type.kind()))
            .collect()
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
        let rows = objs
            .iter()
            .map(crate::model::persist::validated_values)
            .collect::<Result<Vec<_>, DbError>>()?;
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
        let mut query = self.clone().filter(condition);
        // Keys are unique: one row at most, so no LIMIT 2 / MultipleObjects
        // check, no ordering, and the backend can stop at the first row.
        query.limit = Some(1);
        query.ordering = Some(Vec::new());
        crate::query_log::at(self.location, async move {
            query.check_lock(db)?;
            let backend = db.backend();
            let (sql, params) = build(&query.select(backend), backend);
            let mut found = executor::fetch_optional(db.target(), &sql, params)
                .await?
                .map(|row| query.decode(&row))
                .transpose()?;
            if let Some(obj) = &mut found {
                query.run_prefetch(db, std::slice::from_mut(obj)).await?;
            }
            found.ok_or_else(|| {
                DbError::new(
                    ErrorKind::DoesNotExist,
                    format!("{} matching query does not exist", meta.name),
                )
            })
        })
        .await
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
