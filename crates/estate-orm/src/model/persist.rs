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
    for (field, value) in M::META.fields.iter().zip(obj.to_values()) {
        validate_value(field, &value)?;
    }
    Ok(())
}

fn validate_value(field: &FieldMeta, value: &Value) -> Result<(), DbError> {
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
    validate(obj)?;
    let meta = M::META;
    let values = obj.to_values();
    let pk_value = values[meta.primary_key].clone();
    let unsaved = meta.pk().is_auto() && matches!(pk_value, Value::Null(_));
    if !unsaved && update(meta, db, &values, pk_value).await? > 0 {
        return Ok(());
    }
    insert(obj, db, values).await
}

async fn insert<M: Model, E: Executor + ?Sized>(
    obj: &mut M,
    db: &E,
    values: Vec<Value>,
) -> Result<(), DbError> {
    let meta = M::META;
    let pk = meta.pk();
    let generated = pk.is_auto() && matches!(values[meta.primary_key], Value::Null(_));
    let mut columns = Vec::with_capacity(values.len());
    let mut row = Vec::with_capacity(values.len());
    for (field, value) in meta.fields.iter().zip(values) {
        if field.primary_key && generated {
            continue;
        }
        columns.push(field.column);
        row.push(Expr::val(to_sea(value)));
    }
    let mut statement = Query::insert();
    statement
        .into_table(meta.table)
        .columns(columns.iter().copied());
    if row.is_empty() {
        statement.or_default_values();
    } else {
        statement.values_panic(row);
    }
    let backend = db.backend();
    if generated && backend.features().supports_returning {
        statement.returning_col(pk.column);
        let (sql, params) = build(&statement, backend);
        let row = executor::fetch_optional(db.target(), &sql, params)
            .await?
            .ok_or_else(|| {
                DbError::new(ErrorKind::Other, "INSERT ... RETURNING returned no row")
            })?;
        obj.set_generated_pk(row.get::<i64, usize>(0)?);
    } else {
        let (sql, params) = build(&statement, backend);
        let id = executor::execute_returning_insert_id(db.target(), &sql, params).await?;
        if generated {
            let id = id.ok_or_else(|| {
                DbError::new(ErrorKind::Other, "the database reported no generated key")
            })?;
            obj.set_generated_pk(id);
        }
    }
    Ok(())
}

async fn update<E: Executor + ?Sized>(
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
