//! The autodetector: compares the state the migrations build with the state
//! of the models, and proposes the operations that turn one into the other
//! (Django's `makemigrations`).
//!
//! It asks a [`Questioner`] what it cannot decide alone: whether a field or
//! model that disappeared while a similar one appeared was renamed (a rename
//! is never guessed), and the value existing rows get for a new NOT NULL
//! column.

use std::collections::{BTreeMap, BTreeSet};

use super::operation::Operation;
use super::state::{FieldState, ModelKey, ModelState, ProjectState};
use crate::error::{DbError, ErrorKind};
use crate::value::Value;

/// Answers the autodetector's questions.
pub trait Questioner {
    /// The value existing rows of `model` get for the NOT NULL `field` (new,
    /// or no longer nullable): a one-off default, or an error to stop.
    fn fill_value(&mut self, model: &ModelState, field: &FieldState) -> Result<Value, DbError>;

    /// Whether `old` of `model` was renamed to `new` (same definition).
    fn rename_field(
        &mut self,
        _model: &ModelState,
        _old: &FieldState,
        _new: &FieldState,
    ) -> Result<bool, DbError> {
        Ok(false)
    }

    /// Whether model `old` was renamed to `new` (same fields).
    fn rename_model(&mut self, _old: &ModelState, _new: &ModelState) -> Result<bool, DbError> {
        Ok(false)
    }
}

/// Answers rename questions from a list (`Model.old=new` for fields,
/// `Old=New` for models: the `--rename` flag, for CI) and passes the rest on.
pub struct Answers<'a> {
    /// The renames that happened.
    pub renames: Vec<String>,
    /// Who answers the other questions.
    pub inner: &'a mut dyn Questioner,
}

