//! The migration commands: `makemigrations`, `migrate`, `showmigrations`,
//! `sqlmigrate`. They read each app's models and compiled migrations (see
//! [`AppModule::migrations`](crate::AppModule::migrations)).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::path::Path;

use clap::{Arg, ArgAction};
use estate_orm::migrations::autodetector::{self, Answers, NoInput, Questioner};
use estate_orm::migrations::{
    FieldState, MigrateTarget, Migration, MigrationGraph, ModelKey, ModelState, ProjectState, Step,
    writer,
};
use estate_orm::{Backend, Database, FieldType, ModelMeta, Value};

use super::command::{CommandContext, ManagementCommand};
use crate::app_module::{AppMigrations, Models};
use crate::error::{Error, Result};

pub(crate) fn commands() -> Vec<ManagementCommand> {
    vec![
        makemigrations(),
        migrate(),
        showmigrations(),
        sqlmigrate(),
        squashmigrations(),
    ]
}

/// One installed app as the migration commands see it.
struct AppEntry {
    name: String,
    models: Vec<&'static ModelMeta>,
    migrations: Option<AppMigrations>,
}

fn apps(ctx: &CommandContext) -> Vec<AppEntry> {
    ctx.app
        .context()
        .apps()
        .iter()
        .map(|app| AppEntry {
            name: app.name.clone(),
            models: app
                .extensions
                .get::<Models>()
                .map(|m| m.0.clone())
                .unwrap_or_default(),
            migrations: app.extensions.get::<AppMigrations>().copied(),
        })
        .collect()
}

fn all_migrations(apps: &[AppEntry]) -> Vec<Migration> {
    apps.iter()
        .filter_map(|a| a.migrations)
        .flat_map(|m| (m.all)())
        .collect()
}

fn graph(apps: &[AppEntry]) -> Result<MigrationGraph> {
    Ok(MigrationGraph::new(all_migrations(apps))?)
}

/// The graph as this database sees it: a squashed migration or the ones it
/// replaces, depending on what is applied.
async fn graph_for(apps: &[AppEntry], db: &Database) -> Result<MigrationGraph> {
    let applied = estate_orm::migrations::applied(db).await?;
    let resolved = estate_orm::migrations::resolve_replacements(all_migrations(apps), &applied);
    Ok(MigrationGraph::new(resolved)?)
}

fn database(ctx: &CommandContext) -> Result<Database> {
    ctx.app
        .context()
        .get::<Database>()
        .cloned()
        .ok_or_else(|| Error::msg("no database: set DATABASE_URL (or database_url in estate.toml)"))
}

fn check_app(apps: &[AppEntry], name: &str) -> Result<()> {
    if apps.iter().any(|a| a.name == name) {
        Ok(())
    } else {
        let known: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
        Err(Error::msg(format!(
            "no installed app `{name}`; the apps are: {}",
            known.join(", ")
        )))
    }
}

/// Runs every app's post-migrate hooks (which recreate rows such as
/// permissions), after `migrate` and after `flush`, as Django does.
pub(crate) async fn run_post_migrate_hooks(ctx: &CommandContext, db: &Database) -> Result<()> {
    for app in ctx.app.context().apps() {
        if let Some(hooks) = app.extensions.get::<crate::app_module::PostMigrateHooks>() {
            for hook in &hooks.0 {
                hook(ctx.app.context().clone(), db.clone()).await?;
            }
        }
    }
    Ok(())
}

