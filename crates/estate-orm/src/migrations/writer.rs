//! Writes migrations as Rust source: one file per migration in the app's
//! `migrations/` folder, and a `mod.rs` listing them, so the project binary
//! carries its migrations and a data migration is ordinary Rust next to the
//! schema steps.

use super::graph::Migration;
use super::operation::Operation;
use super::state::{ConstraintState, FieldState, IndexState, ModelState};
use crate::model::{FieldType, OnDelete};
use crate::value::Value;

fn string(text: &str) -> String {
    format!("{text:?}")
}

fn field_type(field_type: FieldType) -> String {
    format!("FieldType::{field_type:?}")
}

fn on_delete(rule: OnDelete) -> String {
    format!("OnDelete::{rule:?}")
}

/// A field as builder calls, defaults left out.
fn field(field: &FieldState) -> String {
    let mut out = if field.primary_key && field.field_type == FieldType::AutoBigInt {
        format!("FieldState::auto({})", string(&field.name))
    } else {
        format!(
            "FieldState::new({}, {})",
            string(&field.name),
            field_type(field.field_type)
        )
    };
    if field.column != field.name {
        out.push_str(&format!(".column({})", string(&field.column)));
    }
    let auto_key = field.primary_key && field.field_type == FieldType::AutoBigInt;
    if field.primary_key && !auto_key {
        out.push_str(".primary_key()");
    }
    if field.null {
        out.push_str(".null()");
    }
    if field.unique && !field.primary_key {
        out.push_str(".unique()");
    }
    if let Some(n) = field.max_length {
        out.push_str(&format!(".max_length({n})"));
    }
    if let (Some(digits), Some(places)) = (field.max_digits, field.decimal_places) {
        out.push_str(&format!(".digits({digits}, {places})"));
    }
    if let Some(relation) = &field.relation {
        out.push_str(&format!(
            ".references(ModelKey::new({}, {}), {})",
            string(&relation.to.app),
            string(&relation.to.name),
            on_delete(relation.on_delete)
        ));
        if !field.index {
            out.push_str(".no_index()");
        }
    } else if field.index {
        out.push_str(".index()");
    }
    out
}

fn model(model: &ModelState, indent: &str) -> String {
    let mut out = format!(
        "ModelState::new({}, {}, {})",
        string(&model.app),
        string(&model.name),
        string(&model.table)
    );
    for f in &model.fields {
        out.push_str(&format!("\n{indent}    .field({})", field(f)));
    }
    for constraint in &model.constraints {
        out.push_str(&format!(
            "\n{indent}    .constraint({})",
            constraint_source(constraint)
        ));
    }
    for index in &model.indexes {
        out.push_str(&format!("\n{indent}    .index({})", index_source(index)));
    }
    out
}

