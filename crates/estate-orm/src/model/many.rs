//! Many-to-many relations: `tags: ManyToMany<Tag>` on `Article`.
//!
//! The links live in a through table with one column pointing at each side:
//! created automatically (`article_tags` with `article_id` and `tag_id`,
//! unique together, both cascading), or a model of your own with extra
//! columns (`#[model(through = Membership, through_fields = "group, person")]`).
//! The field on the struct holds nothing until `prefetch_related` fills it;
//! the `Article::TAGS` constant reads and changes the links.

use std::any::Any;
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use sea_query::{Expr, ExprTrait, OnConflict, Query};

use super::Model;
use super::meta::ModelMeta;
use super::relation::ForeignKey;
use crate::error::{DbError, ErrorKind};
use crate::executor::{self, Executor};
use crate::query::{Condition, LookupValue, Node, QuerySet, SubSelect};
use crate::sql::{build, to_sea};
use crate::value::Value;

/// The description of a many-to-many field, in [`ModelMeta::many_to_many`].
pub struct ManyToManyMeta {
    /// The Rust field name, e.g. `tags`.
    pub name: &'static str,
    /// The model the field is declared on.
    pub source: fn() -> &'static ModelMeta,
    /// The model linked to.
    pub target: fn() -> &'static ModelMeta,
    /// The through table's model (generated, or the one named by `through`).
    pub through: fn() -> &'static ModelMeta,
    /// The through table's column pointing at the source.
    pub source_column: &'static str,
    /// The through table's column pointing at the target.
    pub target_column: &'static str,
    /// Whether the through table was generated (links can then be added
    /// directly; a custom through model's rows are created as models).
    pub auto_created: bool,
    /// The name of the reverse accessor on the target.
    pub related_name: Option<&'static str>,
    /// Human-readable name.
    pub verbose_name: &'static str,
    /// Help text for forms and the admin.
    pub help_text: &'static str,
}

impl fmt::Debug for ManyToManyMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManyToManyMeta")
            .field("name", &self.name)
            .field("target", &(self.target)().name)
            .field("through", &(self.through)().table)
            .field("auto_created", &self.auto_created)
            .finish()
    }
}

/// A many-to-many field's value on an instance: empty until
/// `prefetch_related` loads the linked rows. Write `ManyToMany::default()`
/// when building an instance.
pub struct ManyToMany<T> {
    loaded: Option<Vec<T>>,
}

impl<T> ManyToMany<T> {
    /// Nothing loaded.
    pub fn new() -> Self {
        ManyToMany { loaded: None }
    }

    /// The linked rows, if `prefetch_related` loaded them.
    pub fn get(&self) -> Option<&[T]> {
        self.loaded.as_deref()
    }

    /// Stores rows loaded by `prefetch_related` (used by the derive).
    #[doc(hidden)]
    pub fn set_loaded(&mut self, value: Box<dyn Any + Send>)
    where
        T: 'static,
    {
        if let Ok(rows) = value.downcast::<Vec<T>>() {
            self.loaded = Some(*rows);
        }
    }
}

impl<T> Default for ManyToMany<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone> Clone for ManyToMany<T> {
    fn clone(&self) -> Self {
        ManyToMany {
            loaded: self.loaded.clone(),
        }
    }
}

impl<T: serde::Serialize> serde::Serialize for ManyToMany<T> {
    /// The loaded rows, or `null` when not prefetched.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.loaded.serialize(serializer)
    }
}

impl<T> PartialEq for ManyToMany<T> {
    /// The links are not part of the row: two instances compare by their
    /// columns alone, loaded or not.
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl<T: fmt::Debug> fmt::Debug for ManyToMany<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.loaded {
            Some(rows) => f.debug_list().entries(rows).finish(),
            None => f.write_str("(not loaded)"),
        }
    }
}

/// The handle on a many-to-many field for queries and changes:
/// `Article::TAGS.add(&db, &article, [&rust]).await?`.
pub struct ManyToManyField<M, T> {
    index: usize,
    _types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for ManyToManyField<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, T> Copy for ManyToManyField<M, T> {}

impl<M, T> ManyToManyField<M, T> {
    /// The many-to-many field number `index` of `M` (used by the derive).
    pub const fn new(index: usize) -> Self {
        ManyToManyField {
            index,
            _types: PhantomData,
        }
    }

