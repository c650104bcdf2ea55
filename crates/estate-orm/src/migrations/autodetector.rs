//! The autodetector: compares the state the migrations build with the state
//! of the models, and proposes the operations that turn one into the other
//! (Django's `makemigrations`).
//!
//! It asks a [`Questioner`] what it cannot decide alone: the value existing
//! rows get for a new NOT NULL column. Changes it cannot express yet are
//! errors naming the model and field, never silently skipped.

use std::collections::{BTreeMap, BTreeSet};

use super::operation::Operation;
use super::state::{FieldState, ModelKey, ModelState, ProjectState};
use crate::error::{DbError, ErrorKind};
use crate::value::Value;

/// Answers the autodetector's questions.
pub trait Questioner {
    /// The value existing rows of `model` get for the new NOT NULL `field`
    /// (a one-off default), or an error to stop.
    fn fill_value(&mut self, model: &ModelState, field: &FieldState) -> Result<Value, DbError>;
}

/// For `--noinput`: every question is an error saying what to do instead.
pub struct NoInput;

impl Questioner for NoInput {
    fn fill_value(&mut self, model: &ModelState, field: &FieldState) -> Result<Value, DbError> {
        Err(DbError::new(
            ErrorKind::Configuration,
            format!(
                "adding the NOT NULL field `{}.{}` needs a value for the existing rows: make it \
                 an Option<_>, give it #[model(default = ...)], or run makemigrations without \
                 --noinput to type a one-off value",
                model.name, field.name
            ),
        ))
    }
}

/// The changes per app: (app, operations, apps whose migrations they need).
#[derive(Debug, Default)]
pub struct Changes {
    /// Operations per app, in the order they must run.
    pub operations: BTreeMap<String, Vec<Operation>>,
    /// Other apps each app's new migration depends on.
    pub dependencies: BTreeMap<String, BTreeSet<String>>,
}

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }
}

fn unsupported(what: String) -> DbError {
    DbError::new(
        ErrorKind::Configuration,
        format!(
            "{what}: this change cannot be migrated automatically yet; write the migration by hand (RunSql) or undo the change"
        ),
    )
}

/// The default a model field declares, used as the fill value when it has one.
pub type Defaults<'a> = &'a dyn Fn(&ModelKey, &str) -> Option<Value>;

/// What turns `from` (the migrations' state) into `to` (the models').
/// `defaults` gives a field's declared default, which fills existing rows
/// without asking.
pub fn detect(
    from: &ProjectState,
    to: &ProjectState,
    defaults: Defaults<'_>,
    questioner: &mut dyn Questioner,
) -> Result<Changes, DbError> {
    let mut changes = Changes::default();
    let mut push = |app: &str, op: Operation| {
        changes
            .operations
            .entry(app.to_owned())
            .or_default()
            .push(op);
    };

    // New models, each after the models it points at.
    let mut created: Vec<&ModelState> = to
        .models
        .values()
        .filter(|m| !from.models.contains_key(&m.key()))
        .collect();
    order_by_references(&mut created);
    for model in &created {
        push(&model.app, Operation::CreateModel((*model).clone()));
    }

    // Changed models: columns added, removed, or altered.
    for model in to.models.values() {
        let Some(old) = from.model(&model.key()) else {
            continue;
        };
        if old.table != model.table {
            return Err(unsupported(format!(
                "the table of {} changed from `{}` to `{}`",
                model.key(),
                old.table,
                model.table
            )));
        }
        for field in &model.fields {
            match old.get_field(&field.name) {
                None => {
                    let fill = if field.null {
                        None
                    } else {
                        match defaults(&model.key(), &field.name) {
                            Some(value) => Some(value),
                            None => Some(questioner.fill_value(model, field)?),
                        }
                    };
                    push(
                        &model.app,
                        Operation::AddField {
                            app: model.app.clone(),
                            model: model.name.clone(),
                            field: field.clone(),
                            fill,
                        },
                    );
                }
                // Choices live in the code: a change needs no SQL.
                Some(previous) if !same_column(previous, field) => {
                    return Err(unsupported(format!(
                        "the field {}.{} changed ({})",
                        model.key(),
                        field.name,
                        describe_difference(previous, field)
                    )));
                }
                Some(_) => {}
            }
        }
        for field in &old.fields {
            if model.get_field(&field.name).is_none() {
                push(
                    &model.app,
                    Operation::RemoveField {
                        app: model.app.clone(),
                        model: model.name.clone(),
                        name: field.name.clone(),
                        fill: if field.null {
                            None
                        } else {
                            defaults(&model.key(), &field.name)
                        },
                    },
                );
            }
        }
        if old.constraints != model.constraints || old.indexes != model.indexes {
            return Err(unsupported(format!(
                "the constraints or indexes of {} changed",
                model.key()
            )));
        }
    }

    // Deleted models, models pointing at others first.
    let mut deleted: Vec<&ModelState> = from
        .models
        .values()
        .filter(|m| !to.models.contains_key(&m.key()))
        .collect();
    order_by_references(&mut deleted);
    deleted.reverse();
    for model in deleted {
        push(
            &model.app,
            Operation::DeleteModel {
                app: model.app.clone(),
                name: model.name.clone(),
            },
        );
    }

    // Cross-app references make the new migration depend on the other app.
    for (app, operations) in &changes.operations {
        for operation in operations {
            let fields: Vec<&FieldState> = match operation {
                Operation::CreateModel(model) => model.fields.iter().collect(),
                Operation::AddField { field, .. } => vec![field],
                _ => Vec::new(),
            };
            for field in fields {
                if let Some(relation) = &field.relation {
                    if relation.to.app != *app {
                        changes
                            .dependencies
                            .entry(app.clone())
                            .or_default()
                            .insert(relation.to.app.clone());
                    }
                }
            }
        }
    }
    Ok(changes)
}

