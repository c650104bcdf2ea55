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
}

impl ModelMeta {
    /// The primary key's field.
    pub fn pk(&self) -> &'static FieldMeta {
        &self.fields[self.primary_key]
    }

    /// A field by its Rust name.
    pub fn field(&self, name: &str) -> Option<&'static FieldMeta> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The columns, in field order.
    pub fn columns(&self) -> impl Iterator<Item = &'static str> {
        self.fields.iter().map(|f| f.column)
    }
}

/// One field: its column, type and options.
#[derive(Debug)]
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
