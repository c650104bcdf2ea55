//! Saving, reloading and deleting one instance.

use sea_query::{Expr, ExprTrait, IntoCondition, Query};

use super::Model;
use super::meta::{FieldMeta, FieldType};
use crate::error::{DbError, ErrorKind};
use crate::executor::{self, Executor};
use crate::sql::{build, to_sea};
use crate::value::Value;

/// Checks the declared rules (max_length, decimal digits) before any SQL
/// runs, so a bad value gets an error naming its field and nothing is written.
pub(crate) fn validate<M: Model>(obj: &M) -> Result<(), DbError> {
    validated_values(obj).map(drop)
}

/// The instance's values, after the checks of [`validate`] (computed once
/// for both).
pub(crate) fn validated_values<M: Model>(obj: &M) -> Result<Vec<Value>, DbError> {
    obj.check_fields()?;
    let values = obj.to_values();
    for (field, value) in M::META.fields.iter().zip(&values) {
        validate_value(field, value)?;
    }
    Ok(values)
}

/// Checks one value against its field's declared rules (max_length,
/// decimal digits); the error names the field.
pub(crate) fn validate_value(field: &FieldMeta, value: &Value) -> Result<(), DbError> {
    match (field.field_type, value) {
        (FieldType::String, Value::String(text)) => {
            if let Some(max) = field.max_length {
                let length = text.chars().count();
                if length > max as usize {
                    return Err(DbError::validation(
                        field.name,
                        format!("ensure this value has at most {max} characters (it has {length})"),
                    ));
                }
            }
        }
        (FieldType::Decimal, Value::Decimal(number)) => {
            if let (Some(digits), Some(places)) = (field.max_digits, field.decimal_places) {
                let normalized = number.normalize();
                let scale = normalized.scale();
                let whole_digits = normalized
                    .trunc()
                    .abs()
                    .to_string()
                    .trim_start_matches('0')
                    .len() as u32;
                if scale > places {
                    return Err(DbError::validation(
                        field.name,
                        format!("ensure that there are no more than {places} decimal places"),
                    ));
                }
                if whole_digits > digits - places {
                    return Err(DbError::validation(
                        field.name,
                        format!(
                            "ensure that there are no more than {} digits before the decimal point",
                            digits - places
                        ),
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Inserts the instance if it has no key yet (or no row has its key), else
/// updates its row.
pub(crate) async fn save<M: Model, E: Executor + ?Sized>(
    obj: &mut M,
    db: &E,
) -> Result<(), DbError> {
    let values = validated_values(obj)?;
    let meta = M::META;
    let pk_value = values[meta.primary_key].clone();
    let unsaved = meta.pk().is_auto() && matches!(pk_value, Value::Null(_));
    if !unsaved && update(meta, db, &values, pk_value).await? > 0 {
        return Ok(());
    }
    insert(obj, db, values).await
}

/// Inserts the instance as a new row, whatever its key (a row with the same
/// key is a unique violation, never overwritten).
pub(crate) async fn insert_new<M: Model, E: Executor + ?Sized>(
    obj: &mut M,
    db: &E,
) -> Result<(), DbError> {
    let values = validated_values(obj)?;
    if executor::in_transaction(db.target()) {
        // In a savepoint: a unique violation the caller turns into a form
        // error must not abort the surrounding transaction (PostgreSQL).
        return executor::atomic(db, async |tx| insert(obj, tx, values).await).await;
    }
    insert(obj, db, values).await
}

/// Writes the instance over the row whose key is `original_key` (the key
/// too, if it changed); `false` if there is no such row.
pub(crate) async fn update_row<M: Model, E: Executor + ?Sized>(
    obj: &M,
    db: &E,
    original_key: Value,
) -> Result<bool, DbError> {
    if executor::in_transaction(db.target()) {
        // As in `insert_new`: a failure stays inside a savepoint.
        return executor::atomic(db, async |tx| update_row_now(obj, tx, original_key).await).await;
    }
    update_row_now(obj, db, original_key).await
}

async fn update_row_now<M: Model, E: Executor + ?Sized>(
    obj: &M,
    db: &E,
    original_key: Value,
) -> Result<bool, DbError> {
    let values = validated_values(obj)?;
    let meta = M::META;
    if values[meta.primary_key] == original_key {
        return Ok(update(meta, db, &values, original_key).await? > 0);
    }
    let pk = meta.pk();
    let assignments: Vec<_> = meta
        .fields
        .iter()
        .zip(&values)
        .map(|(field, value)| (field.column, Expr::val(to_sea(value.clone()))))
        .collect();
    let mut statement = Query::update();
    statement
        .table(meta.table)
        .values(assignments)
        .and_where(Expr::col(pk.column).eq(to_sea(original_key)));
    let (sql, params) = build(&statement, db.backend());
    Ok(executor::execute(db.target(), &sql, params).await? > 0)
}

async fn insert<M: Model, E: Executor + ?Sized>(
    obj: &mut M,
    db: &E,
    values: Vec<Value>,
) -> Result<(), DbError> {
    insert_rows(db, std::slice::from_mut(obj), vec![values]).await
}

/// Parameters per INSERT statement, well under every backend's limit.
const MAX_PARAMS: usize = 10_000;

/// Inserts rows (whose values are `rows`, in field order) with as few
/// statements as the parameter limit allows, filling in generated keys where
/// the database reports them: always with RETURNING, and for a single row on
/// MySQL (whose multi-row `LAST_INSERT_ID()` is not reliable under load).
pub(crate) async fn insert_rows<M: Model, E: Executor + ?Sized>(
    db: &E,
    objs: &mut [M],
    rows: Vec<Vec<Value>>,
) -> Result<(), DbError> {
    let meta = M::META;
    let pk = meta.pk();
    let generated: Vec<bool> = rows
        .iter()
        .map(|values| pk.is_auto() && matches!(values[meta.primary_key], Value::Null(_)))
        .collect();
    if generated.iter().any(|g| *g) && generated.iter().any(|g| !*g) {
        return Err(DbError::new(
            ErrorKind::Other,
            format!(
                "cannot insert {} rows with and without keys in one call: split them",
                meta.name
            ),
        ));
    }
    let generated = generated.first().copied().unwrap_or(false);
    let columns: Vec<&'static str> = meta
        .fields
        .iter()
        .filter(|field| !(field.primary_key && generated))
        .map(|field| field.column)
        .collect();
    let backend = db.backend();
    let per_statement = (MAX_PARAMS / columns.len().max(1)).max(1);
    let mut offset = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(per_statement).collect();
        let count = chunk.len();
        let mut statement = Query::insert();
        statement
            .into_table(meta.table)
            .columns(columns.iter().copied());
        for values in chunk {
            let row: Vec<Expr> = meta
                .fields
                .iter()
                .zip(values)
                .filter(|(field, _)| !(field.primary_key && generated))
                .map(|(_, value)| Expr::val(to_sea(value)))
                .collect();
            if row.is_empty() {
                statement.or_default_values();
            } else {
                statement.values_panic(row);
            }
        }
        let targets = &mut objs[offset..offset + count];
        if generated && backend.features().supports_returning {
            statement.returning_col(pk.column);
            let (sql, params) = build(&statement, backend);
            let keys = executor::fetch_all(db.target(), &sql, params).await?;
            for (obj, key) in targets.iter_mut().zip(keys) {
                obj.set_generated_pk(key.get::<i64, usize>(0)?);
            }
        } else {
            let (sql, params) = build(&statement, backend);
            let id = executor::execute_returning_insert_id(db.target(), &sql, params).await?;
            if generated && count == 1 {
                let id = id.ok_or_else(|| {
                    DbError::new(ErrorKind::Other, "the database reported no generated key")
                })?;
                targets[0].set_generated_pk(id);
            }
        }
        offset += count;
    }
    Ok(())
}

/// Updates the row whose key is `pk_value` with `values` (one per field);
/// returns how many rows have that key (0 or 1).
pub(crate) async fn update<E: Executor + ?Sized>(
    meta: &'static super::ModelMeta,
    db: &E,
    values: &[Value],
    pk_value: Value,
) -> Result<u64, DbError> {
    let pk = meta.pk();
    let assignments: Vec<_> = meta
        .fields
        .iter()
        .zip(values)
        .filter(|(field, _)| !field.primary_key)
        .map(|(field, value)| (field.column, Expr::val(to_sea(value.clone()))))
        .collect();
    let backend = db.backend();
    if assignments.is_empty() {
        // Only a key: "updating" means checking the row exists.
        let mut statement = Query::select();
        statement
            .expr(Expr::val(1))
            .from(meta.table)
            .and_where(Expr::col(pk.column).eq(to_sea(pk_value)));
        let (sql, params) = build(&statement, backend);
        return Ok(executor::fetch_optional(db.target(), &sql, params)
            .await?
            .map_or(0, |_| 1));
    }
    let mut statement = Query::update();
    statement
        .table(meta.table)
        .values(assignments)
        .and_where(Expr::col(pk.column).eq(to_sea(pk_value)));
    let (sql, params) = build(&statement, backend);
    let affected = executor::execute(db.target(), &sql, params).await?;
    // Some backends count only rows whose values changed (MySQL without
    // FOUND_ROWS): on 0, ask whether the row exists at all.
    if affected == 0 {
        let mut exists = Query::select();
        exists
            .expr(Expr::val(1))
            .from(meta.table)
            .and_where(Expr::col(pk.column).eq(to_sea(values[meta.primary_key].clone())));
        let (sql, params) = build(&exists, backend);
        return Ok(executor::fetch_optional(db.target(), &sql, params)
            .await?
            .map_or(0, |_| 1));
    }
    Ok(affected)
}

fn saved_pk<M: Model>(obj: &M, doing: &str) -> Result<Value, DbError> {
    let pk = obj.pk_value();
    if matches!(pk, Value::Null(_)) {
        return Err(DbError::new(
            ErrorKind::Other,
            format!("cannot {doing} an unsaved {}: save it first", M::META.name),
        ));
    }
    Ok(pk)
}

/// Deletes the instance's row and applies `on_delete` to rows pointing at it.
pub(crate) async fn delete<M: Model, E: Executor + ?Sized>(
    obj: &M,
    db: &E,
) -> Result<super::DeleteResult, DbError> {
    let pk = saved_pk(obj, "delete")?;
    let meta = M::META;
    let filter = Expr::col((meta.table, meta.pk().column))
        .eq(to_sea(pk))
        .into_condition();
    super::deletion::delete_matching(db, meta, Some(filter)).await
}

/// Reloads the instance from its row.
pub(crate) async fn refresh<M: Model, E: Executor + ?Sized>(
    obj: &mut M,
    db: &E,
) -> Result<(), DbError> {
    let pk = saved_pk(obj, "refresh")?;
    let meta = M::META;
    let mut statement = Query::select();
    statement
        .columns(meta.columns())
        .from(meta.table)
        .and_where(Expr::col(meta.pk().column).eq(to_sea(pk)));
    let (sql, params) = build(&statement, db.backend());
    let row = executor::fetch_optional(db.target(), &sql, params)
        .await?
        .ok_or_else(|| {
            DbError::new(
                ErrorKind::DoesNotExist,
                format!(
                    "{} matching query does not exist (it was deleted)",
                    meta.name
                ),
            )
        })?;
    *obj = M::from_row_at(&row, 0)?;
    Ok(())
}
