//! Squashing: many migrations of an app as one, with the operations folded
//! where that is safe (a field added, altered or removed right after its
//! model was created becomes part of the `CreateModel`; a model created
//! and deleted again disappears).

use super::graph::Migration;
use super::operation::Operation;
use super::state::{ModelKey, ProjectState};
use crate::error::{DbError, ErrorKind};

/// One migration standing for `migrations` (of one app, in order), named
/// `name`: their operations folded, their outside dependencies, and a
/// `replaces` entry for each (including what squashed ones replaced).
pub fn squash(app: &str, name: &str, migrations: &[&Migration]) -> Result<Migration, DbError> {
    let own: Vec<(String, String)> = migrations
        .iter()
        .map(|m| (m.app.clone(), m.name.clone()))
        .collect();
    let mut squashed = Migration::new(app, name);
    for migration in migrations {
        if migration.replaces.is_empty() {
            squashed
                .replaces
                .push((migration.app.clone(), migration.name.clone()));
        } else {
            squashed.replaces.extend(migration.replaces.iter().cloned());
        }
        for dependency in &migration.dependencies {
            if !own.contains(dependency) && !squashed.dependencies.contains(dependency) {
                squashed.dependencies.push(dependency.clone());
            }
        }
        for operation in &migration.operations {
            if matches!(operation, Operation::RunRust { .. }) {
                return Err(DbError::new(
                    ErrorKind::Configuration,
                    format!(
                        "{} has a data migration (RunRust), whose Rust code cannot be copied \
                         into a squash: squash up to the migration before it, or write the \
                         squashed migration by hand",
                        migration.label()
                    ),
                ));
            }
            squashed.operations.push(operation.clone());
        }
    }
    squashed.operations = optimize(squashed.operations)?;
    Ok(squashed)
}

/// The model a field-level operation changes, if it is one that can fold
/// into that model's `CreateModel`.
fn folds_into(operation: &Operation) -> Option<ModelKey> {
    let (app, model, relation) = match operation {
        Operation::AddField {
            app, model, field, ..
        }
        | Operation::AlterField {
            app, model, field, ..
        } => (app, model, field.relation.as_ref().map(|r| r.to.clone())),
        Operation::RemoveField { app, model, .. }
        | Operation::RenameField { app, model, .. }
        | Operation::AddIndex { app, model, .. }
        | Operation::RemoveIndex { app, model, .. }
        | Operation::AddConstraint { app, model, .. }
        | Operation::RemoveConstraint { app, model, .. } => (app, model, None),
        _ => return None,
    };
    // A new reference may point at a model created later: keep it apart.
    if relation.is_some() {
        return None;
    }
    Some(ModelKey::new(app, model))
}

fn optimize(operations: Vec<Operation>) -> Result<Vec<Operation>, DbError> {
    // Folding keeps the state every later operation sees: the result
    // replays to the same project state as the originals.
    let mut out: Vec<Operation> = Vec::new();
    for operation in operations {
        if let Some(key) = folds_into(&operation) {
            let created = out
                .iter()
                .position(|op| matches!(op, Operation::CreateModel(m) if m.key() == key));
            if let Some(index) = created {
                let Operation::CreateModel(model) = &out[index] else {
                    unreachable!("found a CreateModel above");
                };
                let mut state = ProjectState::new();
                state.models.insert(key.clone(), model.clone());
                // It may need something kept apart (a field added later with a
                // reference): then it stays a step of its own.
                if operation.state_forwards(&mut state).is_ok() {
                    let folded = state.models.remove(&key).expect("still there");
                    out[index] = Operation::CreateModel(folded);
                    continue;
                }
            }
        }
        if let Operation::DeleteModel { app, name } = &operation {
            let key = ModelKey::new(app, name);
            let created = out
                .iter()
                .position(|op| matches!(op, Operation::CreateModel(m) if m.key() == key));
            let referenced = out.iter().any(|op| match op {
                Operation::CreateModel(m) => {
                    m.key() != key
                        && m.fields
                            .iter()
                            .any(|f| f.relation.as_ref().is_some_and(|r| r.to == key))
                }
                Operation::AddField { field, .. } | Operation::AlterField { field, .. } => {
                    field.relation.as_ref().is_some_and(|r| r.to == key)
                }
                _ => false,
            });
            if let (Some(index), false) = (created, referenced) {
                out.remove(index);
                out.retain(|op| folds_into(op).is_none_or(|k| k != key));
                continue;
            }
        }
        out.push(operation);
    }
    Ok(out)
}
