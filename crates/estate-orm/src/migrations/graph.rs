//! Migrations and the order they run in: each names the migrations it
//! depends on (the previous one of its app, and those of other apps whose
//! models it points at), and the graph orders them.

use std::collections::{BTreeMap, BTreeSet};

use super::operation::Operation;
use super::state::ProjectState;
use crate::error::{DbError, ErrorKind};

/// One migration: a named list of operations of one app.
#[derive(Clone, Debug)]
pub struct Migration {
    /// The app.
    pub app: String,
    /// The name, like `0001_initial`.
    pub name: String,
    /// The migrations that must run first: (app, name).
    pub dependencies: Vec<(String, String)>,
    /// The steps.
    pub operations: Vec<Operation>,
    /// For a squashed migration: the migrations it stands for (their
    /// operations, in one). See [`resolve_replacements`].
    pub replaces: Vec<(String, String)>,
}

impl Migration {
    /// An empty migration of `app` called `name`.
    pub fn new(app: impl Into<String>, name: impl Into<String>) -> Self {
        Migration {
            app: app.into(),
            name: name.into(),
            dependencies: Vec::new(),
            operations: Vec::new(),
            replaces: Vec::new(),
        }
    }

    /// Stands for migration `name` of `app` (a squashed migration).
    pub fn replaces(mut self, app: impl Into<String>, name: impl Into<String>) -> Self {
        self.replaces.push((app.into(), name.into()));
        self
    }

    /// Runs after migration `name` of `app`.
    pub fn depends_on(mut self, app: impl Into<String>, name: impl Into<String>) -> Self {
        self.dependencies.push((app.into(), name.into()));
        self
    }

    /// Adds an operation.
    pub fn operation(mut self, operation: Operation) -> Self {
        self.operations.push(operation);
        self
    }

    /// `app.name`.
    pub fn label(&self) -> String {
        format!("{}.{}", self.app, self.name)
    }
}

/// Chooses between squashed migrations and the ones they replace, given
/// what is applied (Django's rule): while the replaced migrations are all
/// still there, a database that applied none or all of them uses the squash
/// (dependencies on the replaced ones then point at it), and one that
/// applied some of them keeps using the originals until it catches up.
pub fn resolve_replacements(
    migrations: Vec<Migration>,
    applied: &BTreeSet<(String, String)>,
) -> Vec<Migration> {
    let present: BTreeSet<(String, String)> = migrations
        .iter()
        .map(|m| (m.app.clone(), m.name.clone()))
        .collect();
    let mut dropped: BTreeSet<(String, String)> = BTreeSet::new();
    let mut renamed: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for squash in migrations.iter().filter(|m| !m.replaces.is_empty()) {
        let key = (squash.app.clone(), squash.name.clone());
        let replaced: Vec<&(String, String)> = squash
            .replaces
            .iter()
            .filter(|r| present.contains(*r))
            .collect();
        let done = replaced.iter().filter(|r| applied.contains(**r)).count();
        if done == 0 || done == replaced.len() {
            for r in replaced {
                dropped.insert(r.clone());
                renamed.insert(r.clone(), key.clone());
            }
        } else {
            dropped.insert(key);
        }
    }
    migrations
        .into_iter()
        .filter(|m| !dropped.contains(&(m.app.clone(), m.name.clone())))
        .map(|mut m| {
            let own = (m.app.clone(), m.name.clone());
            let mut dependencies = Vec::new();
            for dependency in m.dependencies.drain(..) {
                let target = renamed.get(&dependency).cloned().unwrap_or(dependency);
                if target != own && !dependencies.contains(&target) {
                    dependencies.push(target);
                }
            }
            m.dependencies = dependencies;
            m
        })
        .collect()
}

/// Every migration of the project, checked and ordered.
#[derive(Clone, Debug)]
pub struct MigrationGraph {
    /// In an order where each comes after its dependencies (ties broken by
    /// app and name, so the order is the same everywhere).
    ordered: Vec<Migration>,
}

