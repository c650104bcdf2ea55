//! Deleting rows and everything `on_delete` says should happen to the rows
//! pointing at them — done by the ORM (like Django's `Collector`), in one
//! transaction, so it behaves the same on every backend.
//!
//! 1. Find the keys of the rows to delete.
//! 2. For every registered model with a foreign key to them: `Cascade`
//!    schedules those rows too (and so on, down the chain); `Protect` fails
//!    at once; `Restrict` fails unless the rows are deleted anyway;
//!    `SetNull`/`SetDefault` schedule an update; `DoNothing` leaves it to the
//!    database.
//! 3. Run the updates, then the deletes, children first.

use std::collections::{BTreeMap, HashSet};

use sea_query::{Expr, ExprTrait, Query};

use super::meta::{FieldMeta, ModelMeta};
use super::relation::OnDelete;
use crate::error::{DbError, ErrorKind};
use crate::executor::{self, Executor};
use crate::sql::{build, to_sea};
use crate::transaction::Transaction;
use crate::value::Value;

/// Keys per `IN (...)` list, well under every backend's parameter limit.
const CHUNK: usize = 500;

/// What a delete removed: the total and the count per model, cascades
/// included (like Django's `delete()` return value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteResult {
    /// Rows deleted in all.
    pub total: u64,
    /// Rows deleted per model name.
    pub per_model: BTreeMap<&'static str, u64>,
}

