//! # estate-orm
//!
//! Estate's database layer, usable without the web framework: a connection
//! pool for SQLite, PostgreSQL and MySQL/MariaDB chosen by URL, raw SQL with
//! bound parameters, transactions with nested savepoints, portable error
//! kinds, and a fresh database per test on every backend.
//!
//! ```no_run
//! use estate_orm::{Database, RawSql, params};
//!
//! # async fn demo() -> Result<(), estate_orm::DbError> {
//! let db = Database::connect("sqlite://db.sqlite3").await?;
//! db.execute("CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, text TEXT)", params![]).await?;
//! db.execute("INSERT INTO note (text) VALUES (?)", params!["hello"]).await?;
//! let row = db.fetch_one("SELECT COUNT(*) FROM note", params![]).await?;
//! let count: i64 = row.get(0)?;
//! # Ok(()) }
//! ```
//!
//! Models, QuerySets and relations build on this (see the ORM issue).

pub mod aggregate;
pub mod backends;
mod database;
mod error;
mod executor;
pub mod migrations;
pub mod model;
pub mod query;
pub mod query_log;
mod row;
mod sql;
pub mod testing;
mod transaction;
mod value;

pub use backends::{Backend, Features};
pub use database::{Database, PoolSettings, PoolStatus};
pub use error::{DbError, ErrorKind};
pub use executor::{Executor, RawSql, atomic};

/// The opaque destination type named in [`Executor`]'s hidden method, for
/// types that wrap a [`Database`] and forward to it.
#[doc(hidden)]
pub mod executor_target {
    pub use crate::executor::Target;
}
pub use aggregate::{Avg, Count, Max, Min, Sum};
pub use model::schema::{create_table, create_table_sql, drop_table};
pub use model::{
    Auto, Choice, ChoiceValue, Choices, Col, Constraint, ConstraintKind, DeleteResult, FieldMeta,
    FieldType, FieldValue, ForeignKey, Index, Json, ManyToMany, ManyToManyField, ManyToManyMeta,
    MediaFile, Model, ModelMeta, OnDelete, OneToOne, PrimaryKey, Relation, deletion_preview,
    linked_keys, meta_of, set_links, unknown_choice,
};
pub use query::{
    Annotated, Assignment, ColExpr, Condition, ForUpdate, Grouped, LookupValue, Numeric, Operand,
    OrderBy, Prefetch, QuerySet, RelationField, RowCount, TextColumn, Values, WithRelated, choices,
    choices_for_keys,
};
pub use row::{Column, Decode, Row};
pub use transaction::Transaction;
pub use value::{IntoValue, Kind, Value};

// The types fields use, so projects need not depend on these crates directly.
pub use chrono;
pub use rust_decimal;
pub use uuid;
