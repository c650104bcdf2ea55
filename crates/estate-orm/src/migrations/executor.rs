//! Applying and unapplying migrations, and recording which ran in the
//! `estate_migrations` table.
//!
//! Every migration runs under a database-wide lock and re-checks the record
//! inside it, so several processes running `migrate` at once apply each
//! migration exactly once:
//! - SQLite: one `BEGIN IMMEDIATE` transaction per migration (the write lock),
//!   with foreign key checks off around it (a table rebuild drops and
//!   recreates tables) and `PRAGMA foreign_key_check` before committing;
//! - PostgreSQL: one transaction per migration holding
//!   `pg_advisory_xact_lock`; a failure rolls back the schema change and the
//!   record together;
//! - MySQL/MariaDB: `GET_LOCK` for the whole run. Schema changes commit
//!   themselves there, so a failure leaves the earlier operations of the
//!   failing migration applied; the error says which, and the progress kept
//!   in `estate_migrations_progress` lets the next run resume after them.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::graph::{Migration, MigrationGraph};
use super::operation::Step;
use super::schema;
use super::state::{FieldState, ModelState, ProjectState};
use crate::backends::Backend;
use crate::database::Database;
use crate::error::{DbError, ErrorKind};
use crate::executor::{self, Executor};
use crate::model::FieldType;
use crate::transaction::Transaction;
use crate::value::Value;

/// Where `migrate` should take the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MigrateTarget {
    /// Every migration applied.
    Latest,
    /// Every migration of this app (and what it needs) applied.
    App(String),
    /// The app exactly at this migration: later ones of the app (and what
    /// depends on them) unapplied, earlier ones applied.
    To {
        /// The app.
        app: String,
        /// The migration to stop at.
        name: String,
    },
    /// Every migration of the app unapplied.
    Zero(String),
}

/// One migration run by [`migrate`].
#[derive(Clone, Debug)]
pub struct Applied {
    /// `app.name`.
    pub label: String,
    /// Applied (true) or unapplied (false).
    pub forwards: bool,
    /// How long it took.
    pub elapsed: Duration,
}

const TABLE: &str = "estate_migrations";
/// PostgreSQL advisory lock key for migrations ("estate" in ASCII).
const PG_LOCK: i64 = 0x0000_6573_7461_7465;
const MYSQL_LOCK: &str = "estate_migrate";

/// The recorder table, described like any model.
fn recorder() -> ModelState {
    ModelState {
        app: "estate".to_owned(),
        name: "Migration".to_owned(),
        table: TABLE.to_owned(),
        fields: vec![
            FieldState::auto("id"),
            FieldState::new("app", FieldType::String).max_length(255),
            FieldState::new("name", FieldType::String).max_length(255),
            FieldState::new("applied", FieldType::DateTime),
        ],
        constraints: vec![super::state::ConstraintState::Unique {
            name: "estate_migrations_app_name_uniq".to_owned(),
            fields: vec!["app".to_owned(), "name".to_owned()],
        }],
        indexes: Vec::new(),
    }
}

