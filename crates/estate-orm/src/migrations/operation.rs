//! Operations: the steps of a migration. Each knows how it changes the
//! project state and which SQL does that, forwards and backwards.

use std::future::Future;
use std::pin::Pin;

use super::schema::{self, Statement};
use super::state::{ConstraintState, FieldState, IndexState, ModelKey, ModelState, ProjectState};
use crate::backends::Backend;
use crate::error::{DbError, ErrorKind};
use crate::transaction::Transaction;
use crate::value::Value;

/// Rust code a data migration runs: `fn forwards(tx: &Transaction) -> RustFuture<'_>`
/// returning `Box::pin(async move { ... })`.
pub type RustStep = for<'a> fn(&'a Transaction) -> RustFuture<'a>;

/// What a [`RustStep`] returns.
pub type RustFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DbError>> + Send + 'a>>;

/// One step of a migration.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Operation {
    /// Creates a table.
    CreateModel(ModelState),
    /// Drops a table.
    DeleteModel {
        /// The model's app.
        app: String,
        /// The model.
        name: String,
    },
    /// Adds a column; `fill` is what existing rows get when it is NOT NULL.
    AddField {
        /// The model's app.
        app: String,
        /// The model.
        model: String,
        /// The new field.
        field: FieldState,
        /// The value for existing rows (a one-off default).
        fill: Option<Value>,
    },
    /// Drops a column; `fill` is what rows get if it is added back (going
    /// backwards) and it is NOT NULL.
    RemoveField {
        /// The model's app.
        app: String,
        /// The model.
        model: String,
        /// The field's name.
        name: String,
        /// The value for rows when the column comes back.
        fill: Option<Value>,
    },
    /// Changes a field's definition (type, null, max_length, unique, index,
    /// column); `fill` replaces NULLs when it becomes NOT NULL.
    AlterField {
        /// The model's app.
        app: String,
        /// The model.
        model: String,
        /// The new definition (same name).
        field: FieldState,
        /// The value that replaces NULLs.
        fill: Option<Value>,
    },
    /// Renames a field (and its column, when the column follows the name).
    RenameField {
        /// The model's app.
        app: String,
        /// The model.
        model: String,
        /// The current name.
        old_name: String,
        /// The new name.
        new_name: String,
    },
    /// Renames a model (its table stays; see `AlterModelTable`).
    RenameModel {
        /// The model's app.
        app: String,
        /// The current name.
        old_name: String,
        /// The new name.
        new_name: String,
    },
    /// Renames a model's table.
    AlterModelTable {
        /// The model's app.
        app: String,
        /// The model.
        name: String,
        /// The new table name.
        table: String,
    },
    /// Adds an index over several fields.
    AddIndex {
        /// The model's app.
        app: String,
        /// The model.
        model: String,
        /// The index.
        index: IndexState,
    },
    /// Drops an index by name.
    RemoveIndex {
        /// The model's app.
        app: String,
        /// The model.
        model: String,
        /// The index's name.
        name: String,
    },
    /// Adds a constraint (unique together, check).
    AddConstraint {
        /// The model's app.
        app: String,
        /// The model.
        model: String,
        /// The constraint.
        constraint: ConstraintState,
    },
    /// Drops a constraint by name.
    RemoveConstraint {
        /// The model's app.
        app: String,
        /// The model.
        model: String,
        /// The constraint's name.
        name: String,
    },
    /// Raw SQL; without `backward` the migration cannot be unapplied.
    RunSql {
        /// Statements run forwards.
        forward: Vec<String>,
        /// Statements that undo them.
        backward: Option<Vec<String>>,
    },
    /// Rust code against the database (a data migration).
    RunRust {
        /// Run forwards.
        forward: RustStep,
        /// Undoes it; `None` makes the migration irreversible.
        backward: Option<RustStep>,
    },
}