/// What `runserver` warns about: unapplied migrations, and models changed
/// without a migration (Django's startup message), naming the apps.
pub(crate) async fn startup_warnings(ctx: &CommandContext) -> Vec<String> {
    let apps = apps(ctx);
    if apps.iter().all(|a| a.migrations.is_none()) {
        return Vec::new();
    }
    let mut warnings = Vec::new();
    let Ok(graph) = graph(&apps) else {
        return vec!["the migrations cannot be ordered: run `migrate` to see why".to_owned()];
    };
    if let Ok(db) = database(ctx) {
        if let Ok(applied) = estate_orm::migrations::applied(&db).await {
            if let Ok(pending) =
                estate_orm::migrations::plan(&graph, &applied, &MigrateTarget::Latest)
            {
                if !pending.is_empty() {
                    let mut names: Vec<&str> = pending
                        .iter()
                        .map(|(i, _)| graph.ordered()[*i].app.as_str())
                        .collect();
                    names.dedup();
                    warnings.push(format!(
                        "You have {} unapplied migration(s). Your project may not work properly \
                         until you apply the migrations for app(s): {}. Run `migrate` to apply them.",
                        pending.len(),
                        names.join(", ")
                    ));
                }
            }
        }
    }
    let from = graph.state_after(graph.ordered().len());
    let to = ProjectState::from_models(
        apps.iter()
            .filter(|a| a.migrations.is_some())
            .flat_map(|a| a.models.iter().map(move |m| (a.name.as_str(), *m))),
    );
    if let Ok(from) = from {
        let changed: Vec<&str> = apps
            .iter()
            .filter(|a| a.migrations.is_some())
            .filter(|a| {
                let mine = |state: &ProjectState| -> Vec<ModelState> {
                    state.app_models(&a.name).cloned().collect()
                };
                mine(&from) != mine(&to)
            })
            .map(|a| a.name.as_str())
            .collect();
        if !changed.is_empty() {
            warnings.push(format!(
                "Your models in app(s) {} have changes that are not yet reflected in a \
                 migration. Run `makemigrations`, then `migrate`.",
                changed.join(", ")
            ));
        }
    }
    warnings
}

fn makemigrations() -> ManagementCommand {
    ManagementCommand::new(
        "makemigrations",
        "Write new migrations for model changes (--check: fail if any are missing)",
        |ctx: CommandContext| async move { make(&ctx) },
    )
    .arg(Arg::new("app").num_args(0..).help("Only these apps"))
    .arg(
        Arg::new("name")
            .long("name")
            .short('n')
            .value_name("NAME")
            .help("Name the new migration"),
    )
    .arg(
        Arg::new("empty")
            .long("empty")
            .action(ArgAction::SetTrue)
            .help("Write an empty migration (for RunSql or data migrations)"),
    )
    .arg(
        Arg::new("dry-run")
            .long("dry-run")
            .action(ArgAction::SetTrue)
            .help("Show what would be written, write nothing"),
    )
    .arg(
        Arg::new("check")
            .long("check")
            .action(ArgAction::SetTrue)
            .help("Exit with failure if migrations are missing; write nothing"),
    )
    .arg(
        Arg::new("noinput")
            .long("noinput")
            .alias("no-input")
            .action(ArgAction::SetTrue)
            .help("Never ask: renames are not assumed, a needed value is an error"),
    )
    .arg(
        Arg::new("merge")
            .long("merge")
            .action(ArgAction::SetTrue)
            .help("Join the latest migrations of apps where two branches each added one"),
    )
    .arg(
        Arg::new("rename")
            .long("rename")
            .value_name("Model.old=new | Old=New")
            .action(ArgAction::Append)
            .help("Answer a rename question without asking (repeatable; for CI)"),
    )
}

/// Asks on the terminal for a one-off value for existing rows.
struct Terminal;

impl Questioner for Terminal {
    fn fill_value(
        &mut self,
        model: &ModelState,
        field: &FieldState,
    ) -> std::result::Result<Value, estate_orm::DbError> {
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "The NOT NULL field `{}` of {} needs a value for the existing rows (new rows, or \
             NULLs).\nType a one-off value for them ({:?}), or press Enter to stop and give \
             the field a default or make it an Option instead:",
            field.name, model.name, field.field_type
        );
        let _ = write!(out, ">>> ");
        let _ = out.flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        let text = line.trim();
        if text.is_empty() {
            return NoInput.fill_value(model, field);
        }
        parse_value(field.field_type, text).map_err(|message| {
            estate_orm::DbError::new(estate_orm::ErrorKind::Configuration, message)
        })
    }

    fn rename_field(
        &mut self,
        model: &ModelState,
        old: &FieldState,
        new: &FieldState,
    ) -> std::result::Result<bool, estate_orm::DbError> {
        Ok(Terminal::ask_rename_field(model, old, new))
    }

    fn rename_model(
        &mut self,
        old: &ModelState,
        new: &ModelState,
    ) -> std::result::Result<bool, estate_orm::DbError> {
        Ok(confirm(&format!(
            "Did you rename the {}.{} model to {}?",
            old.app, old.name, new.name
        )))
    }
}

