//! A property-style round trip: a seeded series of random model edits, each
//! turned into a migration by the autodetector and applied to a database
//! holding rows, must leave the same live schema as creating the final
//! model afresh — on SQLite, PostgreSQL and MySQL.

use estate::db::{Backend, Database, DbError};
use estate::orm::migrations::autodetector::{Questioner, detect};
use estate::orm::migrations::{
    FieldState, IndexState, MigrateTarget, Migration, MigrationGraph, ModelKey, ModelState,
    Operation, ProjectState, migrate,
};
use estate::orm::{FieldType, RawSql, Value, params};
use estate::test::each_backend;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Answers renames as the edit intended and fills with a typed value.
struct Script {
    rename: Option<(String, String)>,
}

impl Questioner for Script {
    fn fill_value(&mut self, _: &ModelState, field: &FieldState) -> Result<Value, DbError> {
        Ok(match field.field_type {
            FieldType::BigInt => Value::I64(7),
            FieldType::Int => Value::I32(7),
            _ => Value::String("x".into()),
        })
    }

    fn rename_field(
        &mut self,
        _: &ModelState,
        old: &FieldState,
        new: &FieldState,
    ) -> Result<bool, DbError> {
        Ok(self.rename == Some((old.name.clone(), new.name.clone())))
    }
}

fn model(app: &str, table: &str) -> ModelState {
    ModelState::new(app, "Item", table)
        .field(FieldState::auto("id"))
        .field(FieldState::new("f0", FieldType::String).max_length(20))
}

/// One random edit of the model; returns the rename it made, if any.
fn edit(model: &mut ModelState, rng: &mut Rng, counter: &mut usize) -> Option<(String, String)> {
    let others: Vec<usize> = (1..model.fields.len()).collect();
    *counter += 1;
    let fresh = format!("f{counter}");
    match rng.below(8) {
        0 => {
            model.fields.push(
                FieldState::new(&fresh, FieldType::String)
                    .max_length(10 + rng.below(50) as u32)
                    .null(),
            );
        }
        1 => model.fields.push(FieldState::new(&fresh, FieldType::Int)),
        2 if !others.is_empty() => {
            let gone = model.fields.remove(others[rng.below(others.len())]);
            model.indexes.retain(|i| !i.fields.contains(&gone.name));
        }
        3 if !others.is_empty() => {
            let field = &mut model.fields[others[rng.below(others.len())]];
            if field.field_type == FieldType::String {
                field.max_length = Some(10 + rng.below(100) as u32);
            } else if field.field_type == FieldType::Int {
                field.field_type = FieldType::BigInt;
            }
        }
        4 if !others.is_empty() => {
            let field = &mut model.fields[others[rng.below(others.len())]];
            field.null = !field.null;
        }
        5 if !others.is_empty() => {
            let index = others[rng.below(others.len())];
            let old = model.fields[index].name.clone();
            model.fields[index].name.clone_from(&fresh);
            model.fields[index].column.clone_from(&fresh);
            for i in &mut model.indexes {
                for f in &mut i.fields {
                    if *f == old {
                        f.clone_from(&fresh);
                    }
                }
            }
            return Some((old, fresh));
        }
        6 if !others.is_empty() && model.indexes.len() < 2 => {
            let field = model.fields[others[rng.below(others.len())]].name.clone();
            model.indexes.push(IndexState {
                name: format!("{}_i{counter}", model.table),
                fields: vec![field],
            });
        }
        7 if !model.indexes.is_empty() => {
            model.indexes.remove(0);
        }
        _ => model
            .fields
            .push(FieldState::new(&fresh, FieldType::BigInt).null()),
    }
    None
}

fn state(model: &ModelState) -> ProjectState {
    let mut project = ProjectState::new();
    project.models.insert(model.key(), model.clone());
    project
}

