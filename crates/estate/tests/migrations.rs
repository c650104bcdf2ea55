//! Migrations on every backend: forwards, backwards and forwards again with
//! the rows kept, failures that leave nothing half-done, concurrent runs,
//! data migrations, and a graph that refuses what it cannot order.

use estate::db::{Backend, Database, DbError, ErrorKind};
use estate::orm::migrations::{
    ConstraintState, FieldState, IndexState, MigrateTarget, Migration, MigrationGraph, ModelKey,
    ModelState, Operation, RustFuture, applied, migrate, plan,
};
use estate::orm::{FieldType, OnDelete, RawSql, Value, params};
use estate::test::each_backend;

fn question() -> ModelState {
    ModelState::new("polls", "Question", "polls_question")
        .field(FieldState::auto("id"))
        .field(FieldState::new("question_text", FieldType::String).max_length(50))
        .field(FieldState::new("votes", FieldType::Int))
}

fn choice() -> ModelState {
    ModelState::new("polls", "Choice", "polls_choice")
        .field(FieldState::auto("id"))
        .field(
            FieldState::new("question", FieldType::BigInt)
                .column("question_id")
                .references(ModelKey::new("polls", "Question"), OnDelete::Cascade),
        )
        .field(FieldState::new("choice_text", FieldType::String).max_length(20))
}

fn history() -> Vec<Migration> {
    vec![
        Migration::new("polls", "0001_initial")
            .operation(Operation::CreateModel(question()))
            .operation(Operation::CreateModel(choice())),
        Migration::new("polls", "0002_slug_and_note")
            .depends_on("polls", "0001_initial")
            .operation(Operation::AddField {
                app: "polls".into(),
                model: "Question".into(),
                field: FieldState::new("slug", FieldType::String)
                    .max_length(30)
                    .unique()
                    .null(),
                fill: None,
            })
            .operation(Operation::AddField {
                app: "polls".into(),
                model: "Question".into(),
                field: FieldState::new("status", FieldType::String).max_length(10),
                fill: Some(Value::String("draft".into())),
            })
            .operation(Operation::AddField {
                app: "polls".into(),
                model: "Question".into(),
                field: FieldState::new("note", FieldType::String).null(),
                fill: None,
            }),
        Migration::new("polls", "0003_drop_votes")
            .depends_on("polls", "0002_slug_and_note")
            .operation(Operation::RemoveField {
                app: "polls".into(),
                model: "Question".into(),
                name: "votes".into(),
                fill: Some(Value::I32(0)),
            })
            .operation(Operation::RemoveField {
                app: "polls".into(),
                model: "Choice".into(),
                name: "question".into(),
                fill: Some(Value::I64(1)),
            }),
    ]
}

async fn run(db: &Database, graph: &MigrationGraph, target: MigrateTarget) -> Vec<String> {
    migrate(db, graph, &target, &mut |_, _| {})
        .await
        .unwrap()
        .into_iter()
        .map(|a| format!("{}{}", if a.forwards { "+" } else { "-" }, a.label))
        .collect()
}

async fn texts(db: &Database) -> Vec<String> {
    db.fetch_all(
        "SELECT question_text FROM polls_question ORDER BY id",
        params![],
    )
    .await
    .unwrap()
    .iter()
    .map(|row| row.get::<String, usize>(0).unwrap())
    .collect()
}

async fn has_column(db: &Database, table: &str, column: &str) -> bool {
    db.fetch_all(&format!("SELECT {column} FROM {table}"), params![])
        .await
        .is_ok()
}