/// What running an operation does to the database.
pub enum Step {
    /// An SQL statement.
    Sql(Statement),
    /// Rust code.
    Rust(RustStep),
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Sql(statement) => write!(f, "{statement}"),
            Step::Rust(_) => f.write_str("(Rust code)"),
        }
    }
}

fn missing(what: &str) -> DbError {
    DbError::new(ErrorKind::Other, what.to_owned())
}

fn model_mut<'a>(
    state: &'a mut ProjectState,
    app: &str,
    name: &str,
) -> Result<&'a mut ModelState, DbError> {
    state
        .models
        .get_mut(&ModelKey::new(app, name))
        .ok_or_else(|| {
            missing(&format!(
                "there is no model {app}.{name} at this point of the migrations"
            ))
        })
}

fn model<'a>(state: &'a ProjectState, app: &str, name: &str) -> Result<&'a ModelState, DbError> {
    state.model(&ModelKey::new(app, name)).ok_or_else(|| {
        missing(&format!(
            "there is no model {app}.{name} at this point of the migrations"
        ))
    })
}

fn field_of<'a>(model: &'a ModelState, name: &str) -> Result<&'a FieldState, DbError> {
    model
        .get_field(name)
        .ok_or_else(|| missing(&format!("{}.{} has no field {name}", model.app, model.name)))
}

fn constraint_of<'a>(model: &'a ModelState, name: &str) -> Result<&'a ConstraintState, DbError> {
    model
        .constraints
        .iter()
        .find(|c| c.name() == name)
        .ok_or_else(|| {
            missing(&format!(
                "{}.{} has no constraint {name}",
                model.app, model.name
            ))
        })
}

fn sql(statements: Vec<Statement>) -> Vec<Step> {
    statements.into_iter().map(Step::Sql).collect()
}

fn raw(statements: &[String]) -> Vec<Step> {
    statements
        .iter()
        .map(|s| {
            Step::Sql(Statement {
                sql: s.clone(),
                params: Vec::new(),
            })
        })
        .collect()
}

impl Operation {
    /// One line saying what it does: `Create model Question`.
    pub fn describe(&self) -> String {
        match self {
            Operation::CreateModel(model) => format!("Create model {}", model.name),
            Operation::DeleteModel { name, .. } => format!("Delete model {name}"),
            Operation::AddField { model, field, .. } => {
                format!("Add field {} to {model}", field.name)
            }
            Operation::RemoveField { model, name, .. } => {
                format!("Remove field {name} from {model}")
            }
            Operation::AlterField { model, field, .. } => {
                format!("Alter field {} on {model}", field.name)
            }
            Operation::RenameField {
                model,
                old_name,
                new_name,
                ..
            } => format!("Rename field {old_name} on {model} to {new_name}"),
            Operation::RenameModel {
                old_name, new_name, ..
            } => format!("Rename model {old_name} to {new_name}"),
            Operation::AlterModelTable { name, table, .. } => {
                format!("Rename table for {name} to {table}")
            }
            Operation::AddIndex { model, index, .. } => {
                format!("Create index {} on {model}", index.name)
            }
            Operation::RemoveIndex { model, name, .. } => {
                format!("Remove index {name} from {model}")
            }
            Operation::AddConstraint {
                model, constraint, ..
            } => format!("Create constraint {} on {model}", constraint.name()),
            Operation::RemoveConstraint { model, name, .. } => {
                format!("Remove constraint {name} from {model}")
            }
            Operation::RunSql { .. } => "Raw SQL operation".to_owned(),
            Operation::RunRust { .. } => "Raw Rust operation".to_owned(),
        }
    }

    /// Whether it can be undone.
    pub fn reversible(&self) -> bool {
        match self {
            Operation::RunSql { backward, .. } => backward.is_some(),
            Operation::RunRust { backward, .. } => backward.is_some(),
            _ => true,
        }
    }