impl MigrationGraph {
    /// Checks the migrations (unique names, known dependencies, no cycles,
    /// one latest migration per app) and orders them; squashed migrations
    /// replace theirs (see [`resolve_replacements`]).
    ///
    /// # Errors
    /// Naming the migrations at fault: a duplicate, a dependency on a
    /// migration that does not exist, a cycle, or two latest migrations in
    /// one app (two branches each added one: merge them).
    pub fn new(migrations: Vec<Migration>) -> Result<MigrationGraph, DbError> {
        // Without a database to ask, squashed migrations stand in for the
        // ones they replace (call `resolve_replacements` first to decide by
        // what a database applied).
        let migrations = resolve_replacements(migrations, &BTreeSet::new());
        let mut by_key: BTreeMap<(String, String), Migration> = BTreeMap::new();
        for migration in migrations {
            let key = (migration.app.clone(), migration.name.clone());
            if by_key.contains_key(&key) {
                return Err(graph_error(format!(
                    "migration {} is defined twice",
                    migration.label()
                )));
            }
            by_key.insert(key, migration);
        }
        for migration in by_key.values() {
            for dependency in &migration.dependencies {
                if !by_key.contains_key(dependency) {
                    return Err(graph_error(format!(
                        "migration {} depends on {}.{}, which does not exist",
                        migration.label(),
                        dependency.0,
                        dependency.1
                    )));
                }
            }
        }
        // Several leaves in one app: two branches each added a migration.
        let mut depended_on: BTreeSet<&(String, String)> = BTreeSet::new();
        for migration in by_key.values() {
            depended_on.extend(migration.dependencies.iter());
        }
        let mut leaves: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (key, migration) in &by_key {
            if !depended_on.contains(key) {
                leaves
                    .entry(&migration.app)
                    .or_default()
                    .push(&migration.name);
            }
        }
        for (app, names) in &leaves {
            if names.len() > 1 {
                return Err(graph_error(format!(
                    "conflicting migrations in {app}: {} are both latest (two branches each \
                     added one); merge them with `makemigrations --merge`",
                    names.join(" and ")
                )));
            }
        }
        // Kahn's algorithm, taking the smallest (app, name) ready each time.
        let mut remaining: BTreeMap<(String, String), Migration> = by_key;
        let mut done: BTreeSet<(String, String)> = BTreeSet::new();
        let mut ordered = Vec::with_capacity(remaining.len());
        while !remaining.is_empty() {
            let ready = remaining
                .iter()
                .find(|(_, m)| m.dependencies.iter().all(|d| done.contains(d)))
                .map(|(key, _)| key.clone());
            let Some(key) = ready else {
                let stuck: Vec<String> = remaining.values().map(Migration::label).collect();
                return Err(graph_error(format!(
                    "the dependencies of these migrations form a cycle: {}",
                    stuck.join(", ")
                )));
            };
            let migration = remaining.remove(&key).expect("found above");
            done.insert(key);
            ordered.push(migration);
        }
        Ok(MigrationGraph { ordered })
    }

    /// The latest migrations of each app (more than one means two branches
    /// each added a migration: `makemigrations --merge` joins them).
    pub fn leaves(migrations: &[Migration]) -> BTreeMap<String, Vec<String>> {
        let depended_on: BTreeSet<&(String, String)> = migrations
            .iter()
            .flat_map(|m| m.dependencies.iter())
            .collect();
        let mut leaves: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for migration in migrations {
            let key = (migration.app.clone(), migration.name.clone());
            if !depended_on.contains(&key) {
                leaves
                    .entry(migration.app.clone())
                    .or_default()
                    .push(migration.name.clone());
            }
        }
        for names in leaves.values_mut() {
            names.sort();
        }
        leaves
    }

    /// Every migration, dependencies first.
    pub fn ordered(&self) -> &[Migration] {
        &self.ordered
    }

    /// The index of `app.name` in [`ordered`](Self::ordered).
    pub fn position(&self, app: &str, name: &str) -> Option<usize> {
        self.ordered
            .iter()
            .position(|m| m.app == app && m.name == name)
    }

    /// The latest migration of `app`.
    pub fn leaf(&self, app: &str) -> Option<&Migration> {
        self.ordered.iter().rev().find(|m| m.app == app)
    }

    /// The project state after the first `count` migrations.
    pub fn state_after(&self, count: usize) -> Result<ProjectState, DbError> {
        let mut state = ProjectState::new();
        for migration in &self.ordered[..count] {
            for operation in &migration.operations {
                operation.state_forwards(&mut state).map_err(|err| {
                    graph_error(format!(
                        "replaying {} (`{}`): {}",
                        migration.label(),
                        operation.describe(),
                        err.message()
                    ))
                })?;
            }
        }
        Ok(state)
    }

    /// Whether migration `later` depends, directly or not, on `earlier`.
    pub fn depends_on(&self, later: &Migration, earlier: &Migration) -> bool {
        let mut stack: Vec<&(String, String)> = later.dependencies.iter().collect();
        let mut seen = BTreeSet::new();
        while let Some(key) = stack.pop() {
            if key.0 == earlier.app && key.1 == earlier.name {
                return true;
            }
            if seen.insert(key.clone()) {
                if let Some(i) = self.position(&key.0, &key.1) {
                    stack.extend(self.ordered[i].dependencies.iter());
                }
            }
        }
        false
    }
}

fn graph_error(message: String) -> DbError {
    DbError::new(ErrorKind::Configuration, message)
}
