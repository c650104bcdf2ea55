//! One form field: what it accepts (its kind and limits), how it shows
//! (label, help text, widget) and how a submitted string becomes a typed
//! [`Value`], with Django's error messages.

use std::sync::Arc;

use estate_orm::chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use estate_orm::rust_decimal::Decimal;
use estate_orm::{Choice, ChoiceValue, FieldType, Kind, Value};

use super::widget::Widget;

/// A check on a cleaned value; `Err` is the message shown under the field.
pub type Validator = Arc<dyn Fn(&Value) -> Result<(), String> + Send + Sync>;

/// What a field accepts.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FieldKind {
    /// Text (`String`); `max_length`/`min_length` in characters.
    Text,
    /// An email address.
    Email,
    /// An `http`/`https` URL.
    Url,
    /// Letters, numbers, underscores and hyphens.
    Slug,
    /// A whole number of the given storage kind (`I16`, `I32`, `I64`).
    Integer(Kind),
    /// A floating-point number.
    Float,
    /// An exact decimal with optional digit limits.
    Decimal {
        /// Digits in total.
        max_digits: Option<u32>,
        /// Digits after the point.
        decimal_places: Option<u32>,
    },
    /// A checkbox.
    Boolean,
    /// Yes, no, or unknown (a nullable boolean): a select, empty is NULL.
    NullBoolean,
    /// A calendar date (`YYYY-MM-DD`).
    Date,
    /// A time of day (`HH:MM[:SS]`).
    Time,
    /// A moment (`YYYY-MM-DDTHH:MM[:SS]` taken as UTC, or RFC 3339).
    DateTime,
    /// A UUID.
    Uuid,
    /// A JSON document.
    Json,
    /// An uploaded file (the form needs `enctype="multipart/form-data"`).
    File {
        /// Allowed extensions, lowercase without the dot; empty allows any.
        allowed_extensions: Vec<String>,
    },
    /// A row of another model, by key (a foreign key): a select once the
    /// rows are loaded (`ModelForm::with_choices`), else an input of the key.
    ModelChoice {
        /// The key's kind.
        key: Kind,
        /// (key, label) of the rows, when loaded.
        choices: Option<Vec<(String, String)>>,
    },
    /// Several rows of another model (many-to-many): a multiple select.
    ModelMultipleChoice {
        /// The key's kind.
        key: Kind,
        /// (key, label) of the rows, when loaded.
        choices: Option<Vec<(String, String)>>,
    },
    /// One of a fixed list, stored as text or as an integer.
    Choice {
        /// Stored value and label, in order.
        choices: Vec<(String, String)>,
        /// Whether the stored value is an integer.
        integer: bool,
    },
}

/// A form field. Build one with the constructors ([`FormField::text`],
/// [`FormField::integer`]...) and chain options, or let `#[derive(Form)]`
/// and [`ModelForm`](super::ModelForm) build them from types and model
/// metadata.
#[derive(Clone)]
pub struct FormField {
    /// The name in the form data (before any prefix).
    pub name: String,
    /// The label shown (defaults to the name, capitalised, `_` → space).
    pub label: String,
    /// Help shown under the label.
    pub help_text: String,
    /// Whether an empty submission is an error.
    pub required: bool,
    /// Whether an empty value is stored as NULL (nullable model fields).
    pub null: bool,
    /// What it accepts.
    pub kind: FieldKind,
    /// How it renders.
    pub widget: Widget,
    /// Longest text, in characters.
    pub max_length: Option<usize>,
    /// Shortest text, in characters.
    pub min_length: Option<usize>,
    /// Smallest number.
    pub min_value: Option<f64>,
    /// Largest number.
    pub max_value: Option<f64>,
    /// Shown but not editable; the submitted value is ignored.
    pub disabled: bool,
    /// The value shown in an unbound form.
    pub initial: Option<Value>,
    /// Extra HTML attributes of the control (Django's `widget.attrs`), in
    /// order, values escaped when rendered: `("class", "wide")`,
    /// `("data-prepopulate", "id_title")`. Set with [`FormField::attr`].
    pub attrs: Vec<(String, String)>,
    pub(crate) validators: Vec<Validator>,
    pub(crate) checks: Vec<InputCheck>,
}

