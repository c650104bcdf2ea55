//! The schema as migrations see it: owned, comparable descriptions of
//! models ([`ModelState`]) and of the whole project ([`ProjectState`]).
//!
//! A state is built two ways, and the autodetector compares the two: from
//! the project's model metadata (`ProjectState::from_models`), and by
//! replaying every migration's operations from nothing. Only what the
//! database sees is here (columns, types, keys, constraints, indexes);
//! Python-side options in Django's terms (verbose names, ordering, defaults)
//! are not, so changing them never produces a migration.

use std::collections::BTreeMap;

use crate::model::{ConstraintKind, FieldMeta, FieldType, ModelMeta, OnDelete};

/// A model's identity: its app and its Rust name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelKey {
    /// The app (`polls`).
    pub app: String,
    /// The model (`Question`).
    pub name: String,
}

impl ModelKey {
    /// `app.Model`.
    pub fn new(app: impl Into<String>, name: impl Into<String>) -> Self {
        ModelKey {
            app: app.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for ModelKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.app, self.name)
    }
}

/// A foreign key's target and rule.
#[derive(Clone, Debug, PartialEq)]
pub struct RelationState {
    /// The model pointed at.
    pub to: ModelKey,
    /// What deleting the target does (carried out by the ORM; recorded so a
    /// change is visible in the history).
    pub on_delete: OnDelete,
}

/// One column.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldState {
    /// The Rust field name.
    pub name: String,
    /// The column.
    pub column: String,
    /// The storage type.
    pub field_type: FieldType,
    /// NULL allowed.
    pub null: bool,
    /// The primary key.
    pub primary_key: bool,
    /// Unique.
    pub unique: bool,
    /// Indexed (alone).
    pub index: bool,
    /// Longest text.
    pub max_length: Option<u32>,
    /// Decimal digits.
    pub max_digits: Option<u32>,
    /// Decimal places.
    pub decimal_places: Option<u32>,
    /// For foreign keys.
    pub relation: Option<RelationState>,
}

impl FieldState {
    /// A plain column of `field_type`, NOT NULL, no options.
    pub fn new(name: impl Into<String>, field_type: FieldType) -> Self {
        let name = name.into();
        FieldState {
            column: name.clone(),
            name,
            field_type,
            null: false,
            primary_key: false,
            unique: false,
            index: false,
            max_length: None,
            max_digits: None,
            decimal_places: None,
            relation: None,
        }
    }

    /// An auto-increment 64-bit primary key named `name`.
    pub fn auto(name: impl Into<String>) -> Self {
        let mut field = Self::new(name, FieldType::AutoBigInt);
        field.primary_key = true;
        field.unique = true;
        field
    }

    /// The same field with another column name.
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = column.into();
        self
    }

    /// NULL allowed.
    pub fn null(mut self) -> Self {
        self.null = true;
        self
    }

    /// The primary key.
    pub fn primary_key(mut self) -> Self {
        self.primary_key = true;
        self.unique = true;
        self
    }

    /// Unique.
    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    /// Indexed.
    pub fn index(mut self) -> Self {
        self.index = true;
        self
    }

    /// Longest text (makes the column a varchar).
    pub fn max_length(mut self, n: u32) -> Self {
        self.max_length = Some(n);
        self
    }

    /// Decimal digits in all and after the point.
    pub fn digits(mut self, max_digits: u32, decimal_places: u32) -> Self {
        self.max_digits = Some(max_digits);
        self.decimal_places = Some(decimal_places);
        self
    }

    /// A foreign key to `to`, indexed like Django's.
    pub fn references(mut self, to: ModelKey, on_delete: OnDelete) -> Self {
        self.relation = Some(RelationState { to, on_delete });
        self.index = true;
        self
    }

    /// Not indexed (a foreign key is by default).
    pub fn no_index(mut self) -> Self {
        self.index = false;
        self
    }

    fn from_meta(field: &FieldMeta, app_of: &dyn Fn(&ModelMeta) -> String) -> Self {
        FieldState {
            name: field.name.to_owned(),
            column: field.column.to_owned(),
            field_type: field.field_type,
            null: field.null,
            primary_key: field.primary_key,
            unique: field.unique || field.primary_key,
            index: field.index,
            max_length: field.max_length,
            max_digits: field.max_digits,
            decimal_places: field.decimal_places,
            relation: field.relation.map(|relation| {
                let target = (relation.target)();
                RelationState {
                    to: ModelKey::new(app_of(target), target.name),
                    on_delete: relation.on_delete,
                }
            }),
        }
    }
}

/// A constraint over several columns.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstraintState {
    /// These fields are unique together.
    Unique {
        /// The constraint's name.
        name: String,
        /// Field names.
        fields: Vec<String>,
    },
    /// An SQL condition every row meets.
    Check {
        /// The constraint's name.
        name: String,
        /// The condition.
        sql: String,
    },
}