/// The live schema of `table`, with the table name replaced by `T` so two
/// tables can be compared.
async fn live_schema(db: &Database, table: &str) -> Vec<String> {
    let text = |row: &estate::orm::Row, i: usize| -> String {
        row.get::<String, usize>(i)
            .or_else(|_| row.get::<i64, usize>(i).map(|n| n.to_string()))
            .or_else(|_| row.get::<i32, usize>(i).map(|n| n.to_string()))
            .or_else(|_| row.get::<bool, usize>(i).map(|b| b.to_string()))
            .or_else(|_| {
                row.get::<Vec<u8>, usize>(i)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            })
            .unwrap_or_else(|_| "?".into())
    };
    let queries: Vec<String> = match db.backend() {
        Backend::Sqlite => vec![
            format!("SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}')"),
            format!(
                "SELECT il.name, il.\"unique\", ii.name FROM pragma_index_list('{table}') il \
                 JOIN pragma_index_info(il.name) ii WHERE il.origin = 'c'"
            ),
        ],
        Backend::Postgres => vec![
            format!(
                "SELECT column_name::text, data_type::text, COALESCE(character_maximum_length, 0)::bigint, is_nullable::text \
                 FROM information_schema.columns WHERE table_name = '{table}'"
            ),
            format!(
                "SELECT indexname::text, indexdef::text FROM pg_indexes WHERE tablename = '{table}'"
            ),
        ],
        Backend::MySql => vec![
            format!(
                "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}'"
            ),
            format!(
                "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SEQ_IN_INDEX FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}'"
            ),
        ],
    };
    let mut lines = Vec::new();
    for sql in queries {
        for row in db.fetch_all(&sql, params![]).await.unwrap() {
            let cells: Vec<String> = (0..row.len()).map(|i| text(&row, i)).collect();
            lines.push(cells.join(" | ").replace(table, "T"));
        }
    }
    lines.sort();
    lines
}

async fn round_trip(db: &Database, seed: u64) {
    let mut rng = Rng(seed);
    let steps_table = format!("steps_{seed}");
    let mut current = model("steps", &steps_table);
    let mut migrations = vec![
        Migration::new("steps", "0001_initial").operation(Operation::CreateModel(current.clone())),
    ];
    let mut counter = 0;
    for step in 2..=12 {
        let before = current.clone();
        let rename = edit(&mut current, &mut rng, &mut counter);
        let mut script = Script { rename };
        let no_defaults = |_: &ModelKey, _: &str| None;
        let changes = detect(&state(&before), &state(&current), &no_defaults, &mut script).unwrap();
        let operations = changes.operations.get("steps").cloned().unwrap_or_default();
        let previous = migrations.last().unwrap().name.clone();
        let mut migration =
            Migration::new("steps", format!("{step:04}_step")).depends_on("steps", previous);
        migration.operations = operations;
        migrations.push(migration);
    }
    // Rows exist while the schema changes underneath them.
    let graph = MigrationGraph::new(migrations.clone()).unwrap();
    migrate(
        db,
        &graph,
        &MigrateTarget::To {
            app: "steps".into(),
            name: "0001_initial".into(),
        },
        &mut |_, _| {},
    )
    .await
    .unwrap();
    for text in ["a", "b", "c"] {
        db.execute(
            &format!("INSERT INTO {steps_table} (f0) VALUES (?)"),
            params![text],
        )
        .await
        .unwrap();
    }
    migrate(db, &graph, &MigrateTarget::Latest, &mut |_, _| {})
        .await
        .unwrap_or_else(|err| {
            panic!(
                "seed {seed}: {err}\n{:#?}",
                migrations
                    .iter()
                    .map(|m| m
                        .operations
                        .iter()
                        .map(Operation::describe)
                        .collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            )
        });
    let rows = db
        .fetch_all(&format!("SELECT id FROM {steps_table}"), params![])
        .await
        .unwrap();
    assert_eq!(rows.len(), 3, "seed {seed}: the rows survive");

    // The same final model, created at once.
    let fresh_table = format!("fresh_{seed}");
    let mut fresh = current.clone();
    fresh.app = "fresh".into();
    fresh.table.clone_from(&fresh_table);
    for index in &mut fresh.indexes {
        index.name = index.name.replace(&steps_table, &fresh_table);
    }
    let fresh_graph = MigrationGraph::new(vec![
        Migration::new("fresh", "0001_initial").operation(Operation::CreateModel(fresh)),
    ])
    .unwrap();
    migrate(db, &fresh_graph, &MigrateTarget::Latest, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(
        live_schema(db, &steps_table).await,
        live_schema(db, &fresh_table).await,
        "seed {seed}: migrating step by step must give the schema of a fresh migrate"
    );
}

#[tokio::test]
async fn random_edits_migrate_to_the_schema_a_fresh_migrate_creates() {
    each_backend(async |db| {
        for seed in [1, 7, 42, 2026] {
            round_trip(&db, seed).await;
            // The two apps' records go, so the next seed starts clean.
            db.execute("DELETE FROM estate_migrations", params![])
                .await
                .unwrap();
        }
    })
    .await;
}
