//! Derive macros for Estate. Thin by design: `#[derive(Model)]` parses the
//! struct and its `#[model(...)]` options, then emits a static description
//! (`ModelMeta`) and one `Model` impl whose methods call ordinary library code
//! in `estate-orm`. Type checks that need type information (is `max_length`
//! on a `String`? does a `Decimal` have digits?) are emitted as constant
//! assertions naming the field, so a mistake is a compile error at the field.

mod choices;
mod embed;
mod form;
mod many;
mod model;

use proc_macro::TokenStream;

/// Derives `Model` for a struct: one database table, one column per field.
///
/// Struct options: `#[model(table = "polls_question", ordering = "-pub_date",
/// verbose_name = "question", verbose_name_plural = "questions", crate = "estate_orm")]`,
/// and repeatable `unique_together = "a, b"`, `check = "votes >= 0"`,
/// `index = "a, b"`.
///
/// Field options: `primary_key`, `unique`, `index`, `db_column = "name"`,
/// `max_length = 200` (String → varchar), `max_digits = 10, decimal_places = 2`
/// (Decimal), `default = <expr>`, `verbose_name = ".."`, `help_text = ".."`;
/// on relations `on_delete = Cascade`, `related_name = "choices"`; on a
/// `ManyToMany<T>` field `through = Model, through_fields = "a, b"` or
/// `db_table = ".."`.
/// An `Auto<i64>` field is an auto-incrementing primary key; `Option<T>` is a
/// nullable column.
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    match model::expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// Derives `Choices` for a fieldless enum, making it a model field type:
/// each variant is stored as text (its snake_case name, or
/// `#[choice(value = "pub")]`) or, when every variant has an integer
/// (`#[choice(value = 1)]` or `Low = 1`), as an integer; `#[choice(label =
/// "Published")]` sets what forms and the admin show (default: the variant's
/// name in words). `Display` prints the label.
#[proc_macro_derive(Choices, attributes(choice, choices))]
pub fn derive_choices(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    match choices::expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// Derives `Form` for a struct with named fields: one form field per struct
/// field, its kind from the type (`String` text, integers, `f64`, `Decimal`,
/// `bool` checkbox, dates and times, `Uuid`, a `Choices` enum as a select,
/// `Option<T>` optional).
///
/// Field options: `label = ".."`, `help_text = ".."`, `widget = "textarea"`
/// (text, email, url, number, password, textarea, checkbox, select, radio,
/// date, time, datetime, hidden), `max_length = 100`, `min_length = 2`,
/// `min = 0`, `max = 10`, `max_digits = 5, decimal_places = 2`, `email`,
/// `url`, `slug`, `required` (a checkbox that must be ticked),
/// `initial = <expr>`, `validator = "path::to::fn"` (a `fn(&T) ->
/// Result<(), String>`). Struct option: `#[form(clean = "path::to::fn")]`, a
/// `fn(&Self) -> Result<(), FormErrors>` run once every field is valid.
#[proc_macro_derive(Form, attributes(form))]
pub fn derive_form(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    match form::expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// Embeds every file of a folder of the calling crate as `&[(name, contents)]`
/// (names relative to the folder, with `/`), for templates in one-file
/// deploys: `embed_dir!("templates")`. Files are included with
/// `include_str!`, so editing one rebuilds; adding one needs a rebuild of
/// the crate (`touch src/main.rs`).
#[proc_macro]
pub fn embed_dir(input: TokenStream) -> TokenStream {
    let path = syn::parse_macro_input!(input as syn::LitStr);
    match embed::expand(&path) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}