/// Asks a yes/no question on the terminal; no answer is no.
fn confirm(question: &str) -> bool {
    let mut out = std::io::stdout();
    let _ = write!(out, "{question} [y/N] ");
    let _ = out.flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes" | "Yes")
}

impl Terminal {
    fn ask_rename_field(model: &ModelState, old: &FieldState, new: &FieldState) -> bool {
        confirm(&format!(
            "Did you rename {}.{} to {}.{} (a {:?})?",
            model.name, old.name, model.name, new.name, new.field_type
        ))
    }
}

/// A typed value from text, for one-off defaults.
fn parse_value(field_type: FieldType, text: &str) -> std::result::Result<Value, String> {
    let unquoted = text.trim_matches(|c| c == '"' || c == '\'');
    let bad = |what: &str| format!("{text:?} is not {what}");
    Ok(match field_type {
        FieldType::SmallInt => Value::I16(text.parse().map_err(|_| bad("a small integer"))?),
        FieldType::Int | FieldType::AutoInt => {
            Value::I32(text.parse().map_err(|_| bad("an integer"))?)
        }
        FieldType::BigInt | FieldType::AutoBigInt => {
            Value::I64(text.parse().map_err(|_| bad("an integer"))?)
        }
        FieldType::Bool => Value::Bool(match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return Err(bad("true or false")),
        }),
        FieldType::Float => Value::F64(text.parse().map_err(|_| bad("a number"))?),
        FieldType::String => Value::String(unquoted.to_owned()),
        FieldType::Decimal => Value::Decimal(unquoted.parse().map_err(|_| bad("a decimal"))?),
        FieldType::Date => Value::Date(unquoted.parse().map_err(|_| bad("a date (2026-01-31)"))?),
        FieldType::Time => Value::Time(unquoted.parse().map_err(|_| bad("a time (12:30:00)"))?),
        FieldType::DateTime => Value::DateTime(
            unquoted
                .parse()
                .map_err(|_| bad("a moment (2026-01-31T12:30:00Z)"))?,
        ),
        FieldType::Uuid => Value::Uuid(unquoted.parse().map_err(|_| bad("a UUID"))?),
        FieldType::Json => Value::Json(serde_json::from_str(text).map_err(|_| bad("JSON"))?),
        FieldType::Bytes => Value::Bytes(unquoted.as_bytes().to_vec()),
        _ => return Err(bad("a supported value")),
    })
}

