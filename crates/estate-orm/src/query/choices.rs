//! The rows of a model as (key, label) pairs, for select boxes (ModelForm
//! foreign keys and many-to-many fields, admin filters), when only the
//! model's metadata is known.

use sea_query::{Expr, ExprTrait, Order, Query};

use crate::error::DbError;
use crate::executor::{self, Executor};
use crate::model::ModelMeta;
use crate::sql::build;
use crate::value::Value;

/// Up to `limit` rows of `meta`: each row's key and a label, its
/// [`label_field`](ModelMeta::label_field) (`None` when the model has none:
/// show the key),
/// in the model's default ordering (else by key).
///
/// # Errors
/// A database failure.
pub async fn choices<E: Executor + ?Sized>(
    db: &E,
    meta: &'static ModelMeta,
    limit: u64,
) -> Result<Vec<(Value, Option<String>)>, DbError> {
    labelled(db, meta, None, limit).await
}

/// The (key, label) pairs of the rows of `meta` with these keys (labels as
/// in [`choices`]), in one query: for showing what foreign keys point at
/// without a query per row.
///
/// # Errors
/// A database failure.
pub async fn choices_for_keys<E: Executor + ?Sized>(
    db: &E,
    meta: &'static ModelMeta,
    keys: &[Value],
) -> Result<Vec<(Value, Option<String>)>, DbError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    labelled(db, meta, Some(keys), keys.len() as u64).await
}

async fn labelled<E: Executor + ?Sized>(
    db: &E,
    meta: &'static ModelMeta,
    keys: Option<&[Value]>,
    limit: u64,
) -> Result<Vec<(Value, Option<String>)>, DbError> {
    let pk = meta.pk();
    let label = meta.label_field();
    let mut statement = Query::select();
    statement.column(pk.column).from(meta.table).limit(limit);
    if let Some(keys) = keys {
        statement
            .and_where(Expr::col(pk.column).is_in(keys.iter().cloned().map(crate::sql::to_sea)));
    }
    if let Some(label) = label {
        statement.column(label.column);
    }
    if meta.ordering.is_empty() {
        statement.order_by(pk.column, Order::Asc);
    }
    for (name, descending) in meta.ordering {
        if let Some(field) = meta.field(name) {
            let order = if *descending { Order::Desc } else { Order::Asc };
            statement.order_by_expr(Expr::col(field.column), order);
        }
    }
    let (sql, params) = build(&statement, db.backend());
    let rows = executor::fetch_all(db.target(), &sql, params).await?;
    rows.iter()
        .map(|row| {
            let key = row.get_value(0, pk.field_type.kind())?;
            let text = match label {
                // An empty or missing label shows the key instead.
                Some(_) => match row.get_value(1, crate::value::Kind::String)? {
                    Value::String(text) if !text.is_empty() => Some(text),
                    _ => None,
                },
                None => None,
            };
            Ok((key, text))
        })
        .collect()
}