fn names(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| format!("{}.into()", string(f)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn constraint_source(constraint: &ConstraintState) -> String {
    match constraint {
        ConstraintState::Unique { name, fields } => format!(
            "ConstraintState::Unique {{ name: {}.into(), fields: vec![{}] }}",
            string(name),
            names(fields)
        ),
        ConstraintState::Check { name, sql } => format!(
            "ConstraintState::Check {{ name: {}.into(), sql: {}.into() }}",
            string(name),
            string(sql)
        ),
    }
}

fn index_source(index: &IndexState) -> String {
    format!(
        "IndexState {{ name: {}.into(), fields: vec![{}] }}",
        string(&index.name),
        names(&index.fields)
    )
}

/// A value as a Rust expression.
pub fn value(value: &Value) -> String {
    match value {
        Value::Null(kind) => format!("Value::Null(Kind::{kind:?})"),
        Value::Bool(v) => format!("Value::Bool({v})"),
        Value::I16(v) => format!("Value::I16({v})"),
        Value::I32(v) => format!("Value::I32({v})"),
        Value::I64(v) => format!("Value::I64({v})"),
        Value::F64(v) => format!("Value::F64({v:?})"),
        Value::String(v) => format!("Value::String({}.into())", string(v)),
        Value::Bytes(v) => format!("Value::Bytes(vec!{v:?})"),
        Value::Decimal(v) => format!(
            "Value::Decimal({}.parse().unwrap())",
            string(&v.to_string())
        ),
        Value::Date(v) => format!("Value::Date({}.parse().unwrap())", string(&v.to_string())),
        Value::Time(v) => format!("Value::Time({}.parse().unwrap())", string(&v.to_string())),
        Value::DateTime(v) => format!(
            "Value::DateTime({}.parse().unwrap())",
            string(&v.to_rfc3339())
        ),
        Value::Uuid(v) => format!("Value::Uuid({}.parse().unwrap())", string(&v.to_string())),
        Value::Json(v) => format!(
            "Value::Json(serde_json::from_str({}).unwrap())",
            string(&v.to_string())
        ),
    }
}

fn optional_value(fill: &Option<Value>) -> String {
    match fill {
        Some(v) => format!("Some({})", value(v)),
        None => "None".to_owned(),
    }
}

fn operation(operation: &Operation) -> String {
    let indent = "            ";
    match operation {
        Operation::CreateModel(m) => format!(
            "Operation::CreateModel(\n{indent}{},\n        )",
            model(m, indent)
        ),
        Operation::DeleteModel { app, name } => format!(
            "Operation::DeleteModel {{ app: {}.into(), name: {}.into() }}",
            string(app),
            string(name)
        ),
        Operation::AddField {
            app,
            model,
            field: f,
            fill,
        } => format!(
            "Operation::AddField {{\n{indent}app: {}.into(),\n{indent}model: {}.into(),\n{indent}field: {},\n{indent}fill: {},\n        }}",
            string(app),
            string(model),
            field(f),
            optional_value(fill)
        ),
        Operation::RemoveField {
            app,
            model,
            name,
            fill,
        } => format!(
            "Operation::RemoveField {{\n{indent}app: {}.into(),\n{indent}model: {}.into(),\n{indent}name: {}.into(),\n{indent}fill: {},\n        }}",
            string(app),
            string(model),
            string(name),
            optional_value(fill)
        ),
        Operation::AlterField {
            app,
            model,
            field: f,
            fill,
        } => format!(
            "Operation::AlterField {{\n{indent}app: {}.into(),\n{indent}model: {}.into(),\n{indent}field: {},\n{indent}fill: {},\n        }}",
            string(app),
            string(model),
            field(f),
            optional_value(fill)
        ),
        Operation::RenameField {
            app,
            model,
            old_name,
            new_name,
        } => format!(
            "Operation::RenameField {{\n{indent}app: {}.into(),\n{indent}model: {}.into(),\n{indent}old_name: {}.into(),\n{indent}new_name: {}.into(),\n        }}",
            string(app),
            string(model),
            string(old_name),
            string(new_name)
        ),
        Operation::RenameModel {
            app,
            old_name,
            new_name,
        } => format!(
            "Operation::RenameModel {{\n{indent}app: {}.into(),\n{indent}old_name: {}.into(),\n{indent}new_name: {}.into(),\n        }}",
            string(app),
            string(old_name),
            string(new_name)
        ),
        Operation::AlterModelTable { app, name, table } => format!(
            "Operation::AlterModelTable {{\n{indent}app: {}.into(),\n{indent}name: {}.into(),\n{indent}table: {}.into(),\n        }}",
            string(app),
            string(name),
            string(table)
        ),
        Operation::AddIndex { app, model, index } => format!(
            "Operation::AddIndex {{\n{indent}app: {}.into(),\n{indent}model: {}.into(),\n{indent}index: {},\n        }}",
            string(app),
            string(model),
            index_source(index)
        ),
        Operation::RemoveIndex { app, model, name } => format!(
            "Operation::RemoveIndex {{\n{indent}app: {}.into(),\n{indent}model: {}.into(),\n{indent}name: {}.into(),\n        }}",
            string(app),
            string(model),
            string(name)
        ),
        Operation::AddConstraint {
            app,
            model,
            constraint,
        } => format!(
            "Operation::AddConstraint {{\n{indent}app: {}.into(),\n{indent}model: {}.into(),\n{indent}constraint: {},\n        }}",
            string(app),
            string(model),
            constraint_source(constraint)
        ),
        Operation::RemoveConstraint { app, model, name } => format!(
            "Operation::RemoveConstraint {{\n{indent}app: {}.into(),\n{indent}model: {}.into(),\n{indent}name: {}.into(),\n        }}",
            string(app),
            string(model),
            string(name)
        ),
        Operation::RunSql { forward, backward } => format!(
            "Operation::RunSql {{\n{indent}forward: vec![{}],\n{indent}backward: {},\n        }}",
            forward
                .iter()
                .map(|s| format!("{}.into()", string(s)))
                .collect::<Vec<_>>()
                .join(", "),
            match backward {
                Some(b) => format!(
                    "Some(vec![{}])",
                    b.iter()
                        .map(|s| format!("{}.into()", string(s)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => "None".to_owned(),
            }
        ),
        Operation::RunRust { .. } => {
            "Operation::RunRust { forward: forwards, backward: None }".to_owned()
        }
    }
}

/// The source of one migration file.
pub fn migration_source(migration: &Migration, generated_by: &str) -> String {
    let mut out = format!(
        "//! Migration {} of `{}`, {generated_by}.\n\
         //! Edit it freely: it is ordinary Rust, compiled into the project binary.\n\n\
         #[allow(unused_imports)]\n\
         use estate::orm::migrations::prelude::*;\n\n\
         /// The migration.\n\
         pub(crate) fn migration() -> Migration {{\n    Migration::new({}, {})",
        migration.name,
        migration.app,
        string(&migration.app),
        string(&migration.name)
    );
    for (app, name) in &migration.replaces {
        out.push_str(&format!(
            "\n        .replaces({}, {})",
            string(app),
            string(name)
        ));
    }
    for (app, name) in &migration.dependencies {
        out.push_str(&format!(
            "\n        .depends_on({}, {})",
            string(app),
            string(name)
        ));
    }
    for op in &migration.operations {
        out.push_str(&format!("\n        .operation({})", operation(op)));
    }
    out.push_str("\n}\n");
    out
}

/// The source of `migrations/mod.rs` listing the migration files (names
/// without `.rs`, in order).
pub fn module_source(app: &str, names: &[String]) -> String {
    let mut out = format!(
        "//! The migrations of `{app}`, oldest first. `makemigrations` keeps this list\n\
         //! up to date when it writes a migration.\n\n\
         use estate::orm::migrations::Migration;\n\n"
    );
    for name in names {
        out.push_str(&format!("#[path = \"{name}.rs\"]\nmod m{name};\n"));
    }
    out.push_str(
        "\n/// Every migration of the app.\npub(crate) fn all() -> Vec<Migration> {\n    vec![",
    );
    let calls: Vec<String> = names.iter().map(|n| format!("m{n}::migration()")).collect();
    out.push_str(&calls.join(", "));
    out.push_str("]\n}\n");
    out
}

/// A name for a new migration from what it does: `0002_add_slug`,
/// `0001_initial`.
pub fn suggest_name(number: u32, operations: &[Operation]) -> String {
    let what = if number == 1 {
        "initial".to_owned()
    } else if let [only] = operations {
        match only {
            Operation::CreateModel(m) => m.name.to_lowercase(),
            Operation::DeleteModel { name, .. } => format!("delete_{}", name.to_lowercase()),
            Operation::AddField { model, field, .. } => {
                format!("{}_{}", model.to_lowercase(), field.name)
            }
            Operation::RemoveField { model, name, .. } => {
                format!("remove_{}_{}", model.to_lowercase(), name)
            }
            Operation::AlterField { model, field, .. } => {
                format!("alter_{}_{}", model.to_lowercase(), field.name)
            }
            Operation::RenameField {
                model, new_name, ..
            } => format!("rename_{}_{}", model.to_lowercase(), new_name),
            Operation::RenameModel { new_name, .. } => {
                format!("rename_{}", new_name.to_lowercase())
            }
            _ => "auto".to_owned(),
        }
    } else if operations.is_empty() {
        "empty".to_owned()
    } else {
        "auto".to_owned()
    };
    let mut name = format!("{number:04}_{what}");
    name.truncate(52);
    name
}