#[tokio::test]
async fn forwards_backwards_and_forwards_again_keep_the_rows() {
    each_backend(async |db| {
        let graph = MigrationGraph::new(history()).unwrap();
        let first = MigrateTarget::To {
            app: "polls".into(),
            name: "0001_initial".into(),
        };
        assert_eq!(
            run(&db, &graph, first.clone()).await,
            ["+polls.0001_initial"]
        );
        for (text, votes) in [("Why?", 3), ("How?", 5)] {
            db.execute(
                "INSERT INTO polls_question (question_text, votes) VALUES (?, ?)",
                params![text, votes],
            )
            .await
            .unwrap();
        }
        db.execute(
            "INSERT INTO polls_choice (question_id, choice_text) VALUES (?, ?)",
            params![1i64, "Because"],
        )
        .await
        .unwrap();

        // Forwards: a nullable unique column, a NOT NULL one filled for the
        // existing rows, a nullable one; then two columns dropped.
        assert_eq!(
            run(&db, &graph, MigrateTarget::Latest).await,
            ["+polls.0002_slug_and_note", "+polls.0003_drop_votes"]
        );
        assert_eq!(texts(&db).await, ["Why?", "How?"]);
        let statuses = db
            .fetch_all("SELECT status FROM polls_question", params![])
            .await
            .unwrap();
        assert!(
            statuses
                .iter()
                .all(|r| r.get::<String, usize>(0).unwrap() == "draft")
        );
        assert!(!has_column(&db, "polls_question", "votes").await);
        assert!(!has_column(&db, "polls_choice", "question_id").await);
        // The new NOT NULL column refuses NULL; the unique one duplicates.
        let err = db
            .execute(
                "INSERT INTO polls_question (question_text, status) VALUES (?, NULL)",
                params!["x"],
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotNullViolation, "{err}");
        db.execute("UPDATE polls_question SET slug = ?", params!["same"])
            .await
            .unwrap_err();

        // Nothing left to do.
        assert!(run(&db, &graph, MigrateTarget::Latest).await.is_empty());

        // Backwards to 0001: the columns come back (votes filled with 0),
        // the added ones go, the rows stay.
        assert_eq!(
            run(&db, &graph, first).await,
            ["-polls.0003_drop_votes", "-polls.0002_slug_and_note"]
        );
        assert_eq!(texts(&db).await, ["Why?", "How?"]);
        let votes = db
            .fetch_all("SELECT votes FROM polls_question", params![])
            .await
            .unwrap();
        assert!(votes.iter().all(|r| r.get::<i32, usize>(0).unwrap() == 0));
        assert!(!has_column(&db, "polls_question", "slug").await);
        assert!(has_column(&db, "polls_choice", "question_id").await);

        // And forwards again.
        assert_eq!(run(&db, &graph, MigrateTarget::Latest).await.len(), 2);
        assert_eq!(texts(&db).await, ["Why?", "How?"]);

        // Zero: every table of the app gone, the record empty.
        assert_eq!(
            run(&db, &graph, MigrateTarget::Zero("polls".into())).await,
            [
                "-polls.0003_drop_votes",
                "-polls.0002_slug_and_note",
                "-polls.0001_initial"
            ]
        );
        assert!(!has_column(&db, "polls_question", "id").await);
        assert!(applied(&db).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_failing_migration_leaves_nothing_half_done() {
    each_backend(async |db| {
        let mut migrations = history();
        migrations.truncate(1);
        migrations.push(
            Migration::new("polls", "0002_broken")
                .depends_on("polls", "0001_initial")
                .operation(Operation::AddField {
                    app: "polls".into(),
                    model: "Question".into(),
                    field: FieldState::new("note", FieldType::String).null(),
                    fill: None,
                })
                .operation(Operation::RunSql {
                    forward: vec!["UPDATE nowhere SET x = 1".into()],
                    backward: None,
                }),
        );
        let graph = MigrationGraph::new(migrations).unwrap();
        let err = migrate(&db, &graph, &MigrateTarget::Latest, &mut |_, _| {})
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(
                "applying polls.0002_broken failed at operation 2 of 2 (`Raw SQL operation`)"
            ),
            "{message}"
        );
        let recorded = applied(&db).await.unwrap();
        assert!(recorded.contains(&("polls".into(), "0001_initial".into())));
        assert!(!recorded.contains(&("polls".into(), "0002_broken".into())));
        if db.backend() == Backend::MySql {
            // Schema changes commit themselves on MySQL: the error says so,
            // and once the cause is fixed, migrate resumes after them.
            assert!(
                message.contains("1 operation(s) before it stay done"),
                "{message}"
            );
            assert!(message.contains("resumes after them"), "{message}");
            let mut fixed = history();
            fixed.truncate(1);
            fixed.push(
                Migration::new("polls", "0002_broken")
                    .depends_on("polls", "0001_initial")
                    .operation(Operation::AddField {
                        app: "polls".into(),
                        model: "Question".into(),
                        field: FieldState::new("note", FieldType::String).null(),
                        fill: None,
                    })
                    .operation(Operation::RunSql {
                        forward: vec!["UPDATE polls_question SET note = 'fixed'".into()],
                        backward: None,
                    }),
            );
            let graph = MigrationGraph::new(fixed).unwrap();
            assert_eq!(
                run(&db, &graph, MigrateTarget::Latest).await,
                ["+polls.0002_broken"]
            );
            assert!(has_column(&db, "polls_question", "note").await);
        } else {
            assert!(!has_column(&db, "polls_question", "note").await);
        }
    })
    .await;
}

#[tokio::test]
async fn concurrent_runs_apply_each_migration_once() {
    each_backend(async |db| {
        let graph = MigrationGraph::new(history()).unwrap();
        let runs = (0..4).map(|_| {
            let db = db.clone();
            let graph = graph.clone();
            tokio::spawn(async move {
                migrate(&db, &graph, &MigrateTarget::Latest, &mut |_, _| {})
                    .await
                    .map(|done| done.len())
            })
        });
        let mut total = 0;
        for run in runs {
            total += run.await.unwrap().unwrap();
        }
        assert_eq!(total, 3, "each migration applied by exactly one run");
        assert_eq!(applied(&db).await.unwrap().len(), 3);
    })
    .await;
}

fn add_rows(tx: &estate::db::Transaction) -> RustFuture<'_> {
    Box::pin(async move {
        tx.execute(
            "INSERT INTO polls_question (question_text, votes) VALUES (?, ?)",
            params!["Seeded", 1],
        )
        .await?;
        Ok(())
    })
}

fn remove_rows(tx: &estate::db::Transaction) -> RustFuture<'_> {
    Box::pin(async move {
        tx.execute(
            "DELETE FROM polls_question WHERE question_text = ?",
            params!["Seeded"],
        )
        .await?;
        Ok(())
    })
}

#[tokio::test]
async fn data_migrations_run_rust_both_ways() {
    each_backend(async |db| {
        let mut migrations = history();
        migrations.truncate(1);
        migrations.push(
            Migration::new("polls", "0002_seed")
                .depends_on("polls", "0001_initial")
                .operation(Operation::RunRust {
                    forward: add_rows,
                    backward: Some(remove_rows),
                }),
        );
        migrations.push(
            Migration::new("polls", "0003_one_way")
                .depends_on("polls", "0002_seed")
                .operation(Operation::RunSql {
                    forward: vec!["UPDATE polls_question SET votes = votes + 1".into()],
                    backward: None,
                }),
        );
        let graph = MigrationGraph::new(migrations).unwrap();
        run(&db, &graph, MigrateTarget::Latest).await;
        assert_eq!(texts(&db).await, ["Seeded"]);
        // The one-way migration cannot be undone, and says so.
        let err = migrate(
            &db,
            &graph,
            &MigrateTarget::To {
                app: "polls".into(),
                name: "0001_initial".into(),
            },
            &mut |_, _| {},
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("cannot be undone"), "{err}");
        assert_eq!(applied(&db).await.unwrap().len(), 3);
    })
    .await;
}

#[test]
fn the_graph_orders_apps_and_refuses_what_it_cannot_order() {
    let polls = Migration::new("polls", "0001_initial");
    let auth = Migration::new("auth", "0001_initial");
    let polls2 = Migration::new("polls", "0002_author")
        .depends_on("polls", "0001_initial")
        .depends_on("auth", "0001_initial");
    let graph = MigrationGraph::new(vec![polls2.clone(), polls.clone(), auth.clone()]).unwrap();
    let order: Vec<String> = graph.ordered().iter().map(Migration::label).collect();
    assert_eq!(
        order,
        [
            "auth.0001_initial",
            "polls.0001_initial",
            "polls.0002_author"
        ]
    );
    // Migrating one app applies what it needs from others.
    let steps = plan(
        &graph,
        &Default::default(),
        &MigrateTarget::App("polls".into()),
    )
    .unwrap();
    assert_eq!(steps.len(), 3);
    // Unapplying auth takes the polls migration that needs it along.
    let all = graph
        .ordered()
        .iter()
        .map(|m| (m.app.clone(), m.name.clone()))
        .collect();
    let back = plan(&graph, &all, &MigrateTarget::Zero("auth".into())).unwrap();
    let labels: Vec<String> = back
        .iter()
        .map(|(i, _)| graph.ordered()[*i].label())
        .collect();
    assert_eq!(labels, ["polls.0002_author", "auth.0001_initial"]);

    let err = MigrationGraph::new(vec![
        polls.clone(),
        Migration::new("polls", "0002_a").depends_on("polls", "0001_initial"),
        Migration::new("polls", "0002_b").depends_on("polls", "0001_initial"),
    ])
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("conflicting migrations in polls: 0002_a and 0002_b"),
        "{err}"
    );
    let err = MigrationGraph::new(vec![polls2]).unwrap_err();
    assert!(
        err.to_string()
            .contains("depends on polls.0001_initial, which does not exist"),
        "{err}"
    );
    let err = MigrationGraph::new(vec![
        Migration::new("a", "0001").depends_on("b", "0001"),
        Migration::new("b", "0001").depends_on("a", "0001"),
    ])
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    let _: Option<DbError> = None;
}