    /// The field's position in `ModelMeta::many_to_many`.
    pub const fn index(&self) -> usize {
        self.index
    }
}

impl<M: Model, T: Model> ManyToManyField<M, T> {
    /// The field's description.
    pub fn meta(&self) -> &'static ManyToManyMeta {
        &M::META.many_to_many[self.index]
    }

    fn through(&self) -> &'static ModelMeta {
        (self.meta().through)()
    }

    /// `SELECT <select> FROM through WHERE <filter>` as a subquery.
    fn links(&self, select: &'static str, filter: Node) -> SubSelect {
        SubSelect {
            table: self.through().table,
            column: select,
            filter: Some(filter),
            ordering: Vec::new(),
            limit: None,
            offset: None,
            skip_nulls: true,
        }
    }

    /// The rows of `T` linked to `owner` (Django's `article.tags.all()`),
    /// as a query to refine. An unsaved owner has none.
    #[track_caller]
    pub fn of(&self, owner: &M) -> QuerySet<T> {
        let meta = self.meta();
        let through = self.through().table;
        let linked = self.links(
            meta.target_column,
            Node::Expr(Expr::col((through, meta.source_column)).eq(to_sea(owner.pk_value()))),
        );
        QuerySet::new().filter(Condition::from_node(Node::InSubquery {
            table: T::META.table,
            column: T::META.pk().column,
            select: Box::new(linked),
        }))
    }

    /// The rows of `M` linked to `target` (the reverse direction: the
    /// articles with a tag).
    #[track_caller]
    pub fn reverse_of(&self, target: &T) -> QuerySet<M> {
        let meta = self.meta();
        let through = self.through().table;
        let linked = self.links(
            meta.source_column,
            Node::Expr(Expr::col((through, meta.target_column)).eq(to_sea(target.pk_value()))),
        );
        QuerySet::new().filter(Condition::from_node(Node::InSubquery {
            table: M::META.table,
            column: M::META.pk().column,
            select: Box::new(linked),
        }))
    }

    /// Rows of `M` linked to at least one `T` matching `condition`, once
    /// each: articles tagged "rust" are
    /// `Article::objects().filter(Article::TAGS.any(Tag::NAME.eq("rust")))`.
    pub fn any(&self, condition: Condition<T>) -> Condition<M> {
        let meta = self.meta();
        let matching = Node::InSubquery {
            table: self.through().table,
            column: meta.target_column,
            select: Box::new(SubSelect {
                table: T::META.table,
                column: T::META.pk().column,
                filter: Some(condition.node),
                ordering: Vec::new(),
                limit: None,
                offset: None,
                skip_nulls: false,
            }),
        };
        Condition::from_node(Node::InSubquery {
            table: M::META.table,
            column: M::META.pk().column,
            select: Box::new(self.links(meta.source_column, matching)),
        })
    }

    /// Rows of `T` linked to at least one `M` matching `condition`: tags
    /// used by a published article.
    pub fn reverse_any(&self, condition: Condition<M>) -> Condition<T> {
        let meta = self.meta();
        let matching = Node::InSubquery {
            table: self.through().table,
            column: meta.source_column,
            select: Box::new(SubSelect {
                table: M::META.table,
                column: M::META.pk().column,
                filter: Some(condition.node),
                ordering: Vec::new(),
                limit: None,
                offset: None,
                skip_nulls: false,
            }),
        };
        Condition::from_node(Node::InSubquery {
            table: T::META.table,
            column: T::META.pk().column,
            select: Box::new(self.links(meta.target_column, matching)),
        })
    }

    /// Links `owner` to `targets` (instances or keys); links that exist
    /// already are kept, not duplicated. Runs in one transaction.
    ///
    /// # Errors
    /// If the owner or a target is unsaved, or the relation goes through a
    /// custom model (create its rows instead: they have columns of their own).
    #[track_caller]
    pub fn add<'a, E, V, I>(
        &'a self,
        db: &'a E,
        owner: &'a M,
        targets: I,
    ) -> impl Future<Output = Result<(), DbError>> + Send + 'a
    where
        E: Executor + ?Sized,
        V: LookupValue<ForeignKey<T>>,
        I: IntoIterator<Item = V>,
    {
        let keys = target_keys::<T, V>(targets);
        crate::query_log::at(std::panic::Location::caller(), async move {
            self.writable()?;
            let owner_key = owner_key(owner)?;
            let keys = keys?;
            executor::atomic(db, async |tx| {
                self.insert_missing(tx, owner_key, keys).await
            })
            .await
        })
    }

    /// Unlinks `owner` from `targets`; returns how many links were removed.
    #[track_caller]
    pub fn remove<'a, E, V, I>(
        &'a self,
        db: &'a E,
        owner: &'a M,
        targets: I,
    ) -> impl Future<Output = Result<u64, DbError>> + Send + 'a
    where
        E: Executor + ?Sized,
        V: LookupValue<ForeignKey<T>>,
        I: IntoIterator<Item = V>,
    {
        let keys = target_keys::<T, V>(targets);
        crate::query_log::at(std::panic::Location::caller(), async move {
            let owner_key = owner_key(owner)?;
            let keys = keys?;
            if keys.is_empty() {
                return Ok(0);
            }
            let meta = self.meta();
            let through = self.through().table;
            let filter = sea_query::Condition::all()
                .add(Expr::col((through, meta.source_column)).eq(to_sea(owner_key)))
                .add(Expr::col((through, meta.target_column)).is_in(keys.into_iter().map(to_sea)));
            self.delete_links(db, filter).await
        })
    }

    /// Removes every link of `owner`; returns how many there were.
    #[track_caller]
    pub fn clear<'a, E: Executor + ?Sized>(
        &'a self,
        db: &'a E,
        owner: &'a M,
    ) -> impl Future<Output = Result<u64, DbError>> + Send + 'a {
        crate::query_log::at(std::panic::Location::caller(), async move {
            let owner_key = owner_key(owner)?;
            let meta = self.meta();
            let filter = sea_query::Condition::all()
                .add(Expr::col((self.through().table, meta.source_column)).eq(to_sea(owner_key)));
            self.delete_links(db, filter).await
        })
    }

    /// Makes `targets` exactly the rows linked to `owner`: removes the
    /// others and adds the missing ones, in one transaction.
    #[track_caller]
    pub fn set<'a, E, V, I>(
        &'a self,
        db: &'a E,
        owner: &'a M,
        targets: I,
    ) -> impl Future<Output = Result<(), DbError>> + Send + 'a
    where
        E: Executor + ?Sized,
        V: LookupValue<ForeignKey<T>>,
        I: IntoIterator<Item = V>,
    {
        let keys = target_keys::<T, V>(targets);
        crate::query_log::at(std::panic::Location::caller(), async move {
            set_links(db, self.meta(), owner_key(owner)?, keys?).await
        })
    }

    fn writable(&self) -> Result<(), DbError> {
        writable(self.meta())
    }

    async fn delete_links<E: Executor + ?Sized>(
        &self,
        db: &E,
        filter: sea_query::Condition,
    ) -> Result<u64, DbError> {
        delete_links(db, self.meta(), filter).await
    }

    async fn insert_missing(
        &self,
        tx: &crate::Transaction,
        owner_key: Value,
        keys: Vec<Value>,
    ) -> Result<(), DbError> {
        insert_missing(tx, self.meta(), owner_key, keys).await
    }
}

