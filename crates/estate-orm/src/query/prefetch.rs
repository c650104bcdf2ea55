//! `prefetch_related`: load the rows a relation points at with one extra
//! query per relation (per 500 keys), instead of one per object.
//!
//! A foreign key's targets are fetched by key and attached as if by
//! `select_related` (useful when many objects share few targets); a
//! many-to-many field's linked rows are fetched through the link table and
//! stored in the field, so `article.tags.get()` is `Some(&[..])`. The rows
//! pointing at each row (a reverse foreign key) come back next to it from
//! [`QuerySet::with_related`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sea_query::{Expr, ExprTrait, Order, Query};

use super::condition::Condition;
use super::queryset::QuerySet;
use super::relations::RelationField;
use crate::Backend;
use crate::error::DbError;
use crate::executor::{self, Executor, Target};
use crate::model::{Col, ManyToManyField, Model};
use crate::sql::{build, to_sea};
use crate::value::Value;

/// Keys per `IN (...)` list, well under every backend's parameter limit.
const CHUNK: usize = 500;

type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DbError>> + Send + 'a>>;

/// One relation to prefetch, ready to run on the loaded objects.
pub(crate) type PrefetchStep<M> =
    Arc<dyn for<'a> Fn(Target<'a>, Backend, &'a mut [M]) -> StepFuture<'a> + Send + Sync>;

/// What `prefetch_related` takes: a foreign key column (`Book::AUTHOR`) or
/// a many-to-many field (`Article::TAGS`).
pub trait Prefetch<M> {
    /// The step that loads the relation (used by `prefetch_related`).
    #[doc(hidden)]
    fn into_step(self) -> PrefetchStep<M>;
}

impl<M: Model, F: RelationField> Prefetch<M> for Col<M, F> {
    fn into_step(self) -> PrefetchStep<M> {
        let index = self.index();
        Arc::new(move |target, backend, objs| {
            Box::pin(forward::<M, F::Target>(target, backend, objs, index))
        })
    }
}

impl<M: Model, T: Model> Prefetch<M> for ManyToManyField<M, T> {
    fn into_step(self) -> PrefetchStep<M> {
        Arc::new(move |target, backend, objs| Box::pin(many::<M, T>(target, backend, objs, self)))
    }
}

/// A value's identity for grouping (values are not `Hash`).
fn key_text(value: &Value) -> String {
    format!("{value:?}")
}

/// Distinct non-NULL values, in first-seen order.
fn distinct(values: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    values
        .into_iter()
        .filter(|v| !matches!(v, Value::Null(_)) && seen.insert(key_text(v)))
        .collect()
}

async fn forward<M: Model, T: Model>(
    target: Target<'_>,
    backend: Backend,
    objs: &mut [M],
    field_index: usize,
) -> Result<(), DbError> {
    let meta = T::META;
    let pk = meta.pk();
    let keys = distinct(objs.iter().map(|o| o.to_values().swap_remove(field_index)));
    let mut rows = HashMap::new();
    for chunk in keys.chunks(CHUNK) {
        let mut statement = Query::select();
        statement
            .columns(meta.columns().map(|c| (meta.table, c)))
            .from(meta.table)
            .and_where(Expr::col((meta.table, pk.column)).is_in(chunk.iter().cloned().map(to_sea)));
        let (sql, params) = build(&statement, backend);
        for row in executor::fetch_all(target, &sql, params).await? {
            let key = row.get_value(meta.primary_key, pk.field_type.kind())?;
            rows.insert(key_text(&key), row);
        }
    }
    for obj in objs.iter_mut() {
        let key = obj.to_values().swap_remove(field_index);
        if let Some(row) = rows.get(&key_text(&key)) {
            // Decoded once per object: no `Clone` needed on the target.
            obj.set_related(field_index, Box::new(T::from_row_at(row, 0)?));
        }
    }
    Ok(())
}

