//! A form with its data: validation, errors per field and for the whole
//! form, and what templates see (`{{ form }}`, `{{ form.subject }}`,
//! `{{ form.subject.errors }}`...).

use std::collections::HashMap;
use std::sync::Arc;

use estate_orm::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr};

use super::FormInput;
use super::data::FormData;
use super::field::{FieldKind, FormField};
use super::upload::UploadedFile;
use super::widget::{Widget, WidgetContext};
use crate::templates::escape_html as escape;

/// Errors of a form: messages per field, and for the form as a whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FormErrors {
    fields: Vec<(String, Vec<String>)>,
    non_field: Vec<String>,
}

impl FormErrors {
    /// No errors.
    pub fn new() -> FormErrors {
        FormErrors::default()
    }

    /// One error about `field`.
    pub fn field(field: &str, message: impl Into<String>) -> FormErrors {
        let mut errors = FormErrors::new();
        errors.add(Some(field), message);
        errors
    }

    /// One error about the form as a whole (Django's `non_field_errors`).
    pub fn non_field(message: impl Into<String>) -> FormErrors {
        let mut errors = FormErrors::new();
        errors.add(None, message);
        errors
    }

    /// Adds a message about `field`, or about the whole form with `None`.
    pub fn add(&mut self, field: Option<&str>, message: impl Into<String>) {
        let message = message.into();
        match field {
            None => self.non_field.push(message),
            Some(name) => match self.fields.iter_mut().find(|(n, _)| n == name) {
                Some((_, messages)) => messages.push(message),
                None => self.fields.push((name.to_owned(), vec![message])),
            },
        }
    }

    /// Adds every error of `other`.
    pub fn extend(&mut self, other: FormErrors) {
        for (field, messages) in other.fields {
            for message in messages {
                self.add(Some(&field), message);
            }
        }
        self.non_field.extend(other.non_field);
    }

    /// The messages about `field`.
    pub fn get(&self, field: &str) -> &[String] {
        self.fields
            .iter()
            .find(|(n, _)| n == field)
            .map_or(&[], |(_, m)| m.as_slice())
    }

    /// The messages about the whole form.
    pub fn non_field_errors(&self) -> &[String] {
        &self.non_field
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.non_field.is_empty()
    }

    /// Every field with errors, in the order they were found.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.fields.iter().map(|(n, m)| (n.as_str(), m.as_slice()))
    }
}

impl std::fmt::Display for FormErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for message in &self.non_field {
            write!(f, "{}{message}", if first { "" } else { "; " })?;
            first = false;
        }
        for (field, messages) in &self.fields {
            for message in messages {
                write!(f, "{}{field}: {message}", if first { "" } else { "; " })?;
                first = false;
            }
        }
        Ok(())
    }
}

impl std::error::Error for FormErrors {}

/// The cleaned values of a valid form, by field name; `#[derive(Form)]`
/// takes typed values out of it.
#[derive(Debug, Default)]
pub struct CleanedData {
    values: Vec<(String, Value)>,
    files: Vec<(String, Option<UploadedFile>)>,
    many: Vec<(String, Vec<Value>)>,
}

impl CleanedData {
    /// The cleaned values of a multiple choice `name`, moved out.
    pub fn take_many(&mut self, name: &str) -> Option<Vec<Value>> {
        let index = self.many.iter().position(|(n, _)| n == name)?;
        Some(self.many.swap_remove(index).1)
    }

    /// The cleaned input of `name` (a value or a file), moved out.
    pub fn take_input(&mut self, name: &str) -> Option<FormInput> {
        if let Some(index) = self.files.iter().position(|(n, _)| n == name) {
            return Some(FormInput::File(self.files.swap_remove(index).1));
        }
        self.take(name).map(FormInput::Value)
    }

    /// The cleaned value of `name`, moved out.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        let index = self.values.iter().position(|(n, _)| n == name)?;
        Some(self.values.swap_remove(index).1)
    }

    /// The cleaned value of `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Every (name, value), in field order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(n, v)| (n.as_str(), v))
    }
}

/// The state every bound form shares (plain forms, ModelForms, formsets'
/// forms): fields, submitted data, initial values, prefix and errors.
#[derive(Clone, Debug)]
pub(crate) struct FormState {
    pub(crate) fields: Vec<FormField>,
    pub(crate) data: Option<FormData>,
    pub(crate) initial: HashMap<String, Value>,
    pub(crate) prefix: Option<String>,
    pub(crate) errors: FormErrors,
}