/// Creates `estate_migrations` if it is missing. On PostgreSQL `CREATE
/// TABLE IF NOT EXISTS` is not safe against itself (two processes can both
/// try, and one fails on the system catalog), so it runs under the lock.
async fn ensure_recorder<E: Executor + ?Sized>(db: &E) -> Result<(), DbError> {
    let model = recorder();
    let mut project = ProjectState::new();
    project.models.insert(model.key(), model.clone());
    let statements = schema::create_model(&project, &model, db.backend());
    executor::atomic(db, async |tx| {
        if tx.backend() == Backend::Postgres {
            executor::execute(
                tx.target(),
                "SELECT pg_advisory_xact_lock(?)",
                vec![Value::I64(PG_LOCK)],
            )
            .await?;
        }
        for statement in statements {
            let sql = statement
                .sql
                .replacen("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1);
            executor::execute(tx.target(), &sql, statement.params).await?;
        }
        Ok(())
    })
    .await
}

/// The migrations recorded as applied: (app, name).
pub async fn applied<E: Executor + ?Sized>(db: &E) -> Result<BTreeSet<(String, String)>, DbError> {
    ensure_recorder(db).await?;
    let rows = executor::fetch_all(
        db.target(),
        &format!(
            "SELECT {}, {} FROM {}",
            schema::quote(db.backend(), "app"),
            schema::quote(db.backend(), "name"),
            schema::quote(db.backend(), TABLE)
        ),
        Vec::new(),
    )
    .await?;
    rows.iter()
        .map(|row| Ok((row.get::<String, usize>(0)?, row.get::<String, usize>(1)?)))
        .collect()
}

async fn is_recorded(tx: &Transaction, migration: &Migration) -> Result<bool, DbError> {
    let backend = tx.backend();
    let sql = format!(
        "SELECT 1 FROM {} WHERE {} = ? AND {} = ?",
        schema::quote(backend, TABLE),
        schema::quote(backend, "app"),
        schema::quote(backend, "name")
    );
    let params = vec![
        Value::String(migration.app.clone()),
        Value::String(migration.name.clone()),
    ];
    Ok(executor::fetch_optional(tx.target(), &sql, params)
        .await?
        .is_some())
}

async fn record(tx: &Transaction, migration: &Migration, applied: bool) -> Result<(), DbError> {
    let backend = tx.backend();
    let quote = |name: &str| schema::quote(backend, name);
    let (sql, params) = if applied {
        (
            format!(
                "INSERT INTO {} ({}, {}, {}) VALUES (?, ?, ?)",
                quote(TABLE),
                quote("app"),
                quote("name"),
                quote("applied")
            ),
            vec![
                Value::String(migration.app.clone()),
                Value::String(migration.name.clone()),
                Value::DateTime(chrono::Utc::now()),
            ],
        )
    } else {
        (
            format!(
                "DELETE FROM {} WHERE {} = ? AND {} = ?",
                quote(TABLE),
                quote("app"),
                quote("name")
            ),
            vec![
                Value::String(migration.app.clone()),
                Value::String(migration.name.clone()),
            ],
        )
    };
    executor::execute(tx.target(), &sql, params).await?;
    Ok(())
}

const PROGRESS: &str = "estate_migrations_progress";

/// Where a half-done migration stopped (MySQL only): `done` operations of
/// `name` applied (`forwards`) or unapplied.
fn progress_table() -> ModelState {
    ModelState {
        app: "estate".to_owned(),
        name: "MigrationProgress".to_owned(),
        table: PROGRESS.to_owned(),
        fields: vec![
            FieldState::auto("id"),
            FieldState::new("app", FieldType::String).max_length(255),
            FieldState::new("name", FieldType::String).max_length(255),
            FieldState::new("forwards", FieldType::Bool),
            FieldState::new("done", FieldType::Int),
        ],
        constraints: vec![super::state::ConstraintState::Unique {
            name: "estate_migrations_progress_uniq".to_owned(),
            fields: vec!["app".to_owned(), "name".to_owned()],
        }],
        indexes: Vec::new(),
    }
}

async fn progress(
    tx: &Transaction,
    migration: &Migration,
    forwards: bool,
) -> Result<usize, DbError> {
    let backend = tx.backend();
    let model = progress_table();
    let mut project = ProjectState::new();
    project.models.insert(model.key(), model.clone());
    for statement in schema::create_model(&project, &model, backend) {
        let sql = statement
            .sql
            .replacen("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1);
        executor::execute(tx.target(), &sql, statement.params).await?;
    }
    let quote = |name: &str| schema::quote(backend, name);
    let row = executor::fetch_optional(
        tx.target(),
        &format!(
            "SELECT {}, {} FROM {} WHERE {} = ? AND {} = ?",
            quote("done"),
            quote("forwards"),
            quote(PROGRESS),
            quote("app"),
            quote("name")
        ),
        vec![
            Value::String(migration.app.clone()),
            Value::String(migration.name.clone()),
        ],
    )
    .await?;
    Ok(match row {
        Some(row) if row.get::<bool, usize>(1)? == forwards => {
            usize::try_from(row.get::<i32, usize>(0)?).unwrap_or(0)
        }
        _ => 0,
    })
}

async fn set_progress(
    tx: &Transaction,
    migration: &Migration,
    forwards: bool,
    done: usize,
) -> Result<(), DbError> {
    clear_progress(tx, migration).await?;
    let backend = tx.backend();
    let quote = |name: &str| schema::quote(backend, name);
    executor::execute(
        tx.target(),
        &format!(
            "INSERT INTO {} ({}, {}, {}, {}) VALUES (?, ?, ?, ?)",
            quote(PROGRESS),
            quote("app"),
            quote("name"),
            quote("forwards"),
            quote("done")
        ),
        vec![
            Value::String(migration.app.clone()),
            Value::String(migration.name.clone()),
            Value::Bool(forwards),
            Value::I32(i32::try_from(done).unwrap_or(i32::MAX)),
        ],
    )
    .await?;
    Ok(())
}

async fn clear_progress(tx: &Transaction, migration: &Migration) -> Result<(), DbError> {
    let backend = tx.backend();
    let quote = |name: &str| schema::quote(backend, name);
    executor::execute(
        tx.target(),
        &format!(
            "DELETE FROM {} WHERE {} = ? AND {} = ?",
            quote(PROGRESS),
            quote("app"),
            quote("name")
        ),
        vec![
            Value::String(migration.app.clone()),
            Value::String(migration.name.clone()),
        ],
    )
    .await?;
    Ok(())
}

/// Whether `m` counts as applied: recorded, or (a squash) every migration
/// it replaces is.
fn is_applied(applied: &BTreeSet<(String, String)>, m: &Migration) -> bool {
    applied.contains(&(m.app.clone(), m.name.clone()))
        || (!m.replaces.is_empty() && m.replaces.iter().all(|r| applied.contains(r)))
}

/// Which migrations to run, in order, and in which direction.
pub fn plan(
    graph: &MigrationGraph,
    applied: &BTreeSet<(String, String)>,
    target: &MigrateTarget,
) -> Result<Vec<(usize, bool)>, DbError> {
    let ordered = graph.ordered();
    let is_applied = |m: &Migration| is_applied(applied, m);
    let forwards_to = |goal: Option<usize>| -> Vec<(usize, bool)> {
        ordered
            .iter()
            .enumerate()
            .filter(|(i, m)| {
                !is_applied(m) && goal.is_none_or(|g| *i == g || graph.depends_on(&ordered[g], m))
            })
            .map(|(i, _)| (i, true))
            .collect()
    };
    // Unapplies the given migrations and every applied one depending on them.
    let backwards = |first: &[usize]| -> Vec<(usize, bool)> {
        let mut chosen: Vec<usize> = ordered
            .iter()
            .enumerate()
            .filter(|(i, m)| {
                is_applied(m)
                    && (first.contains(i)
                        || first.iter().any(|f| graph.depends_on(m, &ordered[*f])))
            })
            .map(|(i, _)| i)
            .collect();
        chosen.reverse();
        chosen.into_iter().map(|i| (i, false)).collect()
    };
    let unknown_app = |app: &str| {
        DbError::new(
            ErrorKind::Configuration,
            format!("app `{app}` has no migrations"),
        )
    };
    Ok(match target {
        MigrateTarget::Latest => forwards_to(None),
        MigrateTarget::App(app) => {
            let leaf = graph.leaf(app).ok_or_else(|| unknown_app(app))?;
            forwards_to(graph.position(&leaf.app, &leaf.name))
        }
        MigrateTarget::To { app, name } => {
            let goal = graph.position(app, name).ok_or_else(|| {
                DbError::new(
                    ErrorKind::Configuration,
                    format!("there is no migration {app}.{name}"),
                )
            })?;
            if is_applied(&ordered[goal]) {
                let later: Vec<usize> = ordered
                    .iter()
                    .enumerate()
                    .filter(|(i, m)| m.app == *app && *i > goal)
                    .map(|(i, _)| i)
                    .collect();
                backwards(&later)
            } else {
                forwards_to(Some(goal))
            }
        }
        MigrateTarget::Zero(app) => {
            graph.leaf(app).ok_or_else(|| unknown_app(app))?;
            let all: Vec<usize> = ordered
                .iter()
                .enumerate()
                .filter(|(_, m)| m.app == *app)
                .map(|(i, _)| i)
                .collect();
            backwards(&all)
        }
    })
}

/// The SQL a migration runs, forwards or backwards (`sqlmigrate`).
pub fn sql_for(
    graph: &MigrationGraph,
    index: usize,
    forwards: bool,
    backend: Backend,
) -> Result<Vec<Step>, DbError> {
    let migration = &graph.ordered()[index];
    let states = operation_states(graph, index)?;
    let mut steps = Vec::new();
    if forwards {
        for (k, operation) in migration.operations.iter().enumerate() {
            steps.extend(operation.database_forwards(&states[k], &states[k + 1], backend)?);
        }
    } else {
        for (k, operation) in migration.operations.iter().enumerate().rev() {
            steps.extend(operation.database_backwards(&states[k], &states[k + 1], backend)?);
        }
    }
    Ok(steps)
}

/// The state before each operation of migration `index`, and after the last.
fn operation_states(graph: &MigrationGraph, index: usize) -> Result<Vec<ProjectState>, DbError> {
    let migration = &graph.ordered()[index];
    let mut states = vec![graph.state_after(index)?];
    for operation in &migration.operations {
        let mut next = states.last().expect("one state at least").clone();
        operation.state_forwards(&mut next)?;
        states.push(next);
    }
    Ok(states)
}

/// Runs the plan towards `target`, calling `progress` before each migration;
/// returns what ran.
pub async fn migrate(
    db: &Database,
    graph: &MigrationGraph,
    target: &MigrateTarget,
    progress: &mut (dyn FnMut(&Migration, bool) + Send),
) -> Result<Vec<Applied>, DbError> {
    let steps = plan(graph, &applied(db).await?, target)?;
    let mut done = Vec::new();
    match db.backend() {
        Backend::MySql => {
            db.atomic(async |tx| {
                executor::execute(
                    tx.target(),
                    "SELECT GET_LOCK(?, 600)",
                    vec![Value::String(MYSQL_LOCK.to_owned())],
                )
                .await?;
                let mut outcome = Ok(());
                for &(index, forwards) in &steps {
                    let migration = &graph.ordered()[index];
                    progress(migration, forwards);
                    let started = Instant::now();
                    match run_one(tx, graph, index, forwards).await {
                        Ok(true) => done.push(applied_entry(migration, forwards, started)),
                        Ok(false) => {}
                        Err(err) => {
                            outcome = Err(err);
                            break;
                        }
                    }
                }
                executor::execute(
                    tx.target(),
                    "SELECT RELEASE_LOCK(?)",
                    vec![Value::String(MYSQL_LOCK.to_owned())],
                )
                .await?;
                outcome
            })
            .await?;
        }
        backend => {
            for &(index, forwards) in &steps {
                let migration = &graph.ordered()[index];
                progress(migration, forwards);
                let started = Instant::now();
                let body = async |tx: &Transaction| {
                    if backend == Backend::Postgres {
                        executor::execute(
                            tx.target(),
                            "SELECT pg_advisory_xact_lock(?)",
                            vec![Value::I64(PG_LOCK)],
                        )
                        .await?;
                    }
                    let ran = run_one(tx, graph, index, forwards).await?;
                    if backend == Backend::Sqlite {
                        check_sqlite_foreign_keys(tx).await?;
                    }
                    Ok::<_, DbError>(ran)
                };
                let ran = if backend == Backend::Sqlite {
                    db.atomic_with_settings(
                        Some(("PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys = ON")),
                        body,
                    )
                    .await?
                } else {
                    db.atomic(body).await?
                };
                if ran {
                    done.push(applied_entry(migration, forwards, started));
                }
            }
        }
    }
    Ok(done)
}

fn applied_entry(migration: &Migration, forwards: bool, started: Instant) -> Applied {
    Applied {
        label: migration.label(),
        forwards,
        elapsed: started.elapsed(),
    }
}

/// After a rebuild with checks off, any row pointing nowhere is an error.
async fn check_sqlite_foreign_keys(tx: &Transaction) -> Result<(), DbError> {
    let broken = executor::fetch_all(tx.target(), "PRAGMA foreign_key_check", Vec::new()).await?;
    if let Some(row) = broken.first() {
        let table: String = row.get(0)?;
        return Err(DbError::new(
            ErrorKind::ForeignKeyViolation,
            format!(
                "after the migration, rows of `{table}` point at rows that do not exist \
                 ({} broken references in all)",
                broken.len()
            ),
        ));
    }
    Ok(())
}

/// Applies or unapplies one migration on `tx`, unless another process did
/// already (then `false`).
async fn run_one(
    tx: &Transaction,
    graph: &MigrationGraph,
    index: usize,
    forwards: bool,
) -> Result<bool, DbError> {
    let migration = &graph.ordered()[index];
    let mut recorded = is_recorded(tx, migration).await?;
    if !recorded && !migration.replaces.is_empty() {
        let mut all = true;
        for (app, name) in &migration.replaces {
            all &= is_recorded(tx, &Migration::new(app.clone(), name.clone())).await?;
        }
        recorded = all;
    }
    if recorded == forwards {
        return Ok(false);
    }
    let states = operation_states(graph, index)?;
    let backend = tx.backend();
    let count = migration.operations.len();
    // MySQL commits each schema change: a migration that failed halfway
    // resumes after the operations it completed.
    let tracked = backend == Backend::MySql;
    let resume_at = if tracked {
        progress(tx, migration, forwards).await?
    } else {
        0
    };
    let order: Vec<usize> = if forwards {
        (0..count).collect()
    } else {
        (0..count).rev().collect()
    };
    for (done, &k) in order.iter().enumerate().skip(resume_at) {
        let operation = &migration.operations[k];
        let steps = if forwards {
            operation.database_forwards(&states[k], &states[k + 1], backend)
        } else {
            operation.database_backwards(&states[k], &states[k + 1], backend)
        };
        let outcome = async {
            for step in steps? {
                match step {
                    Step::Sql(statement) => {
                        executor::execute(tx.target(), &statement.sql, statement.params).await?;
                    }
                    Step::Rust(code) => code(tx).await?,
                }
            }
            Ok::<_, DbError>(())
        }
        .await;
        if let Err(err) = outcome {
            let direction = if forwards { "applying" } else { "unapplying" };
            let mut doing = format!(
                "{direction} {} failed at operation {} of {count} (`{}`)",
                migration.label(),
                k + 1,
                operation.describe()
            );
            if tracked && done > 0 {
                doing.push_str(&format!(
                    "; MySQL cannot roll back schema changes, so the {done} operation(s) before \
                     it stay done: fix the cause and run migrate again, which resumes after them"
                ));
            }
            return Err(err.context(&doing));
        }
        if tracked {
            set_progress(tx, migration, forwards, done + 1).await?;
        }
    }
    if tracked {
        clear_progress(tx, migration).await?;
    }
    record(tx, migration, forwards).await?;
    // A squash records the migrations it replaces too, so removing it later
    // leaves the history right.
    for (app, name) in &migration.replaces {
        let replaced = Migration::new(app.clone(), name.clone());
        if is_recorded(tx, &replaced).await? != forwards {
            record(tx, &replaced, forwards).await?;
        }
    }
    Ok(true)
}
