//! Operations: the steps of a migration. Each knows how it changes the
//! project state and which SQL does that, forwards and backwards.

use std::future::Future;
use std::pin::Pin;

use super::schema::{self, Statement};
use super::state::{FieldState, ModelKey, ModelState, ProjectState};
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
            Operation::RunSql { backward, .. } => {
                raw(backward.as_ref().ok_or_else(irreversible)?)
            }
            Operation::RunRust { backward, .. } => {
                vec![Step::Rust(backward.ok_or_else(irreversible)?)]
            }
        })
    }
}
