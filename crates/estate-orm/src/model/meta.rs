//! The static description of a model: the one source every other part
//! (queries, migrations, forms, admin, API) reads.

use crate::value::Value;

/// A model: its table, fields, primary key and defaults for listings.
#[derive(Debug)]
pub struct ModelMeta {
    /// The Rust type's name, e.g. `Question`.
    pub name: &'static str,
    /// The table.
    pub table: &'static str,
    /// Fields, in declaration order (the order of selected columns).
    pub fields: &'static [FieldMeta],
    /// Index of the primary key in `fields`.
    pub primary_key: usize,
    /// Default ordering: (field name, descending).
    pub ordering: &'static [(&'static str, bool)],
    /// Human-readable name, e.g. `question`.
    pub verbose_name: &'static str,
    /// Plural, e.g. `questions`.
    pub verbose_name_plural: &'static str,
    /// Many-to-many relations (fields without a column of their own).
    pub many_to_many: &'static [super::many::ManyToManyMeta],
    /// Table constraints over several columns: unique together, checks.
    pub constraints: &'static [Constraint],
    /// Indexes over several columns (single-column ones are `FieldMeta::index`).
    pub indexes: &'static [Index],
}

impl ModelMeta {
    /// The primary key's field.
    pub fn pk(&self) -> &'static FieldMeta {
        &self.fields[self.primary_key]
    }

    /// The field that names a row in lists and select boxes (where Django
    /// would call `__str__`): the first unique text field, else the first
    /// text field; never the key, a choice, or a field holding a password
    /// (whose hash must not be shown).
    pub fn label_field(&self) -> Option<&'static FieldMeta> {
        let candidates = || {
            self.fields.iter().filter(|f| {
                !f.primary_key
                    && f.field_type == FieldType::String
                    && f.choices.is_none()
                    && !f.name.contains("password")
            })
        };
        candidates()
            .find(|f| f.unique)
            .or_else(|| candidates().next())
    }

    /// A field by its Rust name.
    pub fn field(&self, name: &str) -> Option<&'static FieldMeta> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// A many-to-many relation by its Rust name.
    pub fn many_to_many(&self, name: &str) -> Option<&'static super::many::ManyToManyMeta> {
        self.many_to_many.iter().find(|m| m.name == name)
    }

    /// The columns, in field order.
    pub fn columns(&self) -> impl Iterator<Item = &'static str> {
        self.fields.iter().map(|f| f.column)
    }
}

/// A table constraint, named so migrations can add and remove it.
#[derive(Debug)]
pub struct Constraint {
    /// The constraint's name in the database.
    pub name: &'static str,
    /// What it enforces.
    pub kind: ConstraintKind,
}

/// What a [`Constraint`] enforces.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConstraintKind {
    /// These fields' values, together, appear at most once (Django's
    /// `UniqueConstraint(fields=...)`). Field names, not columns.
    Unique(&'static [&'static str]),
    /// An SQL condition every row satisfies, e.g. `votes >= 0`, written in
    /// SQL all three backends understand.
    Check(&'static str),
}

/// An index over one or more fields.
#[derive(Debug)]
pub struct Index {
    /// The index's name in the database.
    pub name: &'static str,
    /// Field names, in index order.
    pub fields: &'static [&'static str],
}

/// One field: its column, type and options.
#[derive(Clone, Copy, Debug)]
pub struct FieldMeta {
    /// Rust field name.
    pub name: &'static str,
    /// Column name.
    pub column: &'static str,
    /// Storage type.
    pub field_type: FieldType,
    /// Whether NULL is allowed (the Rust type is an `Option`).
    pub null: bool,
    /// Whether this is the primary key.
    pub primary_key: bool,
    /// Whether values must be unique.
    pub unique: bool,
    /// Whether the column is indexed.
    pub index: bool,
    /// Longest text, in characters (makes a `String` a `varchar`).
    pub max_length: Option<u32>,
    /// Decimal digits in total.
    pub max_digits: Option<u32>,
    /// Decimal digits after the point.
    pub decimal_places: Option<u32>,
    /// The default value, for forms and for adding the column to existing rows.
    pub default: Option<fn() -> Value>,
    /// Human-readable name.
    pub verbose_name: &'static str,
    /// Help text for forms and the admin.
    pub help_text: &'static str,
    /// The relation, for `ForeignKey` fields.
    pub relation: Option<super::relation::Relation>,
    /// The allowed values and their labels, for enum fields.
    pub choices: Option<&'static [super::choices::Choice]>,
    /// Whether the column holds an uploaded file's name (`MediaFile`).
    pub media_file: bool,
}

impl FieldMeta {
    /// Whether the database generates this field's value (auto-increment key).
    pub fn is_auto(&self) -> bool {
        matches!(self.field_type, FieldType::AutoInt | FieldType::AutoBigInt)
    }
}

/// How a field is stored. Each backend maps these to its column types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldType {
    /// Auto-incrementing 32-bit key (`Auto<i32>`).
    AutoInt,
    /// Auto-incrementing 64-bit key (`Auto<i64>`).
    AutoBigInt,
    /// `i16`.
    SmallInt,
    /// `i32`.
    Int,
    /// `i64`.
    BigInt,
    /// `bool`.
    Bool,
    /// `f64`.
    Float,
    /// `String`: `varchar(max_length)` when a max length is given, else text.
    String,
    /// `Decimal` with `max_digits`/`decimal_places`.
    Decimal,
    /// `NaiveDate`.
    Date,
    /// `NaiveTime`.
    Time,
    /// `DateTime<Utc>`: a moment, stored timezone-aware.
    DateTime,
    /// `Uuid`.
    Uuid,
    /// JSON (`serde_json::Value` or `Json<T>`).
    Json,
    /// `Vec<u8>`.
    Bytes,
}

impl FieldType {
    /// The kind of value a column of this type holds (an `Auto` key reads
    /// as its integer).
    pub fn kind(self) -> crate::value::Kind {
        use crate::value::Kind;
        match self {
            FieldType::AutoInt | FieldType::Int => Kind::I32,
            FieldType::AutoBigInt | FieldType::BigInt => Kind::I64,
            FieldType::SmallInt => Kind::I16,
            FieldType::Uuid => Kind::Uuid,
            FieldType::String => Kind::String,
            FieldType::Bool => Kind::Bool,
            FieldType::Float => Kind::F64,
            FieldType::Decimal => Kind::Decimal,
            FieldType::Date => Kind::Date,
            FieldType::Time => Kind::Time,
            FieldType::DateTime => Kind::DateTime,
            FieldType::Json => Kind::Json,
            FieldType::Bytes => Kind::Bytes,
        }
    }
}