/// Makes `keys` exactly the targets linked to the row with key `owner_key`
/// through `meta`, in one transaction (a savepoint inside one). The typed
/// way is `Article::TAGS.set(..)`; this one serves code that knows only the
/// metadata (ModelForms, the admin).
///
/// # Errors
/// A custom through model (its rows have columns of their own), or a
/// database failure.
pub async fn set_links<E: Executor + ?Sized>(
    db: &E,
    meta: &'static ManyToManyMeta,
    owner_key: Value,
    keys: Vec<Value>,
) -> Result<(), DbError> {
    writable(meta)?;
    let through = (meta.through)().table;
    executor::atomic(db, async |tx| {
        let mut stale = sea_query::Condition::all()
            .add(Expr::col((through, meta.source_column)).eq(to_sea(owner_key.clone())));
        if !keys.is_empty() {
            stale = stale.add(
                Expr::col((through, meta.target_column))
                    .is_not_in(keys.iter().cloned().map(to_sea)),
            );
        }
        delete_links(tx, meta, stale).await?;
        insert_missing(tx, meta, owner_key, keys).await
    })
    .await
}

/// The keys of the targets linked to the row with key `owner_key`.
///
/// # Errors
/// A database failure.
pub async fn linked_keys<E: Executor + ?Sized>(
    db: &E,
    meta: &'static ManyToManyMeta,
    owner_key: Value,
) -> Result<Vec<Value>, DbError> {
    let through = (meta.through)();
    let kind = (meta.target)().pk().field_type.kind();
    let mut statement = Query::select();
    statement
        .column(meta.target_column)
        .from(through.table)
        .and_where(Expr::col(meta.source_column).eq(to_sea(owner_key)));
    let (sql, params) = build(&statement, db.backend());
    executor::fetch_all(db.target(), &sql, params)
        .await?
        .iter()
        .map(|row| row.get_value(0, kind))
        .collect()
}