/// The work a delete will do.
#[derive(Default)]
struct Plan {
    /// Rows to delete, in the order found (parents before children).
    deletes: Vec<(&'static ModelMeta, Vec<Value>)>,
    /// Columns to set (SET NULL / SET DEFAULT) on rows pointing at deleted ones.
    updates: Vec<(&'static ModelMeta, &'static FieldMeta, Value, Vec<Value>)>,
    /// Restrict relations to check once everything is collected:
    /// (model, field, keys pointed at).
    restricted: Vec<(&'static ModelMeta, &'static FieldMeta, Vec<Value>)>,
    /// Every (table, key) already scheduled, so cycles end.
    seen: HashSet<(&'static str, String)>,
}

/// Deletes the rows of `meta` matching `filter` (all rows if `None`), with
/// their `on_delete` consequences, atomically.
pub(crate) async fn delete_matching<E: Executor + ?Sized>(
    db: &E,
    meta: &'static ModelMeta,
    filter: Option<sea_query::Condition>,
) -> Result<DeleteResult, DbError> {
    let models = db.database().models();
    executor::atomic(db, async |tx| {
        let keys = select_keys(tx, meta, filter).await?;
        let mut plan = Plan::default();
        collect(tx, &models, meta, keys, &mut plan).await?;
        check_restricted(tx, &plan).await?;
        run(tx, plan).await
    })
    .await
}

/// What deleting some rows would delete, without deleting anything: the
/// rows themselves and every row their `on_delete = Cascade` relations
/// reach, per model, in the order found. For confirmation pages (the
/// admin's "Are you sure?").
///
/// # Errors
/// `ErrorKind::Protected` when a `Protect` or `Restrict` relation would
/// refuse the deletion (the message names the model and field in the
/// way), or a database failure.
pub async fn deletion_preview<E: Executor + ?Sized>(
    db: &E,
    meta: &'static ModelMeta,
    keys: Vec<Value>,
) -> Result<Vec<(&'static ModelMeta, Vec<Value>)>, DbError> {
    let models = db.database().models();
    executor::atomic(db, async |tx| {
        let mut plan = Plan::default();
        collect(tx, &models, meta, keys, &mut plan).await?;
        check_restricted(tx, &plan).await?;
        Ok(plan.deletes)
    })
    .await
}

fn key_text(value: &Value) -> String {
    format!("{value:?}")
}

async fn select_keys(
    tx: &Transaction,
    meta: &'static ModelMeta,
    filter: Option<sea_query::Condition>,
) -> Result<Vec<Value>, DbError> {
    let pk = meta.pk();
    let mut statement = Query::select();
    statement.column((meta.table, pk.column)).from(meta.table);
    if let Some(filter) = filter {
        statement.cond_where(filter);
    }
    let (sql, params) = build(&statement, tx.backend());
    executor::fetch_all(tx.target(), &sql, params)
        .await?
        .iter()
        .map(|row| row.get_value(0, pk.field_type.kind()))
        .collect()
}

fn in_chunks(column: (&'static str, &'static str), keys: &[Value]) -> Vec<Expr> {
    keys.chunks(CHUNK)
        .map(|chunk| Expr::col(column).is_in(chunk.iter().cloned().map(to_sea)))
        .collect()
}

/// Schedules `keys` of `meta` for deletion and follows every relation
/// pointing at them, breadth-first.
async fn collect(
    tx: &Transaction,
    models: &[&'static ModelMeta],
    meta: &'static ModelMeta,
    keys: Vec<Value>,
    plan: &mut Plan,
) -> Result<(), DbError> {
    let mut queue = vec![(meta, keys)];
    while let Some((meta, keys)) = queue.pop() {
        let keys: Vec<Value> = keys
            .into_iter()
            .filter(|key| plan.seen.insert((meta.table, key_text(key))))
            .collect();
        if keys.is_empty() {
            continue;
        }
        plan.deletes.push((meta, keys.clone()));
        for model in models {
            for field in model.fields {
                let Some(relation) = field.relation else {
                    continue;
                };
                if (relation.target)().table != meta.table {
                    continue;
                }
                match relation.on_delete {
                    OnDelete::Cascade => {
                        let children = referencing_keys(tx, model, field, &keys).await?;
                        if !children.is_empty() {
                            queue.push((model, children));
                        }
                    }
                    OnDelete::Protect => {
                        let count = referencing_keys(tx, model, field, &keys).await?.len();
                        if count > 0 {
                            return Err(protected(meta, model, field, count, "Protect"));
                        }
                    }
                    OnDelete::Restrict => plan.restricted.push((model, field, keys.clone())),
                    OnDelete::SetNull => plan.updates.push((
                        model,
                        field,
                        Value::Null(field.field_type.kind()),
                        keys.clone(),
                    )),
                    OnDelete::SetDefault => {
                        let default = field.default.ok_or_else(|| {
                            DbError::new(
                                ErrorKind::Other,
                                format!(
                                    "{}.{} uses on_delete = SetDefault but declares no default",
                                    model.name, field.name
                                ),
                            )
                        })?;
                        plan.updates.push((model, field, default(), keys.clone()));
                    }
                    OnDelete::DoNothing => {}
                }
            }
        }
    }
    Ok(())
}

async fn referencing_keys(
    tx: &Transaction,
    model: &'static ModelMeta,
    field: &'static FieldMeta,
    keys: &[Value],
) -> Result<Vec<Value>, DbError> {
    let pk = model.pk();
    let mut found = Vec::new();
    for condition in in_chunks((model.table, field.column), keys) {
        let mut statement = Query::select();
        statement
            .column((model.table, pk.column))
            .from(model.table)
            .and_where(condition);
        let (sql, params) = build(&statement, tx.backend());
        for row in executor::fetch_all(tx.target(), &sql, params).await? {
            found.push(row.get_value(0, pk.field_type.kind())?);
        }
    }
    Ok(found)
}

fn protected(
    target: &ModelMeta,
    model: &ModelMeta,
    field: &FieldMeta,
    count: usize,
    rule: &str,
) -> DbError {
    DbError::new(
        ErrorKind::Protected,
        format!(
            "cannot delete {}: {count} {} row{} point{} at it through {}.{} (on_delete = {rule})",
            target.name,
            model.name,
            if count == 1 { "" } else { "s" },
            if count == 1 { "s" } else { "" },
            model.name,
            field.name
        ),
    )
}

/// `Restrict`: the pointing rows must all be in the plan.
async fn check_restricted(tx: &Transaction, plan: &Plan) -> Result<(), DbError> {
    for (model, field, keys) in &plan.restricted {
        let pointing = referencing_keys(tx, model, field, keys).await?;
        let outside = pointing
            .iter()
            .filter(|key| !plan.seen.contains(&(model.table, key_text(key))))
            .count();
        if outside > 0 {
            let target = (field
                .relation
                .expect("restricted fields are relations")
                .target)();
            return Err(protected(target, model, field, outside, "Restrict"));
        }
    }
    Ok(())
}

async fn run(tx: &Transaction, plan: Plan) -> Result<DeleteResult, DbError> {
    let backend = tx.backend();
    for (model, field, value, keys) in &plan.updates {
        for condition in in_chunks((model.table, field.column), keys) {
            let mut statement = Query::update();
            statement
                .table(model.table)
                .values([(field.column, Expr::val(to_sea(value.clone())))])
                .and_where(condition);
            let (sql, params) = build(&statement, backend);
            executor::execute(tx.target(), &sql, params).await?;
        }
    }
    let mut result = DeleteResult::default();
    for (model, keys) in plan.deletes.iter().rev() {
        let pk = model.pk();
        for condition in in_chunks((model.table, pk.column), keys) {
            let mut statement = Query::delete();
            statement.from_table(model.table).and_where(condition);
            let (sql, params) = build(&statement, backend);
            let deleted = executor::execute(tx.target(), &sql, params).await?;
            result.total += deleted;
            *result.per_model.entry(model.name).or_default() += deleted;
        }
    }
    Ok(result)
}
