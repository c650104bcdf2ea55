//! Relations: `ForeignKey<T>` (many-to-one) and what the ORM does when the
//! row it points at is deleted.
//!
//! A relation is never loaded behind your back: `fk.id()` is always there,
//! `fk.get()` is `Some` only after `select_related`, and `fk.fetch(&db)` runs
//! one query explicitly.

use std::any::Any;
use std::fmt;

use super::Model;
use super::field::FieldValue;
use super::meta::{FieldType, ModelMeta};
use crate::error::DbError;
use crate::executor::Executor;
use crate::row::Row;
use crate::value::{Kind, Value};

/// What happens to rows pointing at a deleted row (Django's `on_delete`).
/// The ORM carries it out itself, inside the delete's transaction, so it
/// behaves the same on every backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnDelete {
    /// Delete the pointing rows too (and what points at them).
    Cascade,
    /// Refuse to delete while rows point here.
    Protect,
    /// Refuse, unless the pointing rows are being deleted in the same
    /// operation (through another cascade).
    Restrict,
    /// Set the pointing column to NULL (the field must be an `Option`).
    SetNull,
    /// Set the pointing column to its declared default.
    SetDefault,
    /// Do nothing (the database's own constraint decides).
    DoNothing,
}

/// A field's relation to another model.
#[derive(Clone, Copy)]
pub struct Relation {
    /// The model pointed at.
    pub target: fn() -> &'static ModelMeta,
    /// What deleting the target does.
    pub on_delete: OnDelete,
    /// The name of the reverse relation, for documentation and the admin.
    pub related_name: Option<&'static str>,
}

impl fmt::Debug for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relation")
            .field("target", &(self.target)().name)
            .field("on_delete", &self.on_delete)
            .field("related_name", &self.related_name)
            .finish()
    }
}

/// The metadata of model `T`, as a function pointer (which, unlike a direct
/// reference, can describe models that point at each other or themselves).
pub fn meta_of<T: Model>() -> &'static ModelMeta {
    T::META
}

/// A one-to-one relation to model `T`: a [`ForeignKey`] whose column is
/// unique (the derive adds the constraint when it sees `OneToOne`), like
/// Django's `OneToOneField` (a profile for a user, say).
pub type OneToOne<T> = ForeignKey<T>;

/// A many-to-one relation to model `T`, stored as `T`'s key in a column
/// named `<field>_id`.
pub struct ForeignKey<T: Model> {
    id: T::Key,
    loaded: Option<Box<T>>,
}

impl<T: Model> ForeignKey<T> {
    /// Points at the row with key `id`.
    pub fn new(id: T::Key) -> Self {
        ForeignKey { id, loaded: None }
    }

    /// Points at a saved instance (and keeps it as the loaded value).
    ///
    /// # Errors
    /// If the instance has not been saved (it has no key yet).
    pub fn to(target: &T) -> Result<Self, DbError>
    where
        T: Clone,
    {
        let id = target.key().ok_or_else(|| {
            DbError::new(
                crate::ErrorKind::Other,
                format!("cannot point at an unsaved {}: save it first", T::META.name),
            )
        })?;
        Ok(ForeignKey {
            id,
            loaded: Some(Box::new(target.clone())),
        })
    }

    /// The key of the row pointed at.
    pub fn id(&self) -> &T::Key {
        &self.id
    }

    /// The row pointed at, if loaded (by `select_related` or `to`).
    pub fn get(&self) -> Option<&T> {
        self.loaded.as_deref()
    }

    /// Loads the row pointed at with one query.
    #[track_caller]
    pub fn fetch<'a, E: Executor + ?Sized>(
        &'a self,
        db: &'a E,
    ) -> impl std::future::Future<Output = Result<T, DbError>> + Send + 'a {
        let query = crate::query::QuerySet::<T>::new();
        async move { query.get_by_key(db, self.id.clone()).await }
    }
}

/// Keys convert into foreign keys, so `#[model(default = 0)]` works on one.
macro_rules! key_conversions {
    ($($key:ty),*) => {$(
        impl<T: Model<Key = $key>> From<$key> for ForeignKey<T> {
            fn from(id: $key) -> Self {
                ForeignKey::new(id)
            }
        }
    )*};
}

key_conversions!(i16, i32, i64, String, uuid::Uuid);

impl<T: Model + Clone> Clone for ForeignKey<T> {
    fn clone(&self) -> Self {
        ForeignKey {
            id: self.id.clone(),
            loaded: self.loaded.clone(),
        }
    }
}

impl<T: Model> serde::Serialize for ForeignKey<T>
where
    T::Key: serde::Serialize,
{
    /// The key pointed at (as Django serializes a foreign key).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.id.serialize(serializer)
    }
}

impl<T: Model> PartialEq for ForeignKey<T> {
    /// Two references are equal when they point at the same key.
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<T: Model> fmt::Debug for ForeignKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ForeignKey<{}>({:?})", T::META.name, self.id)
    }
}

impl<T: Model> FieldValue for ForeignKey<T> {
    const FIELD_TYPE: FieldType = <T::Key as FieldValue>::FIELD_TYPE;
    const KIND: Kind = <T::Key as FieldValue>::KIND;
    const TARGET: Option<fn() -> &'static ModelMeta> = Some(meta_of::<T>);
    type Plain = <T::Key as FieldValue>::Plain;
    const ACCEPTS_MAX_LENGTH: bool = <T::Key as FieldValue>::ACCEPTS_MAX_LENGTH;

    fn to_value(&self) -> Value {
        self.id.to_value()
    }

    fn from_row(row: &Row, index: usize) -> Result<Self, DbError> {
        Ok(ForeignKey::new(<T::Key as FieldValue>::from_row(
            row, index,
        )?))
    }

    fn from_value(value: Value) -> Result<Self, String> {
        <T::Key as FieldValue>::from_value(value).map(ForeignKey::new)
    }

    fn set_loaded(&mut self, value: Box<dyn Any + Send>) {
        if let Ok(target) = value.downcast::<T>() {
            self.loaded = Some(target);
        }
    }
}

/// Lets a key be used directly in lookups on a foreign key column:
/// `Choice::QUESTION.eq(7)`.
macro_rules! key_lookups {
    ($($key:ty),*) => {$(
        impl<T: Model<Key = $key>> crate::query::LookupValue<ForeignKey<T>> for $key {
            fn lookup_value(self) -> Value {
                self.to_value()
            }
        }
        impl<T: Model<Key = $key>> crate::query::LookupValue<Option<ForeignKey<T>>> for $key {
            fn lookup_value(self) -> Value {
                self.to_value()
            }
        }
    )*};
}

key_lookups!(i16, i32, i64, String, uuid::Uuid);

impl<T: Model> crate::query::LookupValue<ForeignKey<T>> for &T {
    /// Compares with the instance's key (NULL if it is unsaved).
    fn lookup_value(self) -> Value {
        self.pk_value()
    }
}
