//! Rows to JSON and JSON to rows, from the model's metadata (Django REST
//! Framework's `ModelSerializer`): which fields are shown, which accepted,
//! and the field errors of bad input.
//!
//! Values use the JSON forms of `estate::orm::model::serialization`
//! (decimals as exact strings, moments as ISO 8601 in UTC, relations as the
//! related row's key).

use std::collections::HashMap;
use std::sync::Arc;

use estate::orm::model::serialization::{moment_text, value_from_json, value_to_json};
use estate::orm::{ChoiceValue, FieldMeta, FieldType, ManyToManyMeta, Model, ModelMeta, Value};
use serde::Serialize;
use serde::ser::{SerializeMap as _, SerializeSeq as _};
use serde_json::{Map, Value as Json};

use crate::problem::{FieldErrors, NON_FIELD_ERRORS};

/// A field computed from the row for output (a method field).
pub(crate) struct ComputedField<M> {
    pub(crate) name: &'static str,
    pub(crate) schema: Json,
    pub(crate) compute: Arc<dyn Fn(&M) -> Json + Send + Sync>,
}

/// A relation shown as the related row's fields rather than its key.
#[derive(Clone, Debug)]
pub(crate) struct Nested {
    /// Index of the relation in the model's fields.
    pub(crate) index: usize,
    /// The related model.
    pub(crate) target: &'static ModelMeta,
    /// Indexes of the related fields shown.
    pub(crate) fields: Vec<usize>,
}

/// A many-to-many field: shown as the list of linked keys, accepted as one
/// (replacing the links) when its links live in a generated table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Many {
    pub(crate) meta: &'static ManyToManyMeta,
    pub(crate) writable: bool,
}

/// What a resource shows and accepts, resolved once at startup.
pub(crate) struct Serializer<M> {
    pub(crate) meta: &'static ModelMeta,
    /// Model fields shown, by index, in model order.
    pub(crate) output: Vec<usize>,
    /// Model fields accepted on create, by index.
    pub(crate) writable: Vec<usize>,
    /// Fields accepted but never shown.
    pub(crate) write_only: Vec<usize>,
    pub(crate) computed: Vec<ComputedField<M>>,
    pub(crate) nested: Vec<Nested>,
    /// Many-to-many fields shown (and, when writable, accepted).
    pub(crate) many: Vec<Many>,
    /// Names ignored in input (read-only and computed fields): a client
    /// may send back what it read.
    pub(crate) ignored_inputs: Vec<&'static str>,
}

/// A field that must be set by the server (`on_create`): neither accepted
/// nor nullable nor defaulted.
pub(crate) fn needs_server_value(field: &FieldMeta) -> bool {
    !field.is_auto() && !field.null && field.default.is_none()
}

/// An empty value of a field's kind, for fields the server sets in
/// `on_create` before the row is validated and written.
fn placeholder(field: &FieldMeta) -> Value {
    use estate::orm::chrono::{DateTime, NaiveDate, NaiveTime};
    match field.field_type {
        FieldType::AutoInt | FieldType::Int => Value::I32(0),
        FieldType::AutoBigInt | FieldType::BigInt => Value::I64(0),
        FieldType::SmallInt => Value::I16(0),
        FieldType::Bool => Value::Bool(false),
        FieldType::Float => Value::F64(0.0),
        FieldType::String => match field.choices.and_then(|c| c.first()) {
            Some(choice) => Value::String(choice.value.to_string()),
            None => Value::String(String::new()),
        },
        FieldType::Decimal => Value::Decimal(Default::default()),
        FieldType::Date => Value::Date(NaiveDate::default()),
        FieldType::Time => Value::Time(NaiveTime::default()),
        FieldType::DateTime => Value::DateTime(DateTime::default()),
        FieldType::Uuid => Value::Uuid(Default::default()),
        FieldType::Json => Value::Json(Json::Null),
        FieldType::Bytes => Value::Bytes(Vec::new()),
        _ => Value::Null(field.field_type.kind()),
    }
}