fn same_column(a: &FieldState, b: &FieldState) -> bool {
    FieldState {
        choices: Vec::new(),
        ..a.clone()
    } == FieldState {
        choices: Vec::new(),
        ..b.clone()
    }
}

/// Orders models so that each comes after the models (in the list) it
/// points at; ties keep the key order.
fn order_by_references(models: &mut Vec<&ModelState>) {
    let mut ordered: Vec<&ModelState> = Vec::with_capacity(models.len());
    let mut remaining: Vec<&ModelState> = std::mem::take(models);
    while !remaining.is_empty() {
        let keys: BTreeSet<ModelKey> = remaining.iter().map(|m| m.key()).collect();
        let ready = remaining.iter().position(|m| {
            m.fields.iter().all(|f| {
                f.relation
                    .as_ref()
                    .is_none_or(|r| r.to == m.key() || !keys.contains(&r.to))
            })
        });
        // A cycle between new models: take them in key order (the
        // references are only constraints checked at commit on PostgreSQL;
        // such cycles need a two-step migration on MySQL).
        let index = ready.unwrap_or(0);
        ordered.push(remaining.remove(index));
    }
    *models = ordered;
}

fn describe_difference(old: &FieldState, new: &FieldState) -> String {
    let mut parts = Vec::new();
    if old.column != new.column {
        parts.push(format!("column {} → {}", old.column, new.column));
    }
    if old.field_type != new.field_type {
        parts.push(format!("type {:?} → {:?}", old.field_type, new.field_type));
    }
    if old.null != new.null {
        parts.push(format!("null {} → {}", old.null, new.null));
    }
    if old.max_length != new.max_length {
        parts.push(format!(
            "max_length {:?} → {:?}",
            old.max_length, new.max_length
        ));
    }
    if old.unique != new.unique {
        parts.push(format!("unique {} → {}", old.unique, new.unique));
    }
    if old.index != new.index {
        parts.push(format!("index {} → {}", old.index, new.index));
    }
    if (old.max_digits, old.decimal_places) != (new.max_digits, new.decimal_places) {
        parts.push("digits".to_owned());
    }
    if old.relation != new.relation {
        parts.push("relation".to_owned());
    }
    if old.primary_key != new.primary_key {
        parts.push("primary key".to_owned());
    }
    parts.join(", ")
}
