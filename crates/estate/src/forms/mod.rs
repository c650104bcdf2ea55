//! Forms: Django's `Form` and `ModelForm`, typed.
//!
//! ```
//! use estate::forms::{Form, FormData};
//!
//! #[derive(Form)]
//! struct ContactForm {
//!     #[form(max_length = 100)]
//!     subject: String,
//!     #[form(widget = "textarea")]
//!     message: String,
//!     #[form(email, label = "Your email")]
//!     sender: String,
//!     cc_myself: bool,
//! }
//!
//! let mut form = ContactForm::bind(FormData::new().with("subject", "Hi").with("sender", "nope"));
//! assert!(form.validate().is_none());
//! assert_eq!(form.errors().get("sender"), ["Enter a valid email address."]);
//! assert_eq!(form.errors().get("message"), ["This field is required."]);
//! ```
//!
//! A form in a template context renders itself: `{{ form }}` lays every
//! field out with the overridable template `estate/forms/div.html` (label,
//! help text, errors, control with `required`, `maxlength`, `aria-invalid`
//! and `aria-describedby`), and `{{ form.subject }}`,
//! `{{ form.subject.label_tag }}`, `{{ form.subject.errors }}` lay it out by
//! hand. Submitted values are shown again after an error (passwords
//! excepted). See the guide `docs/forms.md`.

pub(crate) mod bound;
mod data;
mod field;
mod formset;
mod media;
mod model_form;
mod upload;
mod widget;

use std::marker::PhantomData;

pub use bound::{CleanedData, FormErrors};
pub use data::FormData;
pub use estate_macros::Form;
pub use field::{FieldKind, FormField, Validator};
pub use formset::{FormSet, FormSetData};
pub use media::MediaStorage;
pub use model_form::ModelForm;
pub use upload::UploadedFile;
pub use widget::Widget;

use bound::FormState;
pub(crate) use bound::{FORM_TEMPLATE, FieldObject, FormObject};
use estate_orm::Value;

/// A cleaned input: a value, or for a file field the file (if one was sent).
#[derive(Clone, Debug)]
pub enum FormInput {
    /// A field's value.
    Value(Value),
    /// A file field's upload.
    File(Option<UploadedFile>),
}

/// A type a `#[derive(Form)]` field can have: `bool`, `i16`/`i32`/`i64`,
/// `f64`, `String`, `Decimal`, `NaiveDate`, `NaiveTime`, `DateTime<Utc>`,
/// `Uuid`, `serde_json::Value`, `#[derive(Choices)]` enums,
/// [`UploadedFile`], and `Option` of any of them.
pub trait FormValue: Sized {
    /// The form field for this type.
    fn form_field(name: &str) -> FormField;

    /// The typed value from a cleaned input.
    ///
    /// # Errors
    /// An input of the wrong kind, as the message to show.
    fn from_input(input: FormInput) -> Result<Self, String>;

    /// The value an edit form shows (`None` for files).
    fn initial_value(&self) -> Option<Value>;
}

/// The value of a model-field type from a cleaned input (what the
/// [`FormValue`] impls of `#[derive(Choices)]` enums call).
///
/// # Errors
/// A file where a value was expected, or a value of the wrong kind.
pub fn from_value_input<T: estate_orm::FieldValue>(input: FormInput) -> Result<T, String> {
    match input {
        FormInput::Value(value) => T::from_value(value),
        FormInput::File(_) => Err("expected a value, got a file".to_owned()),
    }
}

/// `FormValue` for model-field types: the field from their metadata.
macro_rules! field_value_form_values {
    ($($ty:ty),* $(,)?) => {$(
        impl FormValue for $ty {
            fn form_field(name: &str) -> FormField {
                FormField::for_type::<$ty>(name)
            }

            fn from_input(input: FormInput) -> Result<Self, String> {
                from_value_input(input)
            }

            fn initial_value(&self) -> Option<Value> {
                Some(estate_orm::FieldValue::to_value(self))
            }
        }
    )*};
}

field_value_form_values!(
    bool,
    i16,
    i32,
    i64,
    f64,
    String,
    estate_orm::rust_decimal::Decimal,
    estate_orm::chrono::NaiveDate,
    estate_orm::chrono::NaiveTime,
    estate_orm::chrono::DateTime<estate_orm::chrono::Utc>,
    estate_orm::uuid::Uuid,
    serde_json::Value,
);

impl<T: FormValue> FormValue for Option<T> {
    /// The inner type's field, optional: empty is `None`.
    fn form_field(name: &str) -> FormField {
        let mut field = T::form_field(name);
        field.required = false;
        field.null = true;
        field
    }

    fn from_input(input: FormInput) -> Result<Self, String> {
        match input {
            FormInput::Value(Value::Null(_)) | FormInput::File(None) => Ok(None),
            input => T::from_input(input).map(Some),
        }
    }

    fn initial_value(&self) -> Option<Value> {
        self.as_ref().and_then(T::initial_value)
    }
}

impl FormValue for UploadedFile {
    fn form_field(name: &str) -> FormField {
        FormField::file(name)
    }

    fn from_input(input: FormInput) -> Result<Self, String> {
        match input {
            FormInput::File(Some(file)) => Ok(file),
            _ => Err(field::REQUIRED.to_owned()),
        }
    }

    fn initial_value(&self) -> Option<Value> {
        None
    }
}