/// The number at the start of a migration name (`0002_x` → 2).
fn number(name: &str) -> u32 {
    name.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

fn make(ctx: &CommandContext) -> Result<()> {
    let apps = apps(ctx);
    let selected: Vec<String> = ctx
        .args
        .get_many::<String>("app")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    for name in &selected {
        check_app(&apps, name)?;
    }
    let wanted = |app: &str| selected.is_empty() || selected.iter().any(|s| s == app);
    if ctx.args.get_flag("merge") {
        return merge(ctx, &apps, &wanted);
    }
    let graph = graph(&apps)?;
    let from = graph.state_after(graph.ordered().len())?;
    let to = ProjectState::from_models(
        apps.iter()
            .flat_map(|a| a.models.iter().map(move |m| (a.name.as_str(), *m))),
    );
    let metas: BTreeMap<ModelKey, &'static ModelMeta> = apps
        .iter()
        .flat_map(|a| {
            a.models
                .iter()
                .map(move |m| (ModelKey::new(&a.name, m.name), *m))
        })
        .collect();
    let defaults = |key: &ModelKey, field: &str| -> Option<Value> {
        let default = metas.get(key)?.field(field)?.default?;
        Some(default())
    };
    let mut out = ctx.out();
    let mut changes = if ctx.args.get_flag("empty") {
        if selected.is_empty() {
            return Err(Error::msg(
                "makemigrations --empty needs the app: makemigrations --empty polls",
            ));
        }
        let mut empty = autodetector::Changes::default();
        for app in &selected {
            empty.operations.insert(app.clone(), Vec::new());
        }
        empty
    } else {
        let renames: Vec<String> = ctx
            .args
            .get_many::<String>("rename")
            .map(|v| v.cloned().collect())
            .unwrap_or_default();
        let mut no_input = NoInput;
        let mut terminal = Terminal;
        let inner: &mut dyn Questioner =
            if ctx.args.get_flag("noinput") || ctx.args.get_flag("check") {
                &mut no_input
            } else {
                &mut terminal
            };
        let mut answers = Answers { renames, inner };
        autodetector::detect(&from, &to, &defaults, &mut answers)?
    };
    changes.operations.retain(|app, _| wanted(app));
    if changes.operations.is_empty() {
        match selected.as_slice() {
            [one] => writeln!(out, "No changes detected in app '{one}'")?,
            [] => writeln!(out, "No changes detected")?,
            many => writeln!(out, "No changes detected in apps '{}'", many.join("', '"))?,
        }
        return Ok(());
    }
    // Names first: a new migration may depend on another app's new one.
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for (app, operations) in &changes.operations {
        let next = graph.leaf(app).map_or(1, |leaf| number(&leaf.name) + 1);
        let name = match ctx.args.get_one::<String>("name") {
            Some(given) => format!("{next:04}_{given}"),
            None => writer::suggest_name(next, operations),
        };
        names.insert(app.clone(), name);
    }
    let generated_by = format!(
        "written by Estate {} on {}",
        env!("CARGO_PKG_VERSION"),
        estate_orm::chrono::Utc::now().format("%Y-%m-%d")
    );
    let mut pending = Vec::new();
    for (app, operations) in std::mem::take(&mut changes.operations) {
        let entry = apps
            .iter()
            .find(|a| a.name == app)
            .ok_or_else(|| Error::msg(format!("models of `{app}` belong to no installed app")))?;
        let Some(folder) = entry.migrations else {
            return Err(Error::msg(format!(
                "app `{app}` has models but no migrations folder: create \
                 src/{app}/migrations/mod.rs with `pub fn all() -> Vec<estate::orm::migrations::Migration> {{ vec![] }}`, \
                 declare `mod migrations;` in the app, and add \
                 `.migrations(estate::migrations_dir!(\"src/{app}/migrations\"), {app}::migrations::all)` to its AppModule"
            )));
        };
        let mut migration = Migration::new(app.clone(), names[&app].clone());
        if let Some(leaf) = graph.leaf(&app) {
            migration = migration.depends_on(app.clone(), leaf.name.clone());
        }
        for other in changes.dependencies.get(&app).into_iter().flatten() {
            let target = names
                .get(other)
                .cloned()
                .or_else(|| graph.leaf(other).map(|m| m.name.clone()));
            if let Some(target) = target {
                migration = migration.depends_on(other.clone(), target);
            }
        }
        migration.operations = operations;
        pending.push((folder, migration));
    }
    for (folder, migration) in &pending {
        let path = Path::new(folder.dir).join(format!("{}.rs", migration.name));
        writeln!(out, "Migrations for '{}':", migration.app)?;
        writeln!(out, "  {}", path.display())?;
        for operation in &migration.operations {
            writeln!(out, "    - {}", operation.describe())?;
        }
    }
    if ctx.args.get_flag("check") {
        return Err(Error::msg(
            "makemigrations --check: models have changes that are not in migrations yet; run makemigrations",
        ));
    }
    if ctx.args.get_flag("dry-run") {
        return Ok(());
    }
    for (folder, migration) in &pending {
        let dir = Path::new(folder.dir);
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}.rs", migration.name));
        if path.exists() {
            return Err(Error::msg(format!(
                "{} exists already; rebuild the project so its migrations are compiled in, or \
                 name this one with --name",
                path.display()
            )));
        }
        std::fs::write(&path, writer::migration_source(migration, &generated_by))?;
        let mut listed: Vec<String> = graph
            .ordered()
            .iter()
            .filter(|m| m.app == migration.app)
            .map(|m| m.name.clone())
            .collect();
        listed.push(migration.name.clone());
        std::fs::write(
            dir.join("mod.rs"),
            writer::module_source(&migration.app, &listed),
        )?;
        format_source(&path);
    }
    writeln!(
        out,
        "Rebuild the project to compile the new migrations in, then run migrate."
    )?;
    Ok(())
}