impl<M: Model> Serializer<M> {
    /// The rows, ready to be written as JSON, with what they show from
    /// other tables loaded in one query per relation (never one per row).
    pub(crate) async fn render_many<'a, E: estate::db::Executor + ?Sized>(
        &'a self,
        db: &E,
        rows: &'a [M],
    ) -> Result<Rendered<'a, M>, estate::db::DbError> {
        let values: Vec<Vec<Value>> = rows.iter().map(Model::to_values).collect();
        let mut nested: Vec<HashMap<String, Json>> = Vec::with_capacity(self.nested.len());
        for relation in &self.nested {
            let mut keys: Vec<Value> = values
                .iter()
                .map(|row| row[relation.index].clone())
                .filter(|key| !matches!(key, Value::Null(_)))
                .collect();
            let mut seen = std::collections::HashSet::new();
            keys.retain(|key| seen.insert(value_to_json(key).to_string()));
            let mut by_key = HashMap::new();
            if !keys.is_empty() {
                let target = relation.target;
                for row in estate::orm::model::rows::rows_by_key(db, target, &keys).await? {
                    let mut object = Map::new();
                    for &index in &relation.fields {
                        object.insert(
                            target.fields[index].name.to_owned(),
                            value_to_json(&row[index]),
                        );
                    }
                    by_key.insert(
                        value_to_json(&row[target.primary_key]).to_string(),
                        Json::Object(object),
                    );
                }
            }
            nested.push(by_key);
        }
        let mut links = Vec::with_capacity(self.many.len());
        if !self.many.is_empty() {
            let keys: Vec<Value> = values
                .iter()
                .map(|row| row[self.meta.primary_key].clone())
                .collect();
            for many in &self.many {
                links.push(estate::orm::model::rows::links_by_owner(db, many.meta, &keys).await?);
            }
        }
        Ok(Rendered {
            serializer: self,
            rows,
            values,
            nested,
            links,
        })
    }

    /// Refuses input members that are not fields of the resource.
    fn unknown_members(&self, input: &Map<String, Json>, errors: &mut FieldErrors) {
        for name in input.keys() {
            let known = self
                .writable
                .iter()
                .any(|&i| self.meta.fields[i].name == name)
                || self.many.iter().any(|m| m.writable && m.meta.name == name)
                || self.ignored_inputs.contains(&name.as_str());
            if !known {
                errors.insert(name.clone(), vec!["Unknown field.".to_owned()]);
            }
        }
    }

    /// A new instance from a create request's JSON: every accepted field
    /// that has no default and may not be null is required. Fields the
    /// resource does not accept take their default, NULL, or (when set by
    /// an `on_create` hook) a placeholder.
    pub(crate) fn parse_new(&self, input: &Map<String, Json>) -> Result<M, FieldErrors> {
        let mut errors = FieldErrors::new();
        self.unknown_members(input, &mut errors);
        let mut values = Vec::with_capacity(self.meta.fields.len());
        for (index, field) in self.meta.fields.iter().enumerate() {
            let value = if self.writable.contains(&index) {
                match input.get(field.name) {
                    Some(json) => match parse_value(field, json) {
                        Ok(value) => value,
                        Err(message) => {
                            errors.insert(field.name.to_owned(), vec![message]);
                            placeholder(field)
                        }
                    },
                    None => match absent_value(field) {
                        Some(value) => value,
                        None => {
                            errors.insert(
                                field.name.to_owned(),
                                vec!["This field is required.".to_owned()],
                            );
                            placeholder(field)
                        }
                    },
                }
            } else {
                absent_value(field).unwrap_or_else(|| placeholder(field))
            };
            values.push(value);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        M::from_values(values).map_err(|err| db_error_to_fields(&err))
    }

    /// Applies an update's JSON to `instance`: with `partial` (PATCH) only
    /// the fields sent change; without (PUT) the fields required on create
    /// are required too. The key is never changed.
    pub(crate) fn apply(
        &self,
        instance: &mut M,
        input: &Map<String, Json>,
        partial: bool,
    ) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        self.unknown_members(input, &mut errors);
        for &index in &self.writable {
            let field = &self.meta.fields[index];
            if field.primary_key {
                continue;
            }
            match input.get(field.name) {
                Some(json) => match parse_value(field, json) {
                    Ok(value) => {
                        if let Err(err) = instance.set_value(index, value) {
                            errors.insert(field.name.to_owned(), vec![err.message().to_owned()]);
                        }
                    }
                    Err(message) => {
                        errors.insert(field.name.to_owned(), vec![message]);
                    }
                },
                None if !partial && absent_value(field).is_none() => {
                    errors.insert(
                        field.name.to_owned(),
                        vec!["This field is required.".to_owned()],
                    );
                }
                None => {}
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Checks every field's declared rules (max_length, decimal digits)
    /// and collects the errors of all fields, not only the first.
    pub(crate) fn validate(&self, instance: &M) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        for (field, value) in self.meta.fields.iter().zip(instance.to_values()) {
            if let Err(err) = estate::orm::model::rows::validate_value(field, &value) {
                errors
                    .entry(field.name.to_owned())
                    .or_default()
                    .push(friendly(field, err.message()));
            }
        }
        if errors.is_empty() {
            instance
                .check_fields()
                .map_err(|err| db_error_to_fields(&err))
        } else {
            Err(errors)
        }
    }
}

impl<M: Model> Serializer<M> {
    /// The links sent for writable many-to-many fields: a list of keys
    /// each. Fields not sent are left out (unchanged on update, none on
    /// create).
    pub(crate) fn parse_links(
        &self,
        input: &Map<String, Json>,
    ) -> Result<Vec<(&'static ManyToManyMeta, Vec<Value>)>, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut links = Vec::new();
        for many in self.many.iter().filter(|m| m.writable) {
            let Some(json) = input.get(many.meta.name) else {
                continue;
            };
            let target = (many.meta.target)().pk();
            let parsed = match json.as_array() {
                None => Err(format!("Expected a list of keys, but got {json}.")),
                Some(items) => items
                    .iter()
                    .map(|item| {
                        if item.is_null() {
                            return Err("This list may not contain null.".to_owned());
                        }
                        value_from_json(target, item).map_err(|message| {
                            format!("Invalid pk {item} - {}", capitalised(&message))
                        })
                    })
                    .collect::<Result<Vec<Value>, String>>(),
            };
            match parsed {
                Ok(mut keys) => {
                    let mut seen = std::collections::HashSet::new();
                    keys.retain(|key| seen.insert(value_to_json(key).to_string()));
                    links.push((many.meta, keys));
                }
                Err(message) => {
                    errors.insert(many.meta.name.to_owned(), vec![message]);
                }
            }
        }
        if errors.is_empty() {
            Ok(links)
        } else {
            Err(errors)
        }
    }
}

/// The value a field takes when the input leaves it out, if it may be
/// left out.
fn absent_value(field: &FieldMeta) -> Option<Value> {
    if let Some(default) = field.default {
        return Some(default());
    }
    (field.null || field.is_auto()).then(|| Value::Null(field.field_type.kind()))
}

/// One member of the input: its JSON read as the field's type, checked
/// against its choices.
fn parse_value(field: &FieldMeta, json: &Json) -> Result<Value, String> {
    if json.is_null() && !field.null {
        return Err("This field may not be null.".to_owned());
    }
    // Text is text: a number sent for a string field is refused rather
    // than silently turned into its digits.
    if field.field_type == FieldType::String && !json.is_string() && !json.is_null() {
        return Err("Not a valid string.".to_owned());
    }
    // PostgreSQL cannot store NUL in text; no backend should (Django
    // REST Framework refuses it too).
    if json.as_str().is_some_and(|text| text.contains('\0')) {
        return Err("Null characters are not allowed.".to_owned());
    }
    let value = value_from_json(field, json).map_err(|message| capitalised(&message))?;
    if let (Some(choices), false) = (field.choices, matches!(value, Value::Null(_))) {
        let allowed = choices.iter().any(|choice| match (choice.value, &value) {
            (ChoiceValue::Text(text), Value::String(given)) => text == given,
            (ChoiceValue::Int(n), Value::I16(given)) => i64::from(n) == i64::from(*given),
            (ChoiceValue::Int(n), Value::I32(given)) => n == *given,
            (ChoiceValue::Int(n), Value::I64(given)) => i64::from(n) == *given,
            _ => false,
        });
        if !allowed {
            return Err(format!("{json} is not a valid choice."));
        }
    }
    Ok(value)
}

fn capitalised(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// A model rule's message in Django REST Framework's words where they
/// differ.
fn friendly(field: &FieldMeta, message: &str) -> String {
    match field.max_length {
        Some(max) if message.contains("characters") || message.contains("max_length") => {
            format!("Ensure this field has no more than {max} characters.")
        }
        _ => capitalised(message),
    }
}

/// A model error as field errors: on its field when it names one.
pub(crate) fn db_error_to_fields(err: &estate::db::DbError) -> FieldErrors {
    let mut errors = FieldErrors::new();
    let key = err.field().unwrap_or(NON_FIELD_ERRORS).to_owned();
    errors.insert(key, vec![capitalised(err.message())]);
    errors
}

/// Rows ready to be written as JSON (a list; [`Rendered::row`] for one):
/// serialized straight from the rows' values, members in the model's field
/// order, then many-to-many fields, then computed ones.
pub(crate) struct Rendered<'a, M> {
    serializer: &'a Serializer<M>,
    rows: &'a [M],
    values: Vec<Vec<Value>>,
    nested: Vec<HashMap<String, Json>>,
    links: Vec<HashMap<String, Vec<Value>>>,
}

impl<'a, M: Model> Rendered<'a, M> {
    /// Row number `index`.
    pub(crate) fn row(&self, index: usize) -> RenderedRow<'_, 'a, M> {
        RenderedRow {
            rendered: self,
            index,
        }
    }
}

impl<M: Model> Serialize for Rendered<'_, M> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut list = serializer.serialize_seq(Some(self.rows.len()))?;
        for index in 0..self.rows.len() {
            list.serialize_element(&self.row(index))?;
        }
        list.end()
    }
}