fn writable(meta: &ManyToManyMeta) -> Result<(), DbError> {
    if meta.auto_created {
        return Ok(());
    }
    let through = (meta.through)().name;
    Err(DbError::new(
        ErrorKind::Other,
        format!(
            "`{}.{}` goes through the model `{through}`, whose rows have columns of their \
             own: create `{through}` rows to add links (remove and clear work here)",
            (meta.source)().name,
            meta.name
        ),
    ))
}

async fn delete_links<E: Executor + ?Sized>(
    db: &E,
    meta: &ManyToManyMeta,
    filter: sea_query::Condition,
) -> Result<u64, DbError> {
    let through = (meta.through)();
    if meta.auto_created {
        // Nothing points at a generated through table: one DELETE.
        let mut statement = Query::delete();
        statement.from_table(through.table).cond_where(filter);
        let (sql, params) = build(&statement, db.backend());
        executor::execute(db.target(), &sql, params).await
    } else {
        let result = super::deletion::delete_matching(db, through, Some(filter)).await?;
        Ok(result.per_model.get(through.name).copied().unwrap_or(0))
    }
}

/// Inserts the links from `owner_key` to `keys`; links that exist
/// (even ones another request added a moment ago) are skipped by the
/// database (`ON CONFLICT DO NOTHING`, MySQL's `ON DUPLICATE KEY`).
async fn insert_missing(
    tx: &crate::Transaction,
    meta: &ManyToManyMeta,
    owner_key: Value,
    keys: Vec<Value>,
) -> Result<(), DbError> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut statement = Query::insert();
    statement
        .into_table((meta.through)().table)
        .columns([meta.source_column, meta.target_column])
        .on_conflict(
            OnConflict::columns([meta.source_column, meta.target_column])
                .do_nothing_on([meta.source_column])
                .to_owned(),
        );
    for key in keys {
        statement.values_panic([Expr::val(to_sea(owner_key.clone())), Expr::val(to_sea(key))]);
    }
    let (sql, params) = build(&statement, tx.backend());
    executor::execute(tx.target(), &sql, params).await?;
    Ok(())
}

/// A value's identity for de-duplication (values are not `Hash`).
fn key_text(value: &Value) -> String {
    format!("{value:?}")
}

fn owner_key<M: Model>(owner: &M) -> Result<Value, DbError> {
    match owner.pk_value() {
        Value::Null(_) => Err(DbError::new(
            ErrorKind::Other,
            format!(
                "cannot change the links of an unsaved {}: save it first",
                M::META.name
            ),
        )),
        key => Ok(key),
    }
}

fn target_keys<T: Model, V: LookupValue<ForeignKey<T>>>(
    targets: impl IntoIterator<Item = V>,
) -> Result<Vec<Value>, DbError> {
    let mut seen = HashSet::new();
    let mut keys = Vec::new();
    for target in targets {
        let key = target.lookup_value();
        if matches!(key, Value::Null(_)) {
            return Err(DbError::new(
                ErrorKind::Other,
                format!("cannot link an unsaved {}: save it first", T::META.name),
            ));
        }
        if seen.insert(key_text(&key)) {
            keys.push(key);
        }
    }
    Ok(keys)
}