/// A form: its fields, and how its cleaned values become `Self`. Derive it
/// with `#[derive(Form)]`.
pub trait Form: Sized {
    /// The fields, in display order.
    fn fields() -> Vec<FormField>;

    /// The typed value from cleaned data (every field already valid).
    ///
    /// # Errors
    /// A value that does not convert, or a failing field validator.
    fn from_cleaned(cleaned: CleanedData) -> Result<Self, FormErrors>;

    /// The values of `self` by field name, to edit them in a form.
    fn to_initial(&self) -> Vec<(String, Value)>;

    /// Validation across fields, once each field is valid (Django's
    /// `clean()`); `#[form(clean = "...")]` sets it.
    ///
    /// # Errors
    /// The messages to show, per field or for the whole form.
    fn clean(&self) -> Result<(), FormErrors> {
        Ok(())
    }

    /// The empty form (a GET request).
    fn unbound() -> BoundForm<Self> {
        BoundForm::new(None)
    }

    /// The form with submitted data (a POST request).
    fn bind(data: FormData) -> BoundForm<Self> {
        BoundForm::new(Some(data))
    }

    /// An unbound form showing `self`'s values (to edit them).
    fn edit(&self) -> BoundForm<Self> {
        let mut form = BoundForm::new(None);
        form.state.initial = self.to_initial().into_iter().collect();
        form
    }
}

/// A form with (or without) submitted data. Put it in a template context
/// to render it; call [`validate`](Self::validate) to get the typed value.
pub struct BoundForm<F> {
    pub(crate) state: FormState,
    form: PhantomData<fn() -> F>,
}

impl<F> std::fmt::Debug for BoundForm<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundForm")
            .field("form", &std::any::type_name::<F>())
            .field("bound", &self.state.data.is_some())
            .field("errors", &self.state.errors)
            .finish_non_exhaustive()
    }
}

impl<F: Form> BoundForm<F> {
    fn new(data: Option<FormData>) -> Self {
        BoundForm {
            state: FormState::new(F::fields(), data),
            form: PhantomData,
        }
    }

    /// Validates the data: the typed value, or `None` with the errors kept
    /// for re-rendering. An unbound form is never valid.
    pub fn validate(&mut self) -> Option<F> {
        let cleaned = self.state.full_clean()?;
        let value = match F::from_cleaned(cleaned) {
            Ok(value) => value,
            Err(errors) => {
                self.state.errors.extend(errors);
                return None;
            }
        };
        if let Err(errors) = value.clean() {
            self.state.errors.extend(errors);
            return None;
        }
        Some(value)
    }
}

impl<F> BoundForm<F> {
    /// Names every field `prefix-name` (several forms on one page).
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.state.prefix = Some(prefix.to_owned());
        self
    }

    /// Sets the value an unbound form shows for `field`.
    pub fn initial(mut self, field: &str, value: impl estate_orm::IntoValue) -> Self {
        self.state
            .initial
            .insert(field.to_owned(), value.into_value());
        self
    }

    /// Whether data was submitted.
    pub fn is_bound(&self) -> bool {
        self.state.data.is_some()
    }

    /// The errors found by the last validation.
    pub fn errors(&self) -> &FormErrors {
        &self.state.errors
    }

    /// Adds an error found later (say, by the database), for re-rendering.
    pub fn add_error(&mut self, field: Option<&str>, message: impl Into<String>) {
        self.state.errors.add(field, message);
    }

    /// The fields (to adjust one at run time, see [`field_mut`](Self::field_mut)).
    pub fn fields(&self) -> &[FormField] {
        &self.state.fields
    }

    /// A field to adjust at run time (choices from the database, a label).
    pub fn field_mut(&mut self, name: &str) -> Option<&mut FormField> {
        self.state.fields.iter_mut().find(|f| f.name == name)
    }
}

impl<F> serde::Serialize for BoundForm<F> {
    /// In a template context, the form object (`{{ form }}`); elsewhere its
    /// fields.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        minijinja::Value::from_object(FormObject(self.state.view())).serialize(serializer)
    }
}

impl<F> From<BoundForm<F>> for minijinja::Value {
    /// The form object templates render (`context! { form }`).
    fn from(form: BoundForm<F>) -> Self {
        minijinja::Value::from_object(FormObject(form.state.view()))
    }
}

/// How templates print forms and fields: `{{ form }}` renders the layout
/// template, `{{ form.field }}` the control. `None` for any other value.
pub(crate) fn render_in_template(
    state: &minijinja::State<'_, '_>,
    value: &minijinja::Value,
) -> Option<Result<String, minijinja::Error>> {
    if value.downcast_object_ref::<FormObject>().is_some() {
        return Some(render_form(state.env(), value));
    }
    if let Some(errors) = value.downcast_object_ref::<bound::ErrorList>() {
        return Some(Ok(errors.html()));
    }
    if let Some(formset) = value.downcast_object_ref::<formset::FormSetObject>() {
        return Some(formset.render(state.env()));
    }
    value
        .downcast_object_ref::<FieldObject>()
        .map(|field| Ok(field.widget_html().to_owned()))
}

/// The form layout template rendered for `form`.
pub(crate) fn render_form(
    env: &minijinja::Environment<'_>,
    form: &minijinja::Value,
) -> Result<String, minijinja::Error> {
    env.get_template(FORM_TEMPLATE)?
        .render(minijinja::context! { form => form.clone() })
}