/// One row of [`Rendered`].
pub(crate) struct RenderedRow<'r, 'a, M> {
    rendered: &'r Rendered<'a, M>,
    index: usize,
}

impl<M: Model> Serialize for RenderedRow<'_, '_, M> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rendered = self.rendered;
        let fields = rendered.serializer;
        let values = &rendered.values[self.index];
        let members = fields.output.len() + fields.many.len() + fields.computed.len();
        let mut object = serializer.serialize_map(Some(members))?;
        // Related rows are found by the key's JSON text; only worked out
        // when the resource shows related rows.
        let text = |value: &Value| value_to_json(value).to_string();
        for &index in &fields.output {
            let field = &fields.meta.fields[index];
            let value = &values[index];
            match fields.nested.iter().position(|n| n.index == index) {
                Some(at) if !matches!(value, Value::Null(_)) => {
                    let related = rendered.nested[at].get(&text(value));
                    object.serialize_entry(field.name, &related)?;
                }
                _ => object.serialize_entry(field.name, &FieldOut(field, value))?,
            }
        }
        if !fields.many.is_empty() {
            let key = text(&values[fields.meta.primary_key]);
            for (many, by_owner) in fields.many.iter().zip(&rendered.links) {
                let linked = by_owner.get(&key).map_or(&[][..], Vec::as_slice);
                let keys: Vec<ValueOut<'_>> = linked.iter().map(ValueOut).collect();
                object.serialize_entry(many.meta.name, &keys)?;
            }
        }
        for computed in &fields.computed {
            object.serialize_entry(
                computed.name,
                &(computed.compute)(&rendered.rows[self.index]),
            )?;
        }
        object.end()
    }
}

/// A field's value as JSON: decimals with the field's places, whatever
/// scale the backend returned ("20" on SQLite, "20.00" elsewhere), as
/// Django REST Framework shows them.
struct FieldOut<'a>(&'a FieldMeta, &'a Value);

impl Serialize for FieldOut<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.1, self.0.decimal_places) {
            (Value::Decimal(number), Some(places)) => {
                let mut number = *number;
                number.rescale(places);
                serializer.collect_str(&number)
            }
            _ => ValueOut(self.1).serialize(serializer),
        }
    }
}

/// A value in the JSON form of `value_to_json`, written without building
/// a `serde_json::Value` for the common kinds.
struct ValueOut<'a>(&'a Value);

impl Serialize for ValueOut<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null(_) => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::I16(n) => serializer.serialize_i16(*n),
            Value::I32(n) => serializer.serialize_i32(*n),
            Value::I64(n) => serializer.serialize_i64(*n),
            Value::String(text) => serializer.serialize_str(text),
            Value::DateTime(moment) => serializer.serialize_str(&moment_text(moment)),
            other => value_to_json(other).serialize(serializer),
        }
    }
}