/// Formats a written file with rustfmt when it is installed (it usually is,
/// with cargo); the file is valid either way.
fn format_source(path: &Path) {
    let _ = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .arg(path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// `makemigrations --merge`: one migration depending on every latest
/// migration of an app that has several (two branches each added one).
fn merge(ctx: &CommandContext, apps: &[AppEntry], wanted: &dyn Fn(&str) -> bool) -> Result<()> {
    let all: Vec<Migration> = apps
        .iter()
        .filter_map(|a| a.migrations)
        .flat_map(|m| (m.all)())
        .collect();
    let mut out = ctx.out();
    let mut merged = false;
    for (app, leaves) in MigrationGraph::leaves(&all) {
        if leaves.len() < 2 || !wanted(&app) {
            continue;
        }
        let folder = apps
            .iter()
            .find(|a| a.name == app)
            .and_then(|a| a.migrations)
            .ok_or_else(|| Error::msg(format!("app `{app}` has no migrations folder")))?;
        let next = leaves.iter().map(|l| number(l)).max().unwrap_or(0) + 1;
        let name = match ctx.args.get_one::<String>("name") {
            Some(given) => format!("{next:04}_{given}"),
            None => {
                let mut name = format!("{next:04}_merge_{}", leaves.join("_"));
                name.truncate(60);
                name
            }
        };
        let mut migration = Migration::new(app.clone(), name.clone());
        for leaf in &leaves {
            migration = migration.depends_on(app.clone(), leaf.clone());
        }
        writeln!(out, "Merging {app}: {}", leaves.join(" and "))?;
        let dir = Path::new(folder.dir);
        let path = dir.join(format!("{name}.rs"));
        writeln!(out, "  {}", path.display())?;
        merged = true;
        if ctx.args.get_flag("dry-run") {
            continue;
        }
        std::fs::write(
            &path,
            writer::migration_source(&migration, "a merge written by Estate"),
        )?;
        let mut listed: Vec<String> = all
            .iter()
            .filter(|m| m.app == app)
            .map(|m| m.name.clone())
            .collect();
        listed.push(name);
        std::fs::write(dir.join("mod.rs"), writer::module_source(&app, &listed))?;
        format_source(&path);
    }
    if !merged {
        writeln!(out, "No conflicts detected to merge.")?;
    }
    Ok(())
}

fn migrate() -> ManagementCommand {
    ManagementCommand::new(
        "migrate",
        "Apply (or unapply) migrations: migrate [app [migration|zero]]",
        |ctx: CommandContext| async move {
            let apps = apps(&ctx);
            let db = database(&ctx)?;
            let graph = graph_for(&apps, &db).await?;
            let app = ctx.args.get_one::<String>("app").cloned();
            let target = match (&app, ctx.args.get_one::<String>("migration")) {
                (None, _) => MigrateTarget::Latest,
                (Some(app), None) => {
                    check_app(&apps, app)?;
                    MigrateTarget::App(app.clone())
                }
                (Some(app), Some(zero)) if zero == "zero" => MigrateTarget::Zero(app.clone()),
                (Some(app), Some(prefix)) => {
                    let matches: Vec<&Migration> = graph
                        .ordered()
                        .iter()
                        .filter(|m| m.app == *app && m.name.starts_with(prefix.as_str()))
                        .collect();
                    match matches.as_slice() {
                        [one] => MigrateTarget::To {
                            app: app.clone(),
                            name: one.name.clone(),
                        },
                        [] => {
                            return Err(Error::msg(format!(
                                "app `{app}` has no migration matching `{prefix}`"
                            )));
                        }
                        many => {
                            let names: Vec<&str> = many.iter().map(|m| m.name.as_str()).collect();
                            return Err(Error::msg(format!(
                                "`{prefix}` matches several migrations of `{app}`: {}",
                                names.join(", ")
                            )));
                        }
                    }
                }
            };
            let mut out = ctx.out();
            writeln!(out, "Operations to perform:")?;
            writeln!(out, "  {}", describe_target(&target))?;
            writeln!(out, "Running migrations:")?;
            let mut progress_out = ctx.out();
            let done = estate_orm::migrations::migrate(&db, &graph, &target, &mut |m, forwards| {
                let verb = if forwards { "Applying" } else { "Unapplying" };
                let _ = writeln!(progress_out, "  {verb} {}...", m.label());
            })
            .await?;
            if done.is_empty() {
                writeln!(out, "  No migrations to apply.")?;
            }
            if !matches!(target, MigrateTarget::Zero(_)) {
                run_post_migrate_hooks(&ctx, &db).await?;
            }
            for applied in &done {
                writeln!(
                    out,
                    "  {} {} OK ({} ms)",
                    if applied.forwards {
                        "Applied"
                    } else {
                        "Unapplied"
                    },
                    applied.label,
                    applied.elapsed.as_millis()
                )?;
            }
            Ok(())
        },
    )
    .arg(Arg::new("app").help("Only this app (and what it needs)"))
    .arg(Arg::new("migration").help(
        "Go to this migration of the app (a name or its number), or `zero` to unapply them all",
    ))
}

fn describe_target(target: &MigrateTarget) -> String {
    match target {
        MigrateTarget::Latest => "Apply all migrations".to_owned(),
        MigrateTarget::App(app) => format!("Apply all migrations of {app}"),
        MigrateTarget::To { app, name } => format!("Target {app}.{name}"),
        MigrateTarget::Zero(app) => format!("Unapply all migrations of {app}"),
    }
}

fn showmigrations() -> ManagementCommand {
    ManagementCommand::new(
        "showmigrations",
        "List each app's migrations, [X] applied or [ ] not",
        |ctx: CommandContext| async move {
            let apps = apps(&ctx);
            let db = database(&ctx)?;
            let graph = graph_for(&apps, &db).await?;
            let applied = estate_orm::migrations::applied(&db).await?;
            let mut out = ctx.out();
            let selected: BTreeSet<String> = ctx
                .args
                .get_many::<String>("app")
                .map(|v| v.cloned().collect())
                .unwrap_or_default();
            for app in &apps {
                if !selected.is_empty() && !selected.contains(&app.name) {
                    continue;
                }
                writeln!(out, "{}", app.name)?;
                let mine: Vec<&Migration> = graph
                    .ordered()
                    .iter()
                    .filter(|m| m.app == app.name)
                    .collect();
                if mine.is_empty() {
                    writeln!(out, " (no migrations)")?;
                }
                for m in mine {
                    let done = applied.contains(&(m.app.clone(), m.name.clone()))
                        || (!m.replaces.is_empty()
                            && m.replaces.iter().all(|r| applied.contains(r)));
                    let mark = if done { "X" } else { " " };
                    writeln!(out, " [{mark}] {}", m.name)?;
                }
            }
            Ok(())
        },
    )
    .arg(Arg::new("app").num_args(0..).help("Only these apps"))
}

fn sqlmigrate() -> ManagementCommand {
    ManagementCommand::new(
        "sqlmigrate",
        "Print the SQL of a migration for the configured database",
        |ctx: CommandContext| async move {
            let apps = apps(&ctx);
            let graph = graph(&apps)?;
            let app = ctx
                .args
                .get_one::<String>("app")
                .cloned()
                .unwrap_or_default();
            let name = ctx
                .args
                .get_one::<String>("migration")
                .cloned()
                .unwrap_or_default();
            let index = graph
                .ordered()
                .iter()
                .position(|m| m.app == app && m.name.starts_with(&name))
                .ok_or_else(|| Error::msg(format!("app `{app}` has no migration `{name}`")))?;
            let backend = match &ctx.app.settings().database_url {
                Some(url) => Backend::from_url(url)?,
                None => database(&ctx)?.backend(),
            };
            let forwards = !ctx.args.get_flag("backwards");
            let mut out = ctx.out();
            writeln!(out, "-- {} ({backend:?})", graph.ordered()[index].label())?;
            for step in estate_orm::migrations::sql_for(&graph, index, forwards, backend)? {
                match step {
                    Step::Sql(statement) => writeln!(out, "{statement};")?,
                    Step::Rust(_) => writeln!(out, "-- (Rust code: a data migration)")?,
                }
            }
            Ok(())
        },
    )
    .arg(Arg::new("app").required(true))
    .arg(Arg::new("migration").required(true))
    .arg(
        Arg::new("backwards")
            .long("backwards")
            .action(ArgAction::SetTrue)
            .help("The SQL that unapplies it"),
    )
}

fn squashmigrations() -> ManagementCommand {
    ManagementCommand::new(
        "squashmigrations",
        "Squash an app's migrations up to one into a single migration",
        |ctx: CommandContext| async move {
            let apps = apps(&ctx);
            let app = ctx
                .args
                .get_one::<String>("app")
                .cloned()
                .unwrap_or_default();
            let upto = ctx
                .args
                .get_one::<String>("migration")
                .cloned()
                .unwrap_or_default();
            check_app(&apps, &app)?;
            let folder = apps
                .iter()
                .find(|a| a.name == app)
                .and_then(|a| a.migrations)
                .ok_or_else(|| Error::msg(format!("app `{app}` has no migrations folder")))?;
            let graph = graph(&apps)?;
            let mine: Vec<&Migration> = graph.ordered().iter().filter(|m| m.app == app).collect();
            let end = mine
                .iter()
                .position(|m| m.name.starts_with(upto.as_str()))
                .ok_or_else(|| Error::msg(format!("app `{app}` has no migration `{upto}`")))?;
            let chosen = &mine[..=end];
            if chosen.len() < 2 {
                return Err(Error::msg(format!(
                    "nothing to squash: `{upto}` is the first migration of `{app}`"
                )));
            }
            let name = match ctx.args.get_one::<String>("squashed-name") {
                Some(given) => format!("{:04}_{given}", number(&chosen[0].name)),
                None => format!(
                    "{:04}_squashed_{}",
                    number(&chosen[0].name),
                    chosen[end].name
                ),
            };
            let squashed = estate_orm::migrations::squash(&app, &name, chosen)?;
            let dir = Path::new(folder.dir);
            let path = dir.join(format!("{name}.rs"));
            if path.exists() {
                return Err(Error::msg(format!("{} exists already", path.display())));
            }
            std::fs::write(
                &path,
                writer::migration_source(&squashed, "a squash written by Estate"),
            )?;
            let mut listed: Vec<String> = all_migrations(&apps)
                .iter()
                .filter(|m| m.app == app)
                .map(|m| m.name.clone())
                .collect();
            listed.push(name.clone());
            std::fs::write(dir.join("mod.rs"), writer::module_source(&app, &listed))?;
            format_source(&path);
            let mut out = ctx.out();
            writeln!(
                out,
                "Squashed {} migrations into {} ({} operations instead of {}).",
                chosen.len(),
                path.display(),
                squashed.operations.len(),
                chosen.iter().map(|m| m.operations.len()).sum::<usize>()
            )?;
            writeln!(
                out,
                "Databases that applied none or all of them use the squash. Once every \
                 deployment has migrated past it, delete the replaced files and their lines in \
                 mod.rs, and remove the `.replaces(...)` lines."
            )?;
            Ok(())
        },
    )
    .arg(Arg::new("app").required(true))
    .arg(
        Arg::new("migration")
            .required(true)
            .help("The last migration to squash (a name or its number)"),
    )
    .arg(
        Arg::new("squashed-name")
            .long("squashed-name")
            .value_name("NAME")
            .help("Name the squashed migration"),
    )
}