/// A check on a cleaned input (value or file), typed by `FormField::check`.
pub(crate) type InputCheck = Arc<dyn Fn(&super::FormInput) -> Result<(), String> + Send + Sync>;

impl std::fmt::Debug for FormField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormField")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("required", &self.required)
            .field("widget", &self.widget)
            .finish_non_exhaustive()
    }
}

/// `question text` → `Question text` (Django's `capfirst`).
pub(crate) fn label_capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Whether `name` can be written as an HTML attribute name as it is.
pub(crate) fn is_attribute_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'))
}

/// `pub_date` → `Pub date`.
pub(crate) fn label_from_name(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl FormField {
    /// A required field of `kind` with the kind's usual widget.
    pub fn new(name: &str, kind: FieldKind) -> FormField {
        let widget = Widget::for_kind(&kind);
        FormField {
            name: name.to_owned(),
            label: label_from_name(name),
            help_text: String::new(),
            required: !matches!(kind, FieldKind::Boolean),
            null: false,
            kind,
            widget,
            max_length: None,
            min_length: None,
            min_value: None,
            max_value: None,
            disabled: false,
            initial: None,
            attrs: Vec::new(),
            validators: Vec::new(),
            checks: Vec::new(),
        }
    }

    /// Text.
    pub fn text(name: &str) -> FormField {
        FormField::new(name, FieldKind::Text)
    }

    /// An email address.
    pub fn email(name: &str) -> FormField {
        FormField::new(name, FieldKind::Email)
    }

    /// A whole number (`i64`).
    pub fn integer(name: &str) -> FormField {
        FormField::new(name, FieldKind::Integer(Kind::I64))
    }

    /// A file upload.
    pub fn file(name: &str) -> FormField {
        FormField::new(
            name,
            FieldKind::File {
                allowed_extensions: Vec::new(),
            },
        )
    }

    /// Only files with these extensions (`&["pdf", "png"]`), for a file field.
    pub fn allowed_extensions(mut self, extensions: &[&str]) -> Self {
        if let FieldKind::File { allowed_extensions } = &mut self.kind {
            *allowed_extensions = extensions
                .iter()
                .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
                .collect();
        }
        self
    }

    /// Checks an uploaded file (`None`: none was sent); `text_sent` says the
    /// field came as text, i.e. the form lacks the multipart encoding.
    pub fn clean_file(
        &self,
        file: Option<&super::UploadedFile>,
        text_sent: bool,
    ) -> Result<Option<super::UploadedFile>, String> {
        let Some(file) = file else {
            if text_sent && self.required {
                return Err(
                    "No file was submitted. Check the encoding type on the form.".to_owned(),
                );
            }
            return if self.required {
                Err(REQUIRED.to_owned())
            } else {
                Ok(None)
            };
        };
        if file.size == 0 {
            return Err("The submitted file is empty.".to_owned());
        }
        if let FieldKind::File { allowed_extensions } = &self.kind {
            let extension = file
                .file_name
                .rsplit_once('.')
                .map(|(_, e)| e.to_ascii_lowercase())
                .unwrap_or_default();
            if !allowed_extensions.is_empty() && !allowed_extensions.contains(&extension) {
                return Err(format!(
                    "File extension “{extension}” is not allowed. Allowed extensions are: {}.",
                    allowed_extensions.join(", ")
                ));
            }
        }
        Ok(Some(file.clone()))
    }

    /// A checkbox (not required: unchecked is `false`).
    pub fn boolean(name: &str) -> FormField {
        FormField::new(name, FieldKind::Boolean)
    }

    /// One of `choices` (stored value, label).
    pub fn choice(name: &str, choices: &[(&str, &str)]) -> FormField {
        FormField::new(
            name,
            FieldKind::Choice {
                choices: choices
                    .iter()
                    .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
                    .collect(),
                integer: false,
            },
        )
    }

    /// The field for a stored type (what models and `#[derive(Form)]` use):
    /// choices become a select, `null` makes it optional.
    pub fn for_storage(
        name: &str,
        field_type: FieldType,
        null: bool,
        choices: Option<&'static [Choice]>,
    ) -> FormField {
        let kind = match (choices, field_type) {
            (Some(choices), _) => FieldKind::Choice {
                choices: choices
                    .iter()
                    .map(|c| (c.value.to_string(), c.label.to_owned()))
                    .collect(),
                integer: choices
                    .iter()
                    .any(|c| matches!(c.value, ChoiceValue::Int(_))),
            },
            (None, FieldType::SmallInt) => FieldKind::Integer(Kind::I16),
            (None, FieldType::Int | FieldType::AutoInt) => FieldKind::Integer(Kind::I32),
            (None, FieldType::BigInt | FieldType::AutoBigInt) => FieldKind::Integer(Kind::I64),
            (None, FieldType::Bool) if null => FieldKind::NullBoolean,
            (None, FieldType::Bool) => FieldKind::Boolean,
            (None, FieldType::Float) => FieldKind::Float,
            (None, FieldType::Decimal) => FieldKind::Decimal {
                max_digits: None,
                decimal_places: None,
            },
            (None, FieldType::Date) => FieldKind::Date,
            (None, FieldType::Time) => FieldKind::Time,
            (None, FieldType::DateTime) => FieldKind::DateTime,
            (None, FieldType::Uuid) => FieldKind::Uuid,
            (None, FieldType::Json) => FieldKind::Json,
            // Text, bytes, and any storage added later.
            (None, _) => FieldKind::Text,
        };
        let mut field = FormField::new(name, kind);
        if null {
            field.required = false;
            field.null = true;
        }
        field
    }

    /// The field for a model-field type `T` (what `#[derive(Form)]` uses).
    pub fn for_type<T: estate_orm::FieldValue>(name: &str) -> FormField {
        let mut field = FormField::for_storage(name, T::FIELD_TYPE, T::NULLABLE, T::CHOICES);
        if let Some(max) = T::MAX_LENGTH.filter(|_| T::CHOICES.is_none()) {
            field.max_length = Some(max as usize);
        }
        field
    }

    /// Digits in total, for a decimal field.
    pub fn max_digits(mut self, digits: u32) -> Self {
        if let FieldKind::Decimal { max_digits, .. } = &mut self.kind {
            *max_digits = Some(digits);
        }
        self
    }

    /// Digits after the point, for a decimal field.
    pub fn decimal_places(mut self, places: u32) -> Self {
        if let FieldKind::Decimal { decimal_places, .. } = &mut self.kind {
            *decimal_places = Some(places);
        }
        self
    }

    /// Sets the label.
    pub fn label(mut self, label: &str) -> Self {
        label.clone_into(&mut self.label);
        self
    }

    /// Sets the help text.
    pub fn help_text(mut self, help_text: &str) -> Self {
        help_text.clone_into(&mut self.help_text);
        self
    }

    /// Whether an empty value is an error.
    pub fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }

    /// Sets the widget.
    pub fn widget(mut self, widget: Widget) -> Self {
        self.widget = widget;
        self
    }

    /// Adds an HTML attribute to the control (replacing one of the same
    /// name), for styling or a script: `.attr("class", "wide")`. The value
    /// is escaped when rendered.
    ///
    /// # Panics
    /// If `name` is not a plain attribute name (ASCII letters, digits,
    /// `-`, `_`, `:`, starting with a letter), or is one the widget sets
    /// itself (`name`, `id`, `type`, `value`): a programming error.
    #[must_use]
    pub fn attr(mut self, name: &str, value: &str) -> Self {
        assert!(
            is_attribute_name(name),
            "FormField::attr({name:?}) on `{}`: an attribute name is ASCII letters, digits, `-`, \
             `_` or `:`, starting with a letter",
            self.name
        );
        assert!(
            !matches!(
                name.to_ascii_lowercase().as_str(),
                "name"
                    | "id"
                    | "type"
                    | "value"
                    | "required"
                    | "disabled"
                    | "maxlength"
                    | "minlength"
                    | "multiple"
                    | "aria-describedby"
                    | "aria-invalid"
            ),
            "FormField::attr({name:?}) on `{}`: the widget sets `{name}` itself; use the \
             field's own option (.required(), .disabled(), .max_length(), ...)",
            self.name
        );
        self.attrs
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self.attrs.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Longest text, in characters.
    pub fn max_length(mut self, max_length: usize) -> Self {
        self.max_length = Some(max_length);
        self
    }

    /// Shortest text, in characters.
    pub fn min_length(mut self, min_length: usize) -> Self {
        self.min_length = Some(min_length);
        self
    }

    /// Smallest number allowed.
    pub fn min_value(mut self, min: f64) -> Self {
        self.min_value = Some(min);
        self
    }

    /// Largest number allowed.
    pub fn max_value(mut self, max: f64) -> Self {
        self.max_value = Some(max);
        self
    }

    /// Shown but not editable.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }

    /// The value an unbound form shows.
    pub fn initial(mut self, value: Value) -> Self {
        self.initial = Some(value);
        self
    }

    /// Changes what the field accepts (and its widget, to the kind's own).
    pub fn kind(mut self, kind: FieldKind) -> Self {
        self.widget = Widget::for_kind(&kind);
        self.kind = kind;
        self
    }

    /// Adds a check on the cleaned value.
    pub fn validator(
        mut self,
        check: impl Fn(&Value) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.validators.push(Arc::new(check));
        self
    }

    /// Adds a check on the typed value (`&String`, `&i32`, `&UploadedFile`...),
    /// run with the field's other checks (what `#[form(validator = ..)]`
    /// uses).
    pub fn check<T: super::FormValue + 'static>(
        mut self,
        check: impl Fn(&T) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.checks.push(Arc::new(move |input: &super::FormInput| {
            // An empty optional value has nothing to check.
            match T::from_input(input.clone()) {
                Ok(value) => check(&value),
                Err(_) => Ok(()),
            }
        }));
        self
    }

    /// The storage kind of this field's values (for typed NULLs).
    fn value_kind(&self) -> Kind {
        match &self.kind {
            FieldKind::Integer(kind) => *kind,
            FieldKind::ModelChoice { key, .. } | FieldKind::ModelMultipleChoice { key, .. } => *key,
            FieldKind::Choice { integer: true, .. } => Kind::I32,
            FieldKind::Float => Kind::F64,
            FieldKind::Decimal { .. } => Kind::Decimal,
            FieldKind::Boolean | FieldKind::NullBoolean => Kind::Bool,
            FieldKind::Date => Kind::Date,
            FieldKind::Time => Kind::Time,
            FieldKind::DateTime => Kind::DateTime,
            FieldKind::Uuid => Kind::Uuid,
            FieldKind::Json => Kind::Json,
            _ => Kind::String,
        }
    }

    /// The empty value: NULL for nullable fields, `""` for text, `false` for
    /// a checkbox.
    fn empty_value(&self) -> Value {
        match &self.kind {
            FieldKind::Boolean => Value::Bool(false),
            FieldKind::Text | FieldKind::Email | FieldKind::Url | FieldKind::Slug if !self.null => {
                Value::String(String::new())
            }
            _ => Value::Null(self.value_kind()),
        }
    }

    /// Turns the submitted string (`None`: absent, e.g. an unchecked box)
    /// into a value, or the message to show.
    pub fn clean(&self, raw: Option<&str>) -> Result<Value, String> {
        let raw = raw.unwrap_or("");
        let value = if matches!(self.kind, FieldKind::Boolean) {
            let checked = !matches!(raw, "" | "false" | "False" | "0" | "off");
            if self.required && !checked {
                return Err(REQUIRED.to_owned());
            }
            Value::Bool(checked)
        } else {
            // Django strips surrounding whitespace from text by default,
            // but not from passwords (where spaces count).
            let text = if matches!(self.widget, Widget::PasswordInput) {
                raw
            } else {
                raw.trim()
            };
            if text.is_empty() {
                if self.required {
                    return Err(REQUIRED.to_owned());
                }
                return Ok(self.empty_value());
            }
            self.parse(text)?
        };
        for validator in &self.validators {
            validator(&value)?;
        }
        Ok(value)
    }

    fn parse(&self, text: &str) -> Result<Value, String> {
        let length = text.chars().count();
        if let Some(max) = self.max_length {
            if length > max {
                return Err(format!(
                    "Ensure this value has at most {max} character{} (it has {length}).",
                    plural(max)
                ));
            }
        }
        if let Some(min) = self.min_length {
            if length < min {
                return Err(format!(
                    "Ensure this value has at least {min} character{} (it has {length}).",
                    plural(min)
                ));
            }
        }
        let value = match &self.kind {
            FieldKind::Text => Value::String(text.to_owned()),
            FieldKind::Email => {
                if !valid_email(text) {
                    return Err("Enter a valid email address.".to_owned());
                }
                Value::String(text.to_owned())
            }
            FieldKind::Url => {
                if !valid_url(text) {
                    return Err("Enter a valid URL.".to_owned());
                }
                Value::String(text.to_owned())
            }
            FieldKind::Slug => {
                if !text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err("Enter a valid “slug” consisting of letters, numbers, \
                                underscores or hyphens."
                        .to_owned());
                }
                Value::String(text.to_owned())
            }
            FieldKind::Integer(kind) => {
                let number: i64 = text
                    .parse()
                    .map_err(|_| "Enter a whole number.".to_owned())?;
                self.check_range(number as f64)?;
                let out_of_range = || "Ensure this value fits the field's range.".to_owned();
                match kind {
                    Kind::I16 => Value::I16(i16::try_from(number).map_err(|_| out_of_range())?),
                    Kind::I32 => Value::I32(i32::try_from(number).map_err(|_| out_of_range())?),
                    _ => Value::I64(number),
                }
            }
            FieldKind::Float => {
                let number: f64 = text
                    .parse()
                    .ok()
                    .filter(|n: &f64| n.is_finite())
                    .ok_or_else(|| "Enter a number.".to_owned())?;
                self.check_range(number)?;
                Value::F64(number)
            }
            FieldKind::Decimal {
                max_digits,
                decimal_places,
            } => {
                let number: Decimal = text.parse().map_err(|_| "Enter a number.".to_owned())?;
                check_digits(number, *max_digits, *decimal_places)?;
                if let Ok(as_float) = number.to_string().parse::<f64>() {
                    self.check_range(as_float)?;
                }
                Value::Decimal(number)
            }
            FieldKind::Boolean => Value::Bool(true),
            FieldKind::NullBoolean => match text {
                "true" | "True" | "on" | "1" => Value::Bool(true),
                "false" | "False" | "0" => Value::Bool(false),
                _ => Value::Null(Kind::Bool),
            },
            FieldKind::Date => Value::Date(
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map_err(|_| "Enter a valid date.".to_owned())?,
            ),
            FieldKind::Time => Value::Time(
                NaiveTime::parse_from_str(text, "%H:%M:%S")
                    .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
                    .map_err(|_| "Enter a valid time.".to_owned())?,
            ),
            FieldKind::DateTime => Value::DateTime(
                parse_datetime(text).ok_or_else(|| "Enter a valid date/time.".to_owned())?,
            ),
            FieldKind::Uuid => {
                Value::Uuid(text.parse().map_err(|_| "Enter a valid UUID.".to_owned())?)
            }
            FieldKind::Json => Value::Json(
                serde_json::from_str(text).map_err(|_| "Enter a valid JSON.".to_owned())?,
            ),
            FieldKind::File { .. } => {
                return Err(
                    "No file was submitted. Check the encoding type on the form.".to_owned(),
                );
            }
            FieldKind::ModelChoice { key, choices } => {
                if choices
                    .as_ref()
                    .is_some_and(|c| !c.iter().any(|(value, _)| value == text))
                {
                    return Err(INVALID_MODEL_CHOICE.to_owned());
                }
                parse_key(*key, text).ok_or_else(|| INVALID_MODEL_CHOICE.to_owned())?
            }
            FieldKind::ModelMultipleChoice { .. } => {
                return Err("Enter a list of values.".to_owned());
            }
            FieldKind::Choice { choices, integer } => {
                if !choices.iter().any(|(value, _)| value == text) {
                    return Err(format!(
                        "Select a valid choice. {text} is not one of the available choices."
                    ));
                }
                if *integer {
                    Value::I32(
                        text.parse()
                            .map_err(|_| "Enter a whole number.".to_owned())?,
                    )
                } else {
                    Value::String(text.to_owned())
                }
            }
        };
        Ok(value)
    }

    fn check_range(&self, number: f64) -> Result<(), String> {
        if let Some(max) = self.max_value {
            if number > max {
                return Err(format!(
                    "Ensure this value is less than or equal to {}.",
                    format_number(max)
                ));
            }
        }
        if let Some(min) = self.min_value {
            if number < min {
                return Err(format!(
                    "Ensure this value is greater than or equal to {}.",
                    format_number(min)
                ));
            }
        }
        Ok(())
    }
}

