//! Rows read and written through a model's metadata alone, without its Rust
//! type: what moves data wholesale in and out of the database (`dumpdata`,
//! `loaddata`, `flush`). Values are [`Value`]s, one per field of
//! [`ModelMeta::fields`], in order; a relation's value is the related key.
//!
//! ```no_run
//! # use estate_orm::{Database, ModelMeta, DbError};
//! use estate_orm::model::rows;
//!
//! # async fn demo(db: &Database, meta: &'static ModelMeta) -> Result<(), DbError> {
//! // Every row, in key order, a page at a time.
//! rows::for_each_row(db, meta, None, |row| {
//!     println!("{:?}", row.values);
//!     Ok::<_, DbError>(())
//! })
//! .await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;

use sea_query::{Expr, ExprTrait, Order, Query};

use super::many::ManyToManyMeta;
use super::meta::{FieldMeta, ModelMeta};
use crate::backends;
use crate::database::Database;
use crate::error::{DbError, ErrorKind};
use crate::executor::{self, Executor};
use crate::sql::{build, to_sea};
use crate::value::Value;

/// Rows read per query by [`for_each_row`]: memory stays bounded however
/// big the table.
const PAGE: usize = 1000;

/// Keys per `IN (...)` list, well under every backend's parameter limit.
const KEYS_PER_QUERY: usize = 500;

/// One stored row, as [`for_each_row`] reads it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StoredRow {
    /// One value per field of the model, in field order.
    pub values: Vec<Value>,
    /// For each of [`generated_links`]`(meta)`, in order, the keys of the
    /// rows this row is linked to, smallest first.
    pub links: Vec<Vec<Value>>,
}