impl Questioner for Answers<'_> {
    fn fill_value(&mut self, model: &ModelState, field: &FieldState) -> Result<Value, DbError> {
        self.inner.fill_value(model, field)
    }

    fn rename_field(
        &mut self,
        model: &ModelState,
        old: &FieldState,
        new: &FieldState,
    ) -> Result<bool, DbError> {
        let answer = format!("{}.{}={}", model.name, old.name, new.name);
        if self.renames.contains(&answer) {
            return Ok(true);
        }
        self.inner.rename_field(model, old, new)
    }

    fn rename_model(&mut self, old: &ModelState, new: &ModelState) -> Result<bool, DbError> {
        if self.renames.contains(&format!("{}={}", old.name, new.name)) {
            return Ok(true);
        }
        self.inner.rename_model(old, new)
    }
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
    // The state as the operations so far leave it: renames are applied to
    // it so the comparisons after them see the new names.
    let mut working = from.clone();
    let push = |changes: &mut Changes,
                working: &mut ProjectState,
                app: &str,
                op: Operation|
     -> Result<(), DbError> {
        op.state_forwards(working)?;
        changes
            .operations
            .entry(app.to_owned())
            .or_default()
            .push(op);
        Ok(())
    };

    // Renamed models: one gone and one new in the same app, same fields.
    let gone: Vec<ModelState> = working
        .models
        .values()
        .filter(|m| !to.models.contains_key(&m.key()))
        .cloned()
        .collect();
    for old in gone {
        let candidate = to
            .models
            .values()
            .filter(|m| m.app == old.app && !working.models.contains_key(&m.key()))
            .find(|m| same_fields(&old, m));
        if let Some(new) = candidate {
            if questioner.rename_model(&old, new)? {
                push(
                    &mut changes,
                    &mut working,
                    &old.app,
                    Operation::RenameModel {
                        app: old.app.clone(),
                        old_name: old.name.clone(),
                        new_name: new.name.clone(),
                    },
                )?;
            }
        }
    }

    // New models, each after the models it points at.
    let mut created: Vec<&ModelState> = to
        .models
        .values()
        .filter(|m| !working.models.contains_key(&m.key()))
        .collect();
    order_by_references(&mut created);
    for model in created {
        push(
            &mut changes,
            &mut working,
            &model.app,
            Operation::CreateModel(model.clone()),
        )?;
    }

    // Changed models.
    for model in to.models.values() {
        let Some(old) = working.model(&model.key()).cloned() else {
            continue;
        };
        let app = &model.app;
        if old.table != model.table {
            push(
                &mut changes,
                &mut working,
                app,
                Operation::AlterModelTable {
                    app: app.clone(),
                    name: model.name.clone(),
                    table: model.table.clone(),
                },
            )?;
        }
        // Constraints and indexes that go, before the fields they use.
        for constraint in &old.constraints {
            if !model.constraints.contains(constraint) {
                push(
                    &mut changes,
                    &mut working,
                    app,
                    Operation::RemoveConstraint {
                        app: app.clone(),
                        model: model.name.clone(),
                        name: constraint.name().to_owned(),
                    },
                )?;
            }
        }
        for index in &old.indexes {
            if !model.indexes.contains(index) {
                push(
                    &mut changes,
                    &mut working,
                    app,
                    Operation::RemoveIndex {
                        app: app.clone(),
                        model: model.name.clone(),
                        name: index.name.clone(),
                    },
                )?;
            }
        }
        // Renamed fields: one gone and one new with the same definition.
        for new in &model.fields {
            if old.get_field(&new.name).is_some() {
                continue;
            }
            let current = working
                .model(&model.key())
                .cloned()
                .unwrap_or_else(|| old.clone());
            let candidate = current
                .fields
                .iter()
                .filter(|f| model.get_field(&f.name).is_none())
                .find(|f| same_but_name(f, new))
                .cloned();
            if let Some(previous) = candidate {
                if questioner.rename_field(model, &previous, new)? {
                    push(
                        &mut changes,
                        &mut working,
                        app,
                        Operation::RenameField {
                            app: app.clone(),
                            model: model.name.clone(),
                            old_name: previous.name.clone(),
                            new_name: new.name.clone(),
                        },
                    )?;
                }
            }
        }
        let current = working
            .model(&model.key())
            .cloned()
            .unwrap_or_else(|| old.clone());
        for field in &model.fields {
            match current.get_field(&field.name) {
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
                        &mut changes,
                        &mut working,
                        app,
                        Operation::AddField {
                            app: app.clone(),
                            model: model.name.clone(),
                            field: field.clone(),
                            fill,
                        },
                    )?;
                }
                Some(previous) if !same_column(previous, field) => {
                    let fill = if previous.null && !field.null {
                        match defaults(&model.key(), &field.name) {
                            Some(value) => Some(value),
                            None => Some(questioner.fill_value(model, field)?),
                        }
                    } else {
                        None
                    };
                    push(
                        &mut changes,
                        &mut working,
                        app,
                        Operation::AlterField {
                            app: app.clone(),
                            model: model.name.clone(),
                            field: field.clone(),
                            fill,
                        },
                    )?;
                }
                Some(_) => {}
            }
        }
        for field in &current.fields {
            if model.get_field(&field.name).is_none() {
                push(
                    &mut changes,
                    &mut working,
                    app,
                    Operation::RemoveField {
                        app: app.clone(),
                        model: model.name.clone(),
                        name: field.name.clone(),
                        fill: if field.null {
                            None
                        } else {
                            defaults(&model.key(), &field.name)
                        },
                    },
                )?;
            }
        }
        let current = working
            .model(&model.key())
            .cloned()
            .unwrap_or_else(|| old.clone());
        for index in &model.indexes {
            if !current.indexes.contains(index) {
                push(
                    &mut changes,
                    &mut working,
                    app,
                    Operation::AddIndex {
                        app: app.clone(),
                        model: model.name.clone(),
                        index: index.clone(),
                    },
                )?;
            }
        }
        for constraint in &model.constraints {
            if !current.constraints.contains(constraint) {
                push(
                    &mut changes,
                    &mut working,
                    app,
                    Operation::AddConstraint {
                        app: app.clone(),
                        model: model.name.clone(),
                        constraint: constraint.clone(),
                    },
                )?;
            }
        }
    }

    // Deleted models, models pointing at others first.
    let mut deleted: Vec<ModelState> = working
        .models
        .values()
        .filter(|m| !to.models.contains_key(&m.key()))
        .cloned()
        .collect();
    let mut refs: Vec<&ModelState> = deleted.iter().collect();
    order_by_references(&mut refs);
    let order: Vec<ModelKey> = refs.iter().rev().map(|m| m.key()).collect();
    deleted.sort_by_key(|m| order.iter().position(|k| *k == m.key()));
    for model in deleted {
        push(
            &mut changes,
            &mut working,
            &model.app,
            Operation::DeleteModel {
                app: model.app.clone(),
                name: model.name.clone(),
            },
        )?;
    }

    // Cross-app references make the new migration depend on the other app.
    for (app, operations) in &changes.operations {
        for operation in operations {
            let fields: Vec<&FieldState> = match operation {
                Operation::CreateModel(model) => model.fields.iter().collect(),
                Operation::AddField { field, .. } | Operation::AlterField { field, .. } => {
                    vec![field]
                }
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

/// Two models with the same columns (a rename candidate).
fn same_fields(a: &ModelState, b: &ModelState) -> bool {
    a.fields.len() == b.fields.len()
        && a.fields
            .iter()
            .zip(&b.fields)
            .all(|(x, y)| same_column(x, y))
}

/// Two fields alike but for their names (and a column that follows them).
fn same_but_name(old: &FieldState, new: &FieldState) -> bool {
    let follows = |f: &FieldState| f.column == f.name || f.column == format!("{}_id", f.name);
    let column_ok = old.column == new.column || (follows(old) && follows(new));
    column_ok
        && same_column(
            &FieldState {
                name: new.name.clone(),
                column: new.column.clone(),
                ..old.clone()
            },
            new,
        )
}

fn same_column(a: &FieldState, b: &FieldState) -> bool {
    a == b
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