/// Django's message for a key that is not one of the rows.
pub(crate) const INVALID_MODEL_CHOICE: &str =
    "Select a valid choice. That choice is not one of the available choices.";

/// A key typed as text, as a value of its kind.
pub(crate) fn parse_key(kind: Kind, text: &str) -> Option<Value> {
    Some(match kind {
        Kind::I16 => Value::I16(text.parse().ok()?),
        Kind::I32 => Value::I32(text.parse().ok()?),
        Kind::I64 => Value::I64(text.parse().ok()?),
        Kind::Uuid => Value::Uuid(text.parse().ok()?),
        _ => Value::String(text.to_owned()),
    })
}

impl FormField {
    /// Cleans the values of a multiple choice (`get_all` of the field):
    /// each must be one of the rows when they are loaded.
    pub fn clean_many(&self, raw: &[&str]) -> Result<Vec<Value>, String> {
        let FieldKind::ModelMultipleChoice { key, choices } = &self.kind else {
            return Err("Enter a list of values.".to_owned());
        };
        let values: Vec<&str> = raw
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() && self.required {
            return Err(REQUIRED.to_owned());
        }
        values
            .iter()
            .map(|text| {
                let known = choices
                    .as_ref()
                    .is_none_or(|c| c.iter().any(|(value, _)| value == text));
                match parse_key(*key, text).filter(|_| known) {
                    Some(value) => Ok(value),
                    None => Err(format!(
                        "Select a valid choice. {text} is not one of the available choices."
                    )),
                }
            })
            .collect()
    }
}