impl ConstraintState {
    /// The constraint's name.
    pub fn name(&self) -> &str {
        match self {
            ConstraintState::Unique { name, .. } | ConstraintState::Check { name, .. } => name,
        }
    }
}

/// An index over one or more fields.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexState {
    /// The index's name.
    pub name: String,
    /// Field names.
    pub fields: Vec<String>,
}

/// One model (table).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelState {
    /// The app.
    pub app: String,
    /// The Rust name.
    pub name: String,
    /// The table.
    pub table: String,
    /// Columns, in order.
    pub fields: Vec<FieldState>,
    /// Constraints over several columns.
    pub constraints: Vec<ConstraintState>,
    /// Indexes over several columns.
    pub indexes: Vec<IndexState>,
}

impl ModelState {
    /// A model with no fields yet.
    pub fn new(app: impl Into<String>, name: impl Into<String>, table: impl Into<String>) -> Self {
        ModelState {
            app: app.into(),
            name: name.into(),
            table: table.into(),
            fields: Vec::new(),
            constraints: Vec::new(),
            indexes: Vec::new(),
        }
    }

    /// Adds a field.
    pub fn field(mut self, field: FieldState) -> Self {
        self.fields.push(field);
        self
    }

    /// Adds a constraint.
    pub fn constraint(mut self, constraint: ConstraintState) -> Self {
        self.constraints.push(constraint);
        self
    }

    /// Adds an index.
    pub fn index(mut self, index: IndexState) -> Self {
        self.indexes.push(index);
        self
    }

    /// The model's key.
    pub fn key(&self) -> ModelKey {
        ModelKey::new(&self.app, &self.name)
    }

    /// A field by name.
    pub fn get_field(&self, name: &str) -> Option<&FieldState> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The primary key field.
    pub fn pk(&self) -> Option<&FieldState> {
        self.fields.iter().find(|f| f.primary_key)
    }

    /// The state of a model's metadata; `app_of` names the app of any model
    /// it points at.
    pub fn from_meta(
        app: &str,
        meta: &ModelMeta,
        app_of: &dyn Fn(&ModelMeta) -> String,
    ) -> ModelState {
        ModelState {
            app: app.to_owned(),
            name: meta.name.to_owned(),
            table: meta.table.to_owned(),
            fields: meta
                .fields
                .iter()
                .map(|f| FieldState::from_meta(f, app_of))
                .collect(),
            constraints: meta
                .constraints
                .iter()
                .map(|c| match c.kind {
                    ConstraintKind::Unique(fields) => ConstraintState::Unique {
                        name: c.name.to_owned(),
                        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
                    },
                    ConstraintKind::Check(sql) => ConstraintState::Check {
                        name: c.name.to_owned(),
                        sql: sql.to_owned(),
                    },
                })
                .collect(),
            indexes: meta
                .indexes
                .iter()
                .map(|i| IndexState {
                    name: i.name.to_owned(),
                    fields: i.fields.iter().map(|f| (*f).to_owned()).collect(),
                })
                .collect(),
        }
    }
}

/// Every model of the project, by key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProjectState {
    /// The models.
    pub models: BTreeMap<ModelKey, ModelState>,
}

impl ProjectState {
    /// An empty project (before any migration).
    pub fn new() -> Self {
        Self::default()
    }

    /// The state of the given models, each with its app, including the
    /// generated tables of their many-to-many fields (as models of the same
    /// app named like `Article_tags`).
    pub fn from_models<'a>(
        models: impl IntoIterator<Item = (&'a str, &'static ModelMeta)>,
    ) -> ProjectState {
        let mut all: Vec<(String, &'static ModelMeta)> = Vec::new();
        for (app, meta) in models {
            all.push((app.to_owned(), meta));
            for link in meta.many_to_many.iter().filter(|m| m.auto_created) {
                all.push((app.to_owned(), (link.through)()));
            }
        }
        let lookup = all.clone();
        let app_of = move |target: &ModelMeta| -> String {
            lookup
                .iter()
                .find(|(_, meta)| meta.table == target.table)
                .map(|(app, _)| app.clone())
                .unwrap_or_default()
        };
        let mut state = ProjectState::new();
        for (app, meta) in &all {
            let model = ModelState::from_meta(app, meta, &app_of);
            state.models.insert(model.key(), model);
        }
        state
    }

    /// A model by key.
    pub fn model(&self, key: &ModelKey) -> Option<&ModelState> {
        self.models.get(key)
    }

    /// The models of one app.
    pub fn app_models<'a>(&'a self, app: &'a str) -> impl Iterator<Item = &'a ModelState> + 'a {
        self.models.values().filter(move |m| m.app == app)
    }
}