    /// Applies the operation to the project state.
    pub fn state_forwards(&self, state: &mut ProjectState) -> Result<(), DbError> {
        match self {
            Operation::CreateModel(new) => {
                if state.models.contains_key(&new.key()) {
                    return Err(missing(&format!("model {} already exists", new.key())));
                }
                state.models.insert(new.key(), new.clone());
            }
            Operation::DeleteModel { app, name } => {
                if state.models.remove(&ModelKey::new(app, name)).is_none() {
                    return Err(missing(&format!(
                        "there is no model {app}.{name} to delete"
                    )));
                }
            }
            Operation::AddField {
                app, model, field, ..
            } => {
                let target = model_mut(state, app, model)?;
                if target.get_field(&field.name).is_some() {
                    return Err(missing(&format!(
                        "{app}.{model} already has a field {}",
                        field.name
                    )));
                }
                target.fields.push(field.clone());
            }
            Operation::RemoveField {
                app, model, name, ..
            } => {
                let target = model_mut(state, app, model)?;
                let before = target.fields.len();
                target.fields.retain(|f| f.name != *name);
                if target.fields.len() == before {
                    return Err(missing(&format!("{app}.{model} has no field {name}")));
                }
            }
            Operation::AlterField {
                app, model, field, ..
            } => {
                let target = model_mut(state, app, model)?;
                let slot = target
                    .fields
                    .iter_mut()
                    .find(|f| f.name == field.name)
                    .ok_or_else(|| {
                        missing(&format!("{app}.{model} has no field {}", field.name))
                    })?;
                *slot = field.clone();
            }
            Operation::RenameField {
                app,
                model,
                old_name,
                new_name,
            } => {
                let target = model_mut(state, app, model)?;
                if target.get_field(new_name).is_some() {
                    return Err(missing(&format!(
                        "{app}.{model} already has a field {new_name}"
                    )));
                }
                let field = target
                    .fields
                    .iter_mut()
                    .find(|f| f.name == *old_name)
                    .ok_or_else(|| missing(&format!("{app}.{model} has no field {old_name}")))?;
                field.name = new_name.clone();
                // The column follows the name unless it was set apart.
                if field.column == *old_name {
                    field.column = new_name.clone();
                } else if field.column == format!("{old_name}_id") && field.relation.is_some() {
                    field.column = format!("{new_name}_id");
                }
                let rename = |names: &mut Vec<String>| {
                    for name in names.iter_mut().filter(|n| *n == old_name) {
                        name.clone_from(new_name);
                    }
                };
                for index in &mut target.indexes {
                    rename(&mut index.fields);
                }
                for constraint in &mut target.constraints {
                    if let ConstraintState::Unique { fields, .. } = constraint {
                        rename(fields);
                    }
                }
            }
            Operation::RenameModel {
                app,
                old_name,
                new_name,
            } => {
                let old_key = ModelKey::new(app, old_name);
                let new_key = ModelKey::new(app, new_name);
                if state.models.contains_key(&new_key) {
                    return Err(missing(&format!("model {new_key} already exists")));
                }
                let mut model = state
                    .models
                    .remove(&old_key)
                    .ok_or_else(|| missing(&format!("there is no model {old_key} to rename")))?;
                model.name.clone_from(new_name);
                state.models.insert(new_key.clone(), model);
                for other in state.models.values_mut() {
                    for field in &mut other.fields {
                        if let Some(relation) = &mut field.relation {
                            if relation.to == old_key {
                                relation.to = new_key.clone();
                            }
                        }
                    }
                }
            }
            Operation::AlterModelTable { app, name, table } => {
                model_mut(state, app, name)?.table.clone_from(table);
            }
            Operation::AddIndex { app, model, index } => {
                let target = model_mut(state, app, model)?;
                if target.indexes.iter().any(|i| i.name == index.name) {
                    return Err(missing(&format!(
                        "{app}.{model} already has an index {}",
                        index.name
                    )));
                }
                target.indexes.push(index.clone());
            }
            Operation::RemoveIndex { app, model, name } => {
                let target = model_mut(state, app, model)?;
                let before = target.indexes.len();
                target.indexes.retain(|i| i.name != *name);
                if target.indexes.len() == before {
                    return Err(missing(&format!("{app}.{model} has no index {name}")));
                }
            }
            Operation::AddConstraint {
                app,
                model,
                constraint,
            } => {
                let target = model_mut(state, app, model)?;
                if target
                    .constraints
                    .iter()
                    .any(|c| c.name() == constraint.name())
                {
                    return Err(missing(&format!(
                        "{app}.{model} already has a constraint {}",
                        constraint.name()
                    )));
                }
                target.constraints.push(constraint.clone());
            }
            Operation::RemoveConstraint { app, model, name } => {
                let target = model_mut(state, app, model)?;
                let before = target.constraints.len();
                target.constraints.retain(|c| c.name() != name);
                if target.constraints.len() == before {
                    return Err(missing(&format!("{app}.{model} has no constraint {name}")));
                }
            }
            Operation::RunSql { .. } | Operation::RunRust { .. } => {}
        }
        Ok(())
    }