fn survey() -> ModelState {
    ModelState::new("polls", "Question", "polls_question")
        .field(FieldState::auto("id"))
        .field(FieldState::new("question_text", FieldType::String).max_length(50))
        .field(FieldState::new("votes", FieldType::Int))
        .field(FieldState::new("code", FieldType::String).max_length(10))
        .field(
            FieldState::new("note", FieldType::String)
                .max_length(20)
                .null(),
        )
}

fn alter(field: FieldState, fill: Option<Value>) -> Operation {
    Operation::AlterField {
        app: "polls".into(),
        model: "Question".into(),
        field,
        fill,
    }
}

fn evolution() -> Vec<Migration> {
    vec![
        Migration::new("polls", "0001_initial").operation(Operation::CreateModel(survey())),
        Migration::new("polls", "0002_alter")
            .depends_on("polls", "0001_initial")
            .operation(alter(
                FieldState::new("question_text", FieldType::String).max_length(200),
                None,
            ))
            .operation(alter(FieldState::new("votes", FieldType::BigInt), None))
            .operation(alter(
                FieldState::new("note", FieldType::String).max_length(20),
                Some(Value::String("none".into())),
            ))
            .operation(alter(
                FieldState::new("code", FieldType::String)
                    .max_length(10)
                    .unique(),
                None,
            )),
        Migration::new("polls", "0003_rename")
            .depends_on("polls", "0002_alter")
            .operation(Operation::RenameField {
                app: "polls".into(),
                model: "Question".into(),
                old_name: "question_text".into(),
                new_name: "text".into(),
            })
            .operation(Operation::RenameModel {
                app: "polls".into(),
                old_name: "Question".into(),
                new_name: "Poll".into(),
            })
            .operation(Operation::AlterModelTable {
                app: "polls".into(),
                name: "Poll".into(),
                table: "polls_poll".into(),
            }),
        Migration::new("polls", "0004_constraints")
            .depends_on("polls", "0003_rename")
            .operation(Operation::AddIndex {
                app: "polls".into(),
                model: "Poll".into(),
                index: IndexState {
                    name: "polls_poll_votes_code_idx".into(),
                    fields: vec!["votes".into(), "code".into()],
                },
            })
            .operation(Operation::AddConstraint {
                app: "polls".into(),
                model: "Poll".into(),
                constraint: ConstraintState::Check {
                    name: "polls_poll_votes_check".into(),
                    sql: "votes >= 0".into(),
                },
            })
            .operation(Operation::AddConstraint {
                app: "polls".into(),
                model: "Poll".into(),
                constraint: ConstraintState::Unique {
                    name: "polls_poll_text_note_uniq".into(),
                    fields: vec!["text".into(), "note".into()],
                },
            }),
        Migration::new("polls", "0005_drop_constraints")
            .depends_on("polls", "0004_constraints")
            .operation(Operation::RemoveIndex {
                app: "polls".into(),
                model: "Poll".into(),
                name: "polls_poll_votes_code_idx".into(),
            })
            .operation(Operation::RemoveConstraint {
                app: "polls".into(),
                model: "Poll".into(),
                name: "polls_poll_votes_check".into(),
            }),
    ]
}

