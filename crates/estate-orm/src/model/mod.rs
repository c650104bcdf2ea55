//! Models: a Rust struct with `#[derive(Model)]` is a table.
//!
//! The derive generates a static [`ModelMeta`] (the single description every
//! other part reads), a column constant per field (`Question::PUB_DATE`) for
//! typed queries, and the [`Model`] impl. Saving, loading and deleting are the
//! provided methods of [`Model`]; queries start at [`Model::objects`].

mod choices;
pub(crate) mod deletion;
mod field;
mod many;
mod meta;
pub(crate) mod persist;
mod relation;
pub mod rows;
pub(crate) mod schema;
pub mod serialization;

use std::future::Future;
use std::marker::PhantomData;

pub use choices::{Choice, ChoiceValue, Choices, unknown_choice};
pub use deletion::{DeleteResult, deletion_preview};
pub use field::{Auto, FieldValue, Json, MediaFile, PrimaryKey};
pub use many::{ManyToMany, ManyToManyField, ManyToManyMeta, linked_keys, set_links};
pub use meta::{Constraint, ConstraintKind, FieldMeta, FieldType, Index, ModelMeta};
pub use relation::{ForeignKey, OnDelete, OneToOne, Relation, meta_of};

use crate::error::DbError;
use crate::executor::Executor;
use crate::query::QuerySet;
use crate::row::Row;
use crate::value::Value;

/// A database table as a Rust struct. Derive it with `#[derive(Model)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a model",
    label = "not a model",
    note = "add #[derive(Model)] to `{Self}` to store it in a table or point a ForeignKey at it"
)]
pub trait Model: Sized + Send + Sync + 'static {
    /// The static description of the model.
    const META: &'static ModelMeta;

    /// The primary key's plain type (`i64` for `Auto<i64>`), as stored in
    /// foreign keys pointing here.
    type Key: FieldValue + Clone + PartialEq + std::fmt::Debug + Send + Sync;

    /// The primary key, if the row has one yet.
    fn key(&self) -> Option<Self::Key>;

    /// Stores a related instance loaded by `select_related` into relation
    /// field number `index` (used by the derive).
    fn set_related(&mut self, index: usize, value: Box<dyn std::any::Any + Send>);

    /// Stores the rows `prefetch_related` loaded for many-to-many field
    /// number `index` (used by the derive).
    fn set_many_related(&mut self, index: usize, value: Box<dyn std::any::Any + Send>);

    /// Builds an instance from a row whose columns, starting at `offset`,
    /// are this model's fields in order.
    fn from_row_at(row: &Row, offset: usize) -> Result<Self, DbError>;

    /// The field values, in field order.
    fn to_values(&self) -> Vec<Value>;

    /// An instance from one value per field of `META.fields`, in order
    /// (what a ModelForm builds); many-to-many fields start empty. A value
    /// of the wrong kind is a validation error naming the field.
    fn from_values(values: Vec<Value>) -> Result<Self, DbError>;

    /// Sets field number `index` of `META.fields` from a value (ModelForm
    /// `save` on an existing instance).
    fn set_value(&mut self, index: usize, value: Value) -> Result<(), DbError>;

    /// Runs each field's [`FieldValue::check`]; errors name the field.
    fn check_fields(&self) -> Result<(), DbError>;

    /// The primary key's value (NULL for an unsaved `Auto` key).
    fn pk_value(&self) -> Value;

    /// Stores the key the database generated on insert.
    fn set_generated_pk(&mut self, id: i64);

    /// A query over all rows of this model, in its default ordering.
    #[track_caller]
    fn objects() -> QuerySet<Self> {
        QuerySet::new()
    }

    /// The rows of model `C` whose relation `column` points at this row
    /// (Django's `question.choice_set`): `question.related(Choice::QUESTION)`.
    /// An unsaved instance has none.
    #[track_caller]
    fn related<C: Model, F: crate::query::RelationField<Target = Self>>(
        &self,
        column: Col<C, F>,
    ) -> QuerySet<C> {
        crate::query::pointing_at(column, self)
    }

    /// Checks max_length and decimal digits; errors name the field.
    fn validate(&self) -> Result<(), DbError> {
        persist::validate(self)
    }

    /// Inserts the row (an unsaved `Auto` key is then filled in) or updates
    /// it, after [`validate`](Self::validate).
    #[track_caller]
    fn save<'a, E: Executor + ?Sized>(
        &'a mut self,
        db: &'a E,
    ) -> impl Future<Output = Result<(), DbError>> + Send + 'a {
        crate::query_log::at(std::panic::Location::caller(), persist::save(self, db))
    }

    /// Inserts the instance as a new row even if it has a key (Django's
    /// `save(force_insert=True)`): an existing key is a unique violation,
    /// never an overwrite. What forms use to create.
    #[track_caller]
    fn insert<'a, E: Executor + ?Sized>(
        &'a mut self,
        db: &'a E,
    ) -> impl Future<Output = Result<(), DbError>> + Send + 'a {
        crate::query_log::at(
            std::panic::Location::caller(),
            persist::insert_new(self, db),
        )
    }

    /// Writes the instance over the row whose key is `original_key`, the key
    /// included if it was edited (Django's `save(force_update=True)`).
    /// `Ok(false)` if that row is gone. What forms use to edit.
    #[track_caller]
    fn update_row<'a, E: Executor + ?Sized>(
        &'a self,
        db: &'a E,
        original_key: Value,
    ) -> impl Future<Output = Result<bool, DbError>> + Send + 'a {
        crate::query_log::at(
            std::panic::Location::caller(),
            persist::update_row(self, db, original_key),
        )
    }

    /// Deletes the row, and applies every `on_delete` pointing here (cascades,
    /// protections, set-null) in one transaction. Returns what was deleted.
    #[track_caller]
    fn delete<'a, E: Executor + ?Sized>(
        &'a self,
        db: &'a E,
    ) -> impl Future<Output = Result<DeleteResult, DbError>> + Send + 'a {
        crate::query_log::at(std::panic::Location::caller(), persist::delete(self, db))
    }

    /// Reloads every field from the database.
    #[track_caller]
    fn refresh<'a, E: Executor + ?Sized>(
        &'a mut self,
        db: &'a E,
    ) -> impl Future<Output = Result<(), DbError>> + Send + 'a {
        crate::query_log::at(std::panic::Location::caller(), persist::refresh(self, db))
    }
}

/// A typed reference to one column of model `M` whose Rust type is `T`:
/// `Question::PUB_DATE`. Lookups on it build query conditions, and a wrong
/// type or a misspelt column is a compile error.
pub struct Col<M, T> {
    index: usize,
    _types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Col<M, T> {
    /// The column of field number `index` (used by the derive).
    pub const fn new(index: usize) -> Self {
        Col {
            index,
            _types: PhantomData,
        }
    }
}

impl<M: Model, T> Col<M, T> {
    /// The field's position in the model.
    pub const fn index(&self) -> usize {
        self.index
    }

    /// The field's description.
    pub fn field(&self) -> &'static FieldMeta {
        &M::META.fields[self.index]
    }
}

impl<M, T> Clone for Col<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, T> Copy for Col<M, T> {}

impl<M: Model, T> std::fmt::Debug for Col<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", M::META.name, self.field().name)
    }
}