    /// The steps that apply it: `from` is the state before, `to` after.
    pub fn database_forwards(
        &self,
        from: &ProjectState,
        to: &ProjectState,
        backend: Backend,
    ) -> Result<Vec<Step>, DbError> {
        Ok(match self {
            Operation::CreateModel(new) => sql(schema::create_model(
                to,
                model(to, &new.app, &new.name)?,
                backend,
            )),
            Operation::DeleteModel { app, name } => {
                sql(schema::delete_model(model(from, app, name)?, backend))
            }
            Operation::AddField {
                app,
                model: name,
                field,
                fill,
            } => sql(schema::add_field(
                to,
                model(from, app, name)?,
                model(to, app, name)?,
                field,
                fill.as_ref(),
                backend,
            )?),
            Operation::RemoveField {
                app,
                model: name,
                name: field,
                ..
            } => {
                let before = model(from, app, name)?;
                let removed = before
                    .get_field(field)
                    .ok_or_else(|| missing(&format!("{app}.{name} has no field {field}")))?;
                sql(schema::remove_field(
                    to,
                    before,
                    model(to, app, name)?,
                    removed,
                    backend,
                ))
            }
            Operation::AlterField {
                app,
                model: name,
                field,
                fill,
            } => {
                let before = model(from, app, name)?;
                let old = field_of(before, &field.name)?;
                sql(schema::alter_field(
                    to,
                    before,
                    model(to, app, name)?,
                    old,
                    field,
                    fill.as_ref(),
                    backend,
                )?)
            }
            Operation::RenameField {
                app,
                model: name,
                old_name,
                new_name,
            } => {
                let before = model(from, app, name)?;
                let after = model(to, app, name)?;
                sql(schema::rename_field(
                    to,
                    before,
                    after,
                    field_of(before, old_name)?,
                    field_of(after, new_name)?,
                    backend,
                )?)
            }
            Operation::RenameModel { .. } => Vec::new(),
            Operation::AlterModelTable { app, name, .. } => sql(schema::alter_table_name(
                model(from, app, name)?,
                model(to, app, name)?,
                backend,
            )),
            Operation::AddIndex {
                app,
                model: name,
                index,
            } => sql(schema::add_index(model(to, app, name)?, index, backend)),
            Operation::RemoveIndex {
                app,
                model: name,
                name: index,
            } => sql(schema::remove_index(
                model(from, app, name)?,
                index,
                backend,
            )),
            Operation::AddConstraint {
                app,
                model: name,
                constraint,
            } => sql(schema::add_constraint(
                to,
                model(from, app, name)?,
                model(to, app, name)?,
                constraint,
                backend,
            )),
            Operation::RemoveConstraint {
                app,
                model: name,
                name: constraint,
            } => {
                let before = model(from, app, name)?;
                let removed = constraint_of(before, constraint)?;
                sql(schema::remove_constraint(
                    to,
                    before,
                    model(to, app, name)?,
                    removed,
                    backend,
                ))
            }
            Operation::RunSql { forward, .. } => raw(forward),
            Operation::RunRust { forward, .. } => vec![Step::Rust(*forward)],
        })
    }