#[tokio::test]
async fn altering_renaming_and_constraining_keep_the_rows_both_ways() {
    each_backend(async |db| {
        let graph = MigrationGraph::new(evolution()).unwrap();
        let to = |name: &str| MigrateTarget::To {
            app: "polls".into(),
            name: name.into(),
        };
        run(&db, &graph, to("0001_initial")).await;
        for (text, votes, code, note) in [("Why?", 3, "a", Some("n")), ("How?", 5, "b", None)] {
            db.execute(
                "INSERT INTO polls_question (question_text, votes, code, note) VALUES (?, ?, ?, ?)",
                params![text, votes, code, note],
            )
            .await
            .unwrap();
        }
        let rows = |table: &'static str, text: &'static str| {
            let db = db.clone();
            async move {
                db.fetch_all(
                    &format!("SELECT {text}, votes, code, note FROM {table} ORDER BY id"),
                    params![],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r.get::<String, usize>(0).unwrap(),
                        // int before 0002, bigint after.
                        r.get::<i64, usize>(1)
                            .or_else(|_| r.get::<i32, usize>(1).map(i64::from))
                            .unwrap(),
                        r.get::<String, usize>(2).unwrap(),
                        r.get::<Option<String>, usize>(3).unwrap(),
                    )
                })
                .collect::<Vec<_>>()
            }
        };

        run(&db, &graph, to("0002_alter")).await;
        assert_eq!(
            rows("polls_question", "question_text").await,
            [
                ("Why?".into(), 3, "a".into(), Some("n".into())),
                ("How?".into(), 5, "b".into(), Some("none".into()))
            ]
        );
        // Longer text fits, big numbers fit, NULL no longer does, codes are unique.
        // (A statement text of its own: PostgreSQL connections keep the
        // parameter types of statements prepared before the change.)
        let long = "x".repeat(150);
        db.execute(
            "INSERT INTO polls_question (votes, question_text, code, note) VALUES (?, ?, ?, ?)",
            params![5_000_000_000i64, long.as_str(), "c", "n"],
        )
        .await
        .unwrap();
        let err = db
            .execute(
                "INSERT INTO polls_question (question_text, votes, code, note) VALUES (?, ?, ?, NULL)",
                params!["q", 1, "d"],
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotNullViolation, "{err}");
        let err = db
            .execute(
                "INSERT INTO polls_question (question_text, votes, code, note) VALUES (?, ?, ?, ?)",
                params!["q", 1, "a", "n"],
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err}");
        db.execute("DELETE FROM polls_question WHERE code = ?", params!["c"])
            .await
            .unwrap();

        run(&db, &graph, MigrateTarget::Latest).await;
        let renamed = rows("polls_poll", "text").await;
        assert_eq!(renamed.len(), 2);
        assert_eq!(renamed[0].0, "Why?");
        assert!(!has_column(&db, "polls_question", "id").await);
        // The unique-together constraint is kept, the check is gone again.
        let err = db
            .execute(
                "INSERT INTO polls_poll (text, votes, code, note) VALUES (?, ?, ?, ?)",
                params!["Why?", 1, "z", "n"],
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err}");
        db.execute(
            "INSERT INTO polls_poll (text, votes, code, note) VALUES (?, ?, ?, ?)",
            params!["Neg", -1, "y", "n"],
        )
        .await
        .unwrap();
        db.execute("DELETE FROM polls_poll WHERE code = ?", params!["y"])
            .await
            .unwrap();

        // At 0004 the check holds.
        run(&db, &graph, to("0004_constraints")).await;
        let err = db
            .execute(
                "INSERT INTO polls_poll (text, votes, code, note) VALUES (?, ?, ?, ?)",
                params!["Neg", -1, "y", "n"],
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CheckViolation, "{err}");

        // All the way back, then forwards again: the rows come through.
        run(&db, &graph, to("0001_initial")).await;
        assert_eq!(
            rows("polls_question", "question_text").await,
            [
                ("Why?".into(), 3, "a".into(), Some("n".into())),
                ("How?".into(), 5, "b".into(), Some("none".into()))
            ]
        );
        run(&db, &graph, MigrateTarget::Latest).await;
        assert_eq!(rows("polls_poll", "text").await.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn deleting_a_model_and_bringing_it_back() {
    each_backend(async |db| {
        let tag = ModelState::new("tags", "Tag", "tags_tag")
            .field(FieldState::auto("id"))
            .field(
                FieldState::new("name", FieldType::String)
                    .max_length(20)
                    .unique(),
            );
        let graph = MigrationGraph::new(vec![
            Migration::new("tags", "0001_initial").operation(Operation::CreateModel(tag)),
            Migration::new("tags", "0002_drop")
                .depends_on("tags", "0001_initial")
                .operation(Operation::DeleteModel {
                    app: "tags".into(),
                    name: "Tag".into(),
                }),
        ])
        .unwrap();
        let first = MigrateTarget::To {
            app: "tags".into(),
            name: "0001_initial".into(),
        };
        run(&db, &graph, first.clone()).await;
        db.execute("INSERT INTO tags_tag (name) VALUES (?)", params!["rust"])
            .await
            .unwrap();
        run(&db, &graph, MigrateTarget::Latest).await;
        assert!(!has_column(&db, "tags_tag", "id").await);
        // Backwards the table comes back (empty, with its constraints).
        run(&db, &graph, first).await;
        db.execute("INSERT INTO tags_tag (name) VALUES (?)", params!["rust"])
            .await
            .unwrap();
        let err = db
            .execute("INSERT INTO tags_tag (name) VALUES (?)", params!["rust"])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err}");
        run(&db, &graph, MigrateTarget::Latest).await;
        assert!(!has_column(&db, "tags_tag", "id").await);
    })
    .await;
}

#[tokio::test]
async fn squashed_migrations_stand_in_for_the_ones_they_replace() {
    use estate::orm::migrations::{resolve_replacements, squash};
    let originals = history();
    let refs: Vec<&Migration> = originals.iter().collect();
    let squashed = squash("polls", "0001_squashed_0003_drop_votes", &refs).unwrap();
    // Folded: the fields added and removed after CreateModel are part of it.
    assert!(squashed.operations.len() < originals.iter().map(|m| m.operations.len()).sum());
    assert_eq!(squashed.replaces.len(), 3);
    let final_state = |migrations: Vec<Migration>| {
        let graph = MigrationGraph::new(migrations).unwrap();
        graph.state_after(graph.ordered().len()).unwrap()
    };
    assert_eq!(
        final_state(vec![squashed.clone()]),
        final_state(originals.clone())
    );

    each_backend(async |db| {
        // A new database applies the squash alone, and records all four.
        let mut with_squash = history();
        with_squash.push(squashed.clone());
        let graph = MigrationGraph::new(with_squash.clone()).unwrap();
        assert_eq!(
            run(&db, &graph, MigrateTarget::Latest).await,
            ["+polls.0001_squashed_0003_drop_votes"]
        );
        assert_eq!(applied(&db).await.unwrap().len(), 4);
        assert!(has_column(&db, "polls_question", "status").await);
        // Unapplying it removes the records of all four.
        run(&db, &graph, MigrateTarget::Zero("polls".into())).await;
        assert!(applied(&db).await.unwrap().is_empty());

        // A database that applied only the first original keeps using them.
        run(
            &db,
            &MigrationGraph::new(history()).unwrap(),
            MigrateTarget::To {
                app: "polls".into(),
                name: "0001_initial".into(),
            },
        )
        .await;
        let partial = resolve_replacements(with_squash.clone(), &applied(&db).await.unwrap());
        let graph = MigrationGraph::new(partial).unwrap();
        assert_eq!(
            run(&db, &graph, MigrateTarget::Latest).await,
            ["+polls.0002_slug_and_note", "+polls.0003_drop_votes"]
        );
        // Now that all are applied, the squash counts as applied too.
        let complete = resolve_replacements(with_squash, &applied(&db).await.unwrap());
        let graph = MigrationGraph::new(complete).unwrap();
        assert_eq!(graph.ordered().len(), 1);
        assert!(run(&db, &graph, MigrateTarget::Latest).await.is_empty());
    })
    .await;
}