async fn many<M: Model, T: Model>(
    target: Target<'_>,
    backend: Backend,
    objs: &mut [M],
    field: ManyToManyField<M, T>,
) -> Result<(), DbError> {
    let link = field.meta();
    let through = (link.through)().table;
    let meta = T::META;
    let owner_kind = M::META.pk().field_type.kind();
    let keys = distinct(objs.iter().map(Model::pk_value));
    let mut linked: HashMap<String, Vec<T>> = HashMap::new();
    for chunk in keys.chunks(CHUNK) {
        let mut statement = Query::select();
        statement
            .column((through, link.source_column))
            .columns(meta.columns().map(|c| (meta.table, c)))
            .from(meta.table)
            .inner_join(
                through,
                Expr::col((through, link.target_column)).equals((meta.table, meta.pk().column)),
            )
            .and_where(
                Expr::col((through, link.source_column)).is_in(chunk.iter().cloned().map(to_sea)),
            );
        super::ordering::apply(
            &mut statement,
            meta.table,
            &super::ordering::model_default(meta),
            backend,
        );
        statement.order_by((meta.table, meta.pk().column), Order::Asc);
        let (sql, params) = build(&statement, backend);
        for row in executor::fetch_all(target, &sql, params).await? {
            let owner = row.get_value(0, owner_kind)?;
            linked
                .entry(key_text(&owner))
                .or_default()
                .push(T::from_row_at(&row, 1)?);
        }
    }
    for obj in objs.iter_mut() {
        let rows = linked
            .remove(&key_text(&obj.pk_value()))
            .unwrap_or_default();
        obj.set_many_related(field.index(), Box::new(rows));
    }
    Ok(())
}

/// Rows with the rows pointing at them; see [`QuerySet::with_related`].
pub struct WithRelated<M, C> {
    query: QuerySet<M>,
    children: QuerySet<C>,
    field_index: usize,
    column: &'static str,
}

impl<M: Model> QuerySet<M> {
    /// Each row with the rows of `C` whose `relation` points at it (the
    /// reverse of a foreign key, Django's `prefetch_related("choice_set")`),
    /// in one more query per 500 rows: `Vec<(Question, Vec<Choice>)>`.
    #[track_caller]
    pub fn with_related<C: Model, F: RelationField<Target = M>>(
        self,
        relation: Col<C, F>,
    ) -> WithRelated<M, C> {
        WithRelated {
            query: self,
            children: QuerySet::new(),
            field_index: relation.index(),
            column: relation.field().column,
        }
    }
}

impl<M: Model, C: Model> WithRelated<M, C> {
    /// Which related rows to load, and in what order (Django's
    /// `Prefetch(queryset=...)`): `Choice::objects().filter(..).order_by(..)`.
    /// Its slices are not applied (they would cut across parents).
    pub fn children(mut self, query: QuerySet<C>) -> Self {
        self.children = query;
        self
    }

    /// Every matching row with its related rows.
    pub async fn all<E: Executor + ?Sized>(&self, db: &E) -> Result<Vec<(M, Vec<C>)>, DbError> {
        let parents = self.query.all(db).await?;
        let keys = distinct(parents.iter().map(Model::pk_value));
        let mut grouped: HashMap<String, Vec<C>> = HashMap::new();
        let mut children = self.children.clone();
        children.limit = None;
        children.offset = None;
        for chunk in keys.chunks(CHUNK) {
            let pointing = Condition::new(
                Expr::col((C::META.table, self.column)).is_in(chunk.iter().cloned().map(to_sea)),
            );
            for child in children.clone().filter(pointing).all(db).await? {
                let key = child.to_values().swap_remove(self.field_index);
                grouped.entry(key_text(&key)).or_default().push(child);
            }
        }
        Ok(parents
            .into_iter()
            .map(|parent| {
                let rows = grouped
                    .remove(&key_text(&parent.pk_value()))
                    .unwrap_or_default();
                (parent, rows)
            })
            .collect())
    }
}