    /// The steps that undo it: `from` is the state before the operation (what
    /// undoing returns to), `to` the state after it.
    pub fn database_backwards(
        &self,
        from: &ProjectState,
        to: &ProjectState,
        backend: Backend,
    ) -> Result<Vec<Step>, DbError> {
        let irreversible = || {
            DbError::new(
                ErrorKind::Other,
                format!(
                    "`{}` cannot be undone: it has no backward step",
                    self.describe()
                ),
            )
        };
        Ok(match self {
            Operation::CreateModel(new) => sql(schema::delete_model(
                model(to, &new.app, &new.name)?,
                backend,
            )),
            Operation::DeleteModel { app, name } => {
                sql(schema::create_model(from, model(from, app, name)?, backend))
            }
            Operation::AddField {
                app,
                model: name,
                field,
                ..
            } => sql(schema::remove_field(
                from,
                model(to, app, name)?,
                model(from, app, name)?,
                field,
                backend,
            )),
            Operation::RemoveField {
                app,
                model: name,
                name: field,
                fill,
            } => {
                let restored = model(from, app, name)?;
                let field = restored
                    .get_field(field)
                    .ok_or_else(|| missing(&format!("{app}.{name} has no field {field}")))?;
                sql(schema::add_field(
                    from,
                    model(to, app, name)?,
                    restored,
                    field,
                    fill.as_ref(),
                    backend,
                )?)
            }
            Operation::AlterField {
                app,
                model: name,
                field,
                fill,
            } => {
                let restored = model(from, app, name)?;
                sql(schema::alter_field(
                    from,
                    model(to, app, name)?,
                    restored,
                    field,
                    field_of(restored, &field.name)?,
                    fill.as_ref(),
                    backend,
                )?)
            }
            Operation::RenameField {
                app,
                model: name,
                old_name,
                new_name,
            } => {
                let current = model(to, app, name)?;
                let restored = model(from, app, name)?;
                sql(schema::rename_field(
                    from,
                    current,
                    restored,
                    field_of(current, new_name)?,
                    field_of(restored, old_name)?,
                    backend,
                )?)
            }
            Operation::RenameModel { .. } => Vec::new(),
            Operation::AlterModelTable { app, name, .. } => sql(schema::alter_table_name(
                model(to, app, name)?,
                model(from, app, name)?,
                backend,
            )),
            Operation::AddIndex {
                app,
                model: name,
                index,
            } => sql(schema::remove_index(
                model(to, app, name)?,
                &index.name,
                backend,
            )),
            Operation::RemoveIndex {
                app,
                model: name,
                name: index,
            } => {
                let restored = model(from, app, name)?;
                let definition = restored
                    .indexes
                    .iter()
                    .find(|i| i.name == *index)
                    .ok_or_else(|| missing(&format!("{app}.{name} has no index {index}")))?;
                sql(schema::add_index(restored, definition, backend))
            }
            Operation::AddConstraint {
                app,
                model: name,
                constraint,
            } => sql(schema::remove_constraint(
                from,
                model(to, app, name)?,
                model(from, app, name)?,
                constraint,
                backend,
            )),
            Operation::RemoveConstraint {
                app,
                model: name,
                name: constraint,
            } => {
                let restored = model(from, app, name)?;
                sql(schema::add_constraint(
                    from,
                    model(to, app, name)?,
                    restored,
                    constraint_of(restored, constraint)?,
                    backend,
                ))
            }
            Operation::RunSql { backward, .. } => {
                raw(backward.as_ref().ok_or_else(irreversible)?)
            }
            Operation::RunRust { backward, .. } => {
                vec![Step::Rust(backward.ok_or_else(irreversible)?)]
            }
        })
    }
}