/// Django's message for an empty required field.
pub(crate) const REQUIRED: &str = "This field is required.";

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn check_digits(
    number: Decimal,
    max_digits: Option<u32>,
    decimal_places: Option<u32>,
) -> Result<(), String> {
    let normalized = number.normalize();
    let places = normalized.scale();
    let digits_text = normalized.abs().to_string().replace('.', "");
    let digits = digits_text.trim_start_matches('0').len().max(1) as u32;
    let whole = digits.saturating_sub(places);
    if let Some(max) = max_digits {
        if digits > max {
            return Err(format!(
                "Ensure that there are no more than {max} digit{} in total.",
                plural(max as usize)
            ));
        }
    }
    if let Some(max) = decimal_places {
        if places > max {
            return Err(format!(
                "Ensure that there are no more than {max} decimal place{}.",
                plural(max as usize)
            ));
        }
    }
    if let (Some(digits_max), Some(places_max)) = (max_digits, decimal_places) {
        let whole_max = digits_max.saturating_sub(places_max);
        if whole > whole_max {
            return Err(format!(
                "Ensure that there are no more than {whole_max} digit{} before the decimal point.",
                plural(whole_max as usize)
            ));
        }
    }
    Ok(())
}

/// `2024-05-01T10:30[:00]` (a `datetime-local` input, taken as UTC), with a
/// space instead of `T`, or RFC 3339 with an offset.
fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(moment) = DateTime::parse_from_rfc3339(text) {
        return Some(moment.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .map(|naive| naive.and_utc())
}

/// Django's rules: a dot-atom local part (letters, digits and
/// ``!#$%&'*+/=?^_`{|}~-``, dots between), `@`, and a domain of
/// dot-separated labels. No spaces or control characters anywhere (a
/// newline in an address is a mail-header injection).
pub(crate) fn valid_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    const SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";
    text.len() <= 320
        && local.len() <= 64
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(c))
        })
        && valid_domain(domain)
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// `http://` or `https://`, a host (a domain, `localhost`, or an IP), an
/// optional port, then anything without spaces.
pub(crate) fn valid_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
    else {
        return false;
    };
    if text.contains(char::is_whitespace) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        // An IPv6 literal: `[::1]` or `[::1]:8080`.
        let Some((address, rest)) = bracketed.split_once(']') else {
            return false;
        };
        if address.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match rest.strip_prefix(':') {
            Some(port) => ("[v6]", Some(port)),
            None if rest.is_empty() => ("[v6]", None),
            None => return false,
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return false;
    }
    host == "localhost"
        || host == "[v6]"
        || host.parse::<std::net::Ipv4Addr>().is_ok()
        || valid_domain(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn django_messages_for_bad_input() {
        let name = FormField::text("name").max_length(3);
        assert_eq!(name.clean(Some("  ab ")), Ok(Value::String("ab".into())));
        assert_eq!(
            name.clean(Some("abcd")).unwrap_err(),
            "Ensure this value has at most 3 characters (it has 4)."
        );
        assert_eq!(name.clean(Some(" ")).unwrap_err(), REQUIRED);
        let age = FormField::integer("age").min_value(0.0).max_value(150.0);
        assert_eq!(age.clean(Some("x")).unwrap_err(), "Enter a whole number.");
        assert_eq!(
            age.clean(Some("151")).unwrap_err(),
            "Ensure this value is less than or equal to 150."
        );
        assert_eq!(age.clean(Some("42")), Ok(Value::I64(42)));
        let price = FormField::new(
            "price",
            FieldKind::Decimal {
                max_digits: Some(5),
                decimal_places: Some(2),
            },
        );
        assert!(price.clean(Some("123.45")).is_ok());
        assert!(
            price
                .clean(Some("1.234"))
                .unwrap_err()
                .contains("2 decimal places")
        );
        assert!(
            price
                .clean(Some("1234.5"))
                .unwrap_err()
                .contains("3 digits before")
        );
        let email = FormField::email("email");
        assert!(email.clean(Some("a@example.com")).is_ok());
        for bad in [
            "a",
            "a@b",
            "a b@example.com",
            "@example.com",
            "a@-x.com",
            "a\r\nBcc:x\r\n@example.com",
            "a..b@example.com",
            "(x)@example.com",
        ] {
            assert_eq!(
                email.clean(Some(bad)).unwrap_err(),
                "Enter a valid email address."
            );
        }
        assert!(valid_url("https://example.com:8080/a?b#c"));
        assert!(valid_url("http://localhost/"));
        assert!(valid_url("http://[::1]/"));
        assert!(valid_url("http://[2001:db8::1]:8080/x"));
        assert!(!valid_url("http://[nope]/"));
        assert!(!valid_url("http://example.com:99999/"));
        assert!(!valid_url("javascript:alert(1)"));
        assert!(!valid_url("https://exa mple.com"));
        let kind = FormField::choice("kind", &[("a", "A"), ("b", "B")]);
        assert_eq!(
            kind.clean(Some("c")).unwrap_err(),
            "Select a valid choice. c is not one of the available choices."
        );
        let when = FormField::new("when", FieldKind::DateTime);
        assert_eq!(
            when.clean(Some("2024-05-01T10:30")),
            Ok(Value::DateTime(
                NaiveDate::from_ymd_opt(2024, 5, 1)
                    .unwrap()
                    .and_hms_opt(10, 30, 0)
                    .unwrap()
                    .and_utc()
            ))
        );
        let optional = FormField::for_storage("n", FieldType::Int, true, None);
        assert_eq!(optional.clean(Some("")), Ok(Value::Null(Kind::I32)));
        let agree = FormField::boolean("agree");
        assert_eq!(agree.clean(None), Ok(Value::Bool(false)));
        assert_eq!(agree.required(true).clean(None).unwrap_err(), REQUIRED);
    }
}