/// The many-to-many fields of `meta` whose links live in a generated
/// through table (a custom through model's rows are rows of their own).
pub fn generated_links(meta: &'static ModelMeta) -> impl Iterator<Item = &'static ManyToManyMeta> {
    meta.many_to_many.iter().filter(|m2m| m2m.auto_created)
}

/// A value's identity, for matching keys (values are not `Hash`).
fn key_text(value: &Value) -> String {
    super::serialization::value_to_json(value).to_string()
}

/// Hands each row of `meta` to `each`, in primary-key order, with its
/// generated many-to-many links; only the rows whose key is in `keys` when
/// given. Rows are read a page at a time (by key, not by offset), so a
/// huge table is neither held in memory nor read twice. Stops at the first
/// error `each` returns. Returns how many rows were handed over.
///
/// # Errors
/// The database's (a missing table, say), or `each`'s.
pub async fn for_each_row<E, F, Err>(
    db: &E,
    meta: &'static ModelMeta,
    keys: Option<&[Value]>,
    mut each: F,
) -> Result<u64, Err>
where
    E: Executor + ?Sized,
    F: FnMut(StoredRow) -> Result<(), Err> + Send,
    Err: From<DbError>,
{
    let pk = meta.pk();
    let links: Vec<&'static ManyToManyMeta> = generated_links(meta).collect();
    let mut after: Option<Value> = None;
    let mut count = 0;
    loop {
        let mut statement = Query::select();
        statement
            .columns(meta.fields.iter().map(|f| (meta.table, f.column)))
            .from(meta.table)
            .order_by((meta.table, pk.column), Order::Asc)
            .limit(PAGE as u64);
        if let Some(keys) = keys {
            statement.and_where(
                Expr::col((meta.table, pk.column)).is_in(keys.iter().cloned().map(to_sea)),
            );
        }
        if let Some(last) = after.take() {
            statement.and_where(Expr::col((meta.table, pk.column)).gt(to_sea(last)));
        }
        let (sql, params) = build(&statement, db.backend());
        let rows = executor::fetch_all(db.target(), &sql, params).await?;
        let fetched = rows.len();
        let mut page = Vec::with_capacity(fetched);
        for row in &rows {
            let values = meta
                .fields
                .iter()
                .enumerate()
                .map(|(i, field)| row.get_value(i, field.field_type.kind()))
                .collect::<Result<Vec<Value>, DbError>>()?;
            page.push(values);
        }
        drop(rows);
        let page_keys: Vec<Value> = page
            .iter()
            .map(|values| values[meta.primary_key].clone())
            .collect();
        let mut linked = Vec::with_capacity(links.len());
        for link in &links {
            linked.push(links_of(db, link, &page_keys).await?);
        }
        for values in page {
            let key = key_text(&values[meta.primary_key]);
            let links = linked
                .iter_mut()
                .map(|by_owner| by_owner.remove(&key).unwrap_or_default())
                .collect();
            after = Some(values[meta.primary_key].clone());
            each(StoredRow { values, links })?;
            count += 1;
        }
        if fetched < PAGE {
            return Ok(count);
        }
    }
}

/// The keys of the rows linked to each of `owners` through the
/// many-to-many `link`, smallest first, by the owner key's JSON text
/// (`serialization::value_to_json(key).to_string()`); owners without links
/// are absent. A query per 500 owners, not one per owner.
///
/// # Errors
/// The database's.
pub async fn links_by_owner<E: Executor + ?Sized>(
    db: &E,
    link: &'static ManyToManyMeta,
    owners: &[Value],
) -> Result<HashMap<String, Vec<Value>>, DbError> {
    links_of(db, link, owners).await
}

/// The targets linked to each of `owners` through `link`, by owner key.
async fn links_of<E: Executor + ?Sized>(
    db: &E,
    link: &'static ManyToManyMeta,
    owners: &[Value],
) -> Result<HashMap<String, Vec<Value>>, DbError> {
    let through = (link.through)().table;
    let owner_kind = (link.source)().pk().field_type.kind();
    let target_kind = (link.target)().pk().field_type.kind();
    let mut by_owner: HashMap<String, Vec<Value>> = HashMap::new();
    for chunk in owners.chunks(KEYS_PER_QUERY) {
        let mut statement = Query::select();
        statement
            .columns([link.source_column, link.target_column])
            .from(through)
            .and_where(Expr::col(link.source_column).is_in(chunk.iter().cloned().map(to_sea)))
            .order_by(link.source_column, Order::Asc)
            .order_by(link.target_column, Order::Asc);
        let (sql, params) = build(&statement, db.backend());
        for row in executor::fetch_all(db.target(), &sql, params).await? {
            let owner = row.get_value(0, owner_kind)?;
            let target = row.get_value(1, target_kind)?;
            by_owner.entry(key_text(&owner)).or_default().push(target);
        }
    }
    Ok(by_owner)
}

/// Writes a row of `meta` by its key, as `loaddata` does (Django's raw
/// `save()`): overwrites every column of the row with that key, or inserts
/// it. An auto-increment key given as NULL is generated. `values` has one
/// value per field, in field order; each is checked against its field's
/// rules first (max_length, decimal digits), the error naming the field.
/// Returns the row's key.
///
/// # Errors
/// A value that breaks its field's rules, or whatever the database refuses
/// (a unique or foreign key violation...).
pub async fn save_row<E: Executor + ?Sized>(
    db: &E,
    meta: &'static ModelMeta,
    values: Vec<Value>,
) -> Result<Value, DbError> {
    if values.len() != meta.fields.len() {
        return Err(DbError::new(
            ErrorKind::Other,
            format!(
                "{} has {} fields, but {} values were given",
                meta.name,
                meta.fields.len(),
                values.len()
            ),
        ));
    }
    for (field, value) in meta.fields.iter().zip(&values) {
        super::persist::validate_value(field, value)?;
    }
    let key = values[meta.primary_key].clone();
    if matches!(key, Value::Null(_)) {
        if !meta.pk().is_auto() {
            return Err(DbError::validation(
                meta.pk().name,
                "the key cannot be empty: it is not generated by the database",
            ));
        }
    } else if super::persist::update(meta, db, &values, key.clone()).await? > 0 {
        return Ok(key);
    }
    insert(db, meta, values).await
}

/// Inserts one row; returns its key (the generated one for a NULL
/// auto-increment key).
async fn insert<E: Executor + ?Sized>(
    db: &E,
    meta: &'static ModelMeta,
    values: Vec<Value>,
) -> Result<Value, DbError> {
    let pk = meta.pk();
    let key = values[meta.primary_key].clone();
    let generated = matches!(key, Value::Null(_));
    let (columns, row): (Vec<&'static str>, Vec<Expr>) = meta
        .fields
        .iter()
        .zip(values)
        .filter(|(field, _)| !(field.primary_key && generated))
        .map(|(field, value)| (field.column, Expr::val(to_sea(value))))
        .unzip();
    let mut statement = Query::insert();
    statement.into_table(meta.table).columns(columns);
    if row.is_empty() {
        statement.or_default_values();
    } else {
        statement.values_panic(row);
    }
    let backend = db.backend();
    if !generated {
        let (sql, params) = build(&statement, backend);
        executor::execute(db.target(), &sql, params).await?;
        return Ok(key);
    }
    let kind = pk.field_type.kind();
    if backend.features().supports_returning {
        statement.returning_col(pk.column);
        let (sql, params) = build(&statement, backend);
        let row = executor::fetch_optional(db.target(), &sql, params)
            .await?
            .ok_or_else(|| DbError::new(ErrorKind::Other, "the insert returned no key"))?;
        return row.get_value(0, kind);
    }
    let (sql, params) = build(&statement, backend);
    let id = executor::execute_returning_insert_id(db.target(), &sql, params)
        .await?
        .ok_or_else(|| DbError::new(ErrorKind::Other, "the database reported no generated key"))?;
    Ok(match kind {
        crate::Kind::I32 => Value::I32(i32::try_from(id).map_err(|_| {
            DbError::new(ErrorKind::Other, format!("generated key {id} overflows"))
        })?),
        _ => Value::I64(id),
    })
}

/// Sets one field of the row whose key is `key`; returns whether that row
/// exists. (`loaddata` fills in references that had to wait for their row.)
///
/// # Errors
/// The value breaks the field's rules, or the database refuses it.
pub async fn set_field<E: Executor + ?Sized>(
    db: &E,
    meta: &'static ModelMeta,
    key: Value,
    field: &FieldMeta,
    value: Value,
) -> Result<bool, DbError> {
    super::persist::validate_value(field, &value)?;
    let mut statement = Query::update();
    statement
        .table(meta.table)
        .value(field.column, Expr::val(to_sea(value)))
        .and_where(Expr::col(meta.pk().column).eq(to_sea(key)));
    let (sql, params) = build(&statement, db.backend());
    Ok(executor::execute(db.target(), &sql, params).await? > 0)
}

/// Which of `keys` are keys of rows of `meta` (in no particular order).
///
/// # Errors
/// The database's.
pub async fn existing_keys<E: Executor + ?Sized>(
    db: &E,
    meta: &'static ModelMeta,
    keys: &[Value],
) -> Result<Vec<Value>, DbError> {
    let pk = meta.pk();
    let kind = pk.field_type.kind();
    let mut found = Vec::new();
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let mut statement = Query::select();
        statement
            .column(pk.column)
            .from(meta.table)
            .and_where(Expr::col(pk.column).is_in(chunk.iter().cloned().map(to_sea)));
        let (sql, params) = build(&statement, db.backend());
        for row in executor::fetch_all(db.target(), &sql, params).await? {
            found.push(row.get_value(0, kind)?);
        }
    }
    Ok(found)
}

/// After rows were written with explicit keys, makes the next generated key
/// of each of `models` follow the largest one (Django's
/// `sqlsequencereset`). Only PostgreSQL needs it; elsewhere it does nothing.
///
/// # Errors
/// The database's.
pub async fn reset_sequences<E: Executor + ?Sized>(
    db: &E,
    models: &[&'static ModelMeta],
) -> Result<(), DbError> {
    for meta in models {
        let pk = meta.pk();
        if !pk.is_auto() {
            continue;
        }
        if let Some((sql, params)) = backends::reset_sequence(db.backend(), meta.table, pk.column) {
            executor::fetch_optional(db.target(), &sql, params).await?;
        }
    }
    Ok(())
}

/// The tables of the connected database (its current schema on
/// PostgreSQL), sorted.
///
/// # Errors
/// The database's.
pub async fn table_names<E: Executor + ?Sized>(db: &E) -> Result<Vec<String>, DbError> {
    let sql = backends::table_names_sql(db.backend());
    let mut names = executor::fetch_all(db.target(), sql, Vec::new())
        .await?
        .iter()
        .map(|row| row.get::<String, usize>(0))
        .collect::<Result<Vec<String>, DbError>>()?;
    names.sort();
    Ok(names)
}

/// Deletes every row of `models` and of their generated many-to-many
/// tables, and restarts their auto-increment keys at 1 (Django's `flush`).
/// Tables that do not exist yet (models never migrated) are skipped; no
/// other table is touched (the migration records stay). Returns the tables
/// emptied.
///
/// # Errors
/// The database's: on PostgreSQL, for instance, a table outside `models`
/// that points at one of them.
pub async fn flush(
    db: &Database,
    models: &[&'static ModelMeta],
) -> Result<Vec<&'static str>, DbError> {
    let existing = table_names(db).await?;
    let mut tables: Vec<&'static str> = Vec::new();
    let with_links = models.iter().flat_map(|meta| {
        std::iter::once(*meta).chain(generated_links(meta).map(|l| (l.through)()))
    });
    for meta in with_links {
        let exists = existing.iter().any(|t| t.eq_ignore_ascii_case(meta.table));
        if exists && !tables.contains(&meta.table) {
            tables.push(meta.table);
        }
    }
    backends::flush(db, &tables).await?;
    Ok(tables)
}

/// Checks one value against its field's declared rules (max_length,
/// decimal digits, NULL in a NOT NULL field) before any SQL runs, as
/// [`save_row`] does; the error names the field.
///
/// # Errors
/// A [`Validation`](ErrorKind::Validation) error naming the field.
pub fn validate_value(field: &FieldMeta, value: &Value) -> Result<(), DbError> {
    super::persist::validate_value(field, value)
}

/// The rows of `meta` whose key is in `keys` (each read once, in no
/// particular order), one value per field in field order: what an API
/// reads to nest related rows without their Rust type. Keys are sent in
/// chunks that stay under every backend's parameter limit.
///
/// # Errors
/// The database's.
pub async fn rows_by_key<E: Executor + ?Sized>(
    db: &E,
    meta: &'static ModelMeta,
    keys: &[Value],
) -> Result<Vec<Vec<Value>>, DbError> {
    let pk = meta.pk();
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let mut statement = Query::select();
        statement
            .columns(meta.fields.iter().map(|f| (meta.table, f.column)))
            .from(meta.table)
            .and_where(Expr::col((meta.table, pk.column)).is_in(chunk.iter().cloned().map(to_sea)));
        let (sql, params) = build(&statement, db.backend());
        for row in executor::fetch_all(db.target(), &sql, params).await? {
            found.push(
                meta.fields
                    .iter()
                    .enumerate()
                    .map(|(i, field)| row.get_value(i, field.field_type.kind()))
                    .collect::<Result<Vec<Value>, DbError>>()?,
            );
        }
    }
    Ok(found)
}