impl FormState {
    pub(crate) fn new(fields: Vec<FormField>, data: Option<FormData>) -> FormState {
        FormState {
            fields,
            data,
            initial: HashMap::new(),
            prefix: None,
            errors: FormErrors::new(),
        }
    }

    /// `name`, or `prefix-name` in a formset.
    pub(crate) fn html_name(&self, name: &str) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}-{name}"),
            None => name.to_owned(),
        }
    }

    /// Cleans every field; `None` (with the errors recorded) if any fails.
    pub(crate) fn full_clean(&mut self) -> Option<CleanedData> {
        self.errors = FormErrors::new();
        let data = self.data.as_ref()?;
        let mut values = Vec::with_capacity(self.fields.len());
        let mut files = Vec::new();
        let mut many = Vec::new();
        for field in &self.fields {
            if matches!(field.kind, FieldKind::ModelMultipleChoice { .. }) {
                // A disabled field is not editable: whatever is posted is
                // ignored (its links stay as they are).
                if field.disabled {
                    continue;
                }
                let html_name = self.html_name(&field.name);
                match field.clean_many(&data.get_all(&html_name)) {
                    Ok(values) => many.push((field.name.clone(), values)),
                    Err(message) => self.errors.add(Some(&field.name), message),
                }
                continue;
            }
            if matches!(field.kind, FieldKind::File { .. }) {
                let html_name = self.html_name(&field.name);
                let result = field
                    .clean_file(data.file(&html_name), data.contains(&html_name))
                    .and_then(|file| {
                        run_checks(field, &FormInput::File(file.clone()))?;
                        Ok(file)
                    });
                match result {
                    Ok(file) => files.push((field.name.clone(), file)),
                    Err(message) => self.errors.add(Some(&field.name), message),
                }
                continue;
            }
            let result = if field.disabled {
                // A disabled field keeps its initial value, whatever is posted.
                match self.initial.get(&field.name).or(field.initial.as_ref()) {
                    Some(value) => Ok(value.clone()),
                    None => field.clean(None),
                }
            } else {
                field.clean(data.get(&self.html_name(&field.name)))
            };
            let result = result.and_then(|value| {
                run_checks(field, &FormInput::Value(value.clone()))?;
                Ok(value)
            });
            match result {
                Ok(value) => values.push((field.name.clone(), value)),
                Err(message) => self.errors.add(Some(&field.name), message),
            }
        }
        self.errors.is_empty().then_some(CleanedData {
            values,
            files,
            many,
        })
    }

    /// The text a field shows: what was submitted, else its initial value.
    fn shown_value(&self, field: &FormField) -> Option<String> {
        if let (Some(data), false) = (&self.data, field.disabled) {
            return data.get(&self.html_name(&field.name)).map(str::to_owned);
        }
        self.initial
            .get(&field.name)
            .or(field.initial.as_ref())
            .and_then(value_text)
    }

    /// The chosen keys of a multiple choice: submitted, else initial (a
    /// JSON list of keys).
    fn chosen_many(&self, field: &FormField) -> Vec<String> {
        if !matches!(field.kind, FieldKind::ModelMultipleChoice { .. }) {
            return Vec::new();
        }
        if let (Some(data), false) = (&self.data, field.disabled) {
            return data
                .get_all(&self.html_name(&field.name))
                .into_iter()
                .map(str::to_owned)
                .collect();
        }
        match self.initial.get(&field.name).or(field.initial.as_ref()) {
            Some(Value::Json(serde_json::Value::Array(keys))) => keys
                .iter()
                .map(|k| match k {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// What templates see.
    pub(crate) fn view(&self) -> FormView {
        let fields: Vec<Arc<FieldView>> = self
            .fields
            .iter()
            .map(|field| {
                let html_name = self.html_name(&field.name);
                let auto_id = format!("id_{html_name}");
                let errors = self.errors.get(&field.name).to_vec();
                let mut described_by = Vec::new();
                if !field.help_text.is_empty() {
                    described_by.push(format!("{auto_id}_helptext"));
                }
                if !errors.is_empty() {
                    described_by.push(format!("{auto_id}_error"));
                }
                let value = self.shown_value(field);
                // A yes/no/unknown select shows `true`/`false`.
                let value = if matches!(field.kind, FieldKind::NullBoolean) {
                    null_boolean_choice(self, field, value)
                } else {
                    value
                };
                let chosen = self.chosen_many(field);
                let widget = WidgetContext {
                    widget: &field.widget,
                    kind: &field.kind,
                    html_name: &html_name,
                    id: &auto_id,
                    value: value.as_deref(),
                    required: field.required,
                    disabled: field.disabled,
                    max_length: field.max_length,
                    min_length: field.min_length,
                    described_by,
                    invalid: !errors.is_empty(),
                    chosen: &chosen,
                    attrs: &field.attrs,
                }
                .render();
                Arc::new(FieldView {
                    name: field.name.clone(),
                    html_name,
                    label: field.label.clone(),
                    help_text: field.help_text.clone(),
                    required: field.required,
                    hidden: field.widget.is_hidden(),
                    // Radio buttons are labelled one by one; the group's
                    // label points at the first.
                    label_for: if matches!(field.widget, Widget::RadioSelect) {
                        format!("{auto_id}_0")
                    } else {
                        auto_id.clone()
                    },
                    auto_id,
                    errors,
                    value,
                    widget,
                    choices: match &field.kind {
                        FieldKind::Choice { choices, .. } => choices.clone(),
                        _ => Vec::new(),
                    },
                })
            })
            .collect();
        // Errors of hidden fields have nowhere else to show (Django's way).
        let mut non_field_errors = self.errors.non_field_errors().to_vec();
        for field in self.fields.iter().filter(|f| f.widget.is_hidden()) {
            for message in self.errors.get(&field.name) {
                non_field_errors.push(format!("(Hidden field {}) {message}", field.name));
            }
        }
        FormView {
            is_multipart: self
                .fields
                .iter()
                .any(|f| matches!(f.kind, FieldKind::File { .. })),
            fields,
            non_field_errors,
            is_bound: self.data.is_some(),
        }
    }
}

/// The option a yes/no/unknown select shows: `true`, `false` or none.
fn null_boolean_choice(
    state: &FormState,
    field: &FormField,
    shown: Option<String>,
) -> Option<String> {
    if state.data.is_some() {
        return shown;
    }
    match state.initial.get(&field.name).or(field.initial.as_ref()) {
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

/// A field's typed checks (`FormField::check`), first failure wins.
fn run_checks(field: &FormField, input: &FormInput) -> Result<(), String> {
    field.checks.iter().try_for_each(|check| check(input))
}

/// A value as a control shows it: dates as `YYYY-MM-DD`, moments as
/// `YYYY-MM-DDTHH:MM` (what `datetime-local` takes), booleans as `on`.
pub(crate) fn value_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null(_) => return None,
        Value::Bool(b) => return b.then(|| "on".to_owned()),
        Value::I16(n) => n.to_string(),
        Value::I32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::F64(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::Decimal(d) => d.to_string(),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::Time(t) => t.format("%H:%M:%S").to_string(),
        Value::DateTime(moment) => moment.format("%Y-%m-%dT%H:%M:%S").to_string(),
        Value::Uuid(u) => u.to_string(),
        Value::Json(document) => document.to_string(),
    })
}

/// One field as templates see it.
#[derive(Debug)]
pub(crate) struct FieldView {
    name: String,
    html_name: String,
    label: String,
    help_text: String,
    required: bool,
    hidden: bool,
    auto_id: String,
    label_for: String,
    errors: Vec<String>,
    value: Option<String>,
    /// The control's HTML, escaped already.
    widget: String,
    choices: Vec<(String, String)>,
}

impl FieldView {
    fn label_tag(&self) -> String {
        format!(
            "<label for=\"{}\">{}:</label>",
            escape(&self.label_for),
            escape(&self.label)
        )
    }
}

/// A form as templates see it.
#[derive(Debug)]
pub(crate) struct FormView {
    /// Whether the form has a file field (needs `enctype="multipart/form-data"`).
    is_multipart: bool,
    fields: Vec<Arc<FieldView>>,
    non_field_errors: Vec<String>,
    is_bound: bool,
}

/// The template name of the default layout (Django's `div.html`).
pub(crate) const FORM_TEMPLATE: &str = "estate/forms/div.html";

/// `{{ form }}` in a template: renders [`FORM_TEMPLATE`] (overridable like
/// any template); `{{ form.name }}` is a field.
#[derive(Debug)]
pub(crate) struct FormObject(pub(crate) FormView);

impl FormObject {
    fn field_values(&self, hidden: Option<bool>) -> minijinja::Value {
        self.0
            .fields
            .iter()
            .filter(|f| hidden.is_none_or(|h| f.hidden == h))
            .map(|f| minijinja::Value::from_object(FieldObject(f.clone())))
            .collect::<Vec<_>>()
            .into()
    }
}

impl Object for FormObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Iterable
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let key = key.as_str()?;
        Some(match key {
            "fields" => self.field_values(None),
            "visible_fields" => self.field_values(Some(false)),
            "hidden_fields" => self.field_values(Some(true)),
            "non_field_errors" => minijinja::Value::from_object(ErrorList {
                class: "errorlist nonfield",
                id: None,
                messages: self.0.non_field_errors.clone(),
            }),
            "is_bound" => self.0.is_bound.into(),
            "is_multipart" => self.0.is_multipart.into(),
            "errors" => self
                .0
                .fields
                .iter()
                .filter(|f| !f.errors.is_empty())
                .map(|f| (f.name.clone(), f.errors.clone()))
                .collect::<std::collections::BTreeMap<_, _>>()
                .into(),
            name => {
                let field = self.0.fields.iter().find(|f| f.name == name)?;
                minijinja::Value::from_object(FieldObject(field.clone()))
            }
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let fields: Vec<minijinja::Value> = self
            .0
            .fields
            .iter()
            .map(|f| minijinja::Value::from_object(FieldObject(f.clone())))
            .collect();
        Enumerator::Iter(Box::new(fields.into_iter()))
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut minijinja::State<'_, '_>,
        method: &str,
        _args: &[minijinja::Value],
    ) -> Result<minijinja::Value, minijinja::Error> {
        match method {
            "as_div" => Ok(minijinja::Value::from_safe_string(super::render_form(
                state.env(),
                &minijinja::Value::from_dyn_object(self.clone()),
            )?)),
            _ => Err(minijinja::Error::from(minijinja::ErrorKind::UnknownMethod)),
        }
    }
}

/// `{{ form.subject }}`: the control; `.label_tag`, `.errors`,
/// `.help_text`... for laying a field out by hand.
#[derive(Debug)]
pub(crate) struct FieldObject(pub(crate) Arc<FieldView>);

impl FieldObject {
    /// The control's HTML (what `{{ field }}` prints).
    pub(crate) fn widget_html(&self) -> &str {
        &self.0.widget
    }
}

impl Object for FieldObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let field = &self.0;
        Some(match key.as_str()? {
            "name" => field.name.clone().into(),
            "html_name" => field.html_name.clone().into(),
            "label" => field.label.clone().into(),
            "label_tag" => minijinja::Value::from_safe_string(field.label_tag()),
            "help_text" => field.help_text.clone().into(),
            "auto_id" | "id_for_label" => field.auto_id.clone().into(),
            "errors" => minijinja::Value::from_object(ErrorList {
                class: "errorlist",
                id: Some(format!("{}_error", field.auto_id)),
                messages: field.errors.clone(),
            }),
            "value" => field.value.clone().into(),
            "required" => field.required.into(),
            "is_hidden" => field.hidden.into(),
            "widget" => minijinja::Value::from_safe_string(field.widget.clone()),
            "choices" => field
                .choices
                .iter()
                .map(|(v, l)| vec![v.clone(), l.clone()])
                .collect::<Vec<_>>()
                .into(),
            _ => return None,
        })
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.widget)
    }
}

/// A list of error messages: `{{ field.errors }}` prints Django's
/// `<ul class="errorlist">`, and it can be iterated, counted and tested.
#[derive(Debug)]
pub(crate) struct ErrorList {
    class: &'static str,
    id: Option<String>,
    messages: Vec<String>,
}

impl ErrorList {
    /// The `<ul>`, empty when there are no messages.
    pub(crate) fn html(&self) -> String {
        if self.messages.is_empty() {
            return String::new();
        }
        let items: String = self
            .messages
            .iter()
            .map(|m| format!("<li>{}</li>", escape(m)))
            .collect();
        let id = self
            .id
            .as_ref()
            .map(|id| format!(" id=\"{}\"", escape(id)))
            .unwrap_or_default();
        format!("<ul class=\"{}\"{id}>{items}</ul>", self.class)
    }
}

impl Object for ErrorList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let index = key.as_usize()?;
        self.messages
            .get(index)
            .cloned()
            .map(minijinja::Value::from)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.messages.len())
    }
}
