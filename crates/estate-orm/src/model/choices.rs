//! Rust enums as choices: `#[derive(Choices)]` stores each variant as a
//! short string (or an integer) and gives it a label for forms and the
//! admin, like Django's `TextChoices` / `IntegerChoices`.
//!
//! ```text
//! #[derive(Choices, Clone, Copy, Debug, PartialEq)]
//! enum Status {
//!     Draft,                                   // stored "draft", label "Draft"
//!     #[choice(value = "pub", label = "Published")]
//!     Published,
//! }
//! ```
//!
//! A value in the database that is not a variant is a decode error naming
//! the enum and the value.

/// One allowed value of a choices field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    /// What is stored.
    pub value: ChoiceValue,
    /// What people see.
    pub label: &'static str,
    /// The Rust variant's name.
    pub name: &'static str,
}

/// A stored choice value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChoiceValue {
    /// Stored as text.
    Text(&'static str),
    /// Stored as an integer.
    Int(i32),
}

impl std::fmt::Display for ChoiceValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChoiceValue::Text(text) => f.write_str(text),
            ChoiceValue::Int(number) => number.fmt(f),
        }
    }
}

/// An enum whose variants are a field's allowed values. Derive it with
/// `#[derive(Choices)]`, which also makes the enum a model field type.
pub trait Choices: Sized + Copy + 'static {
    /// Every variant, in declaration order.
    const CHOICES: &'static [Choice];

    /// This variant's label.
    fn label(&self) -> &'static str;

    /// This variant's stored value.
    fn value(&self) -> ChoiceValue;

    /// The variant stored as `value`, if any.
    fn from_value(value: ChoiceValue) -> Option<Self>;
}

/// The error for a stored value that is not a variant (used by the derive).
#[doc(hidden)]
pub fn unknown_choice(
    enum_name: &str,
    found: &dyn std::fmt::Display,
    choices: &[Choice],
) -> crate::DbError {
    let expected: Vec<String> = choices.iter().map(|c| c.value.to_string()).collect();
    crate::DbError::new(
        crate::ErrorKind::Decode,
        format!(
            "`{found}` is not a {enum_name} choice (expected one of: {})",
            expected.join(", ")
        ),
    )
}
