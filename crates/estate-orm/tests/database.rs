//! The database layer on every backend: raw SQL with bound parameters,
//! transactions, error kinds, concurrency. Each test runs on SQLite always and
//! on PostgreSQL / MySQL when `ESTATE_TEST_POSTGRES` / `ESTATE_TEST_MYSQL` are set.

use std::time::Duration;

use estate_orm::testing::each_backend;
use estate_orm::{Backend, Database, DbError, ErrorKind, RawSql, Value, params};

/// An auto-increment primary key column, per backend (tests may use
/// backend-specific DDL; the ORM's migrations will generate it).
fn id_column(db: &Database) -> &'static str {
    match db.backend() {
        Backend::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "id BIGSERIAL PRIMARY KEY",
        Backend::MySql => "id BIGINT AUTO_INCREMENT PRIMARY KEY",
    }
}

async fn create_notes(db: &Database) {
    let text = if db.backend() == Backend::MySql {
        "VARCHAR(255)"
    } else {
        "TEXT"
    };
    db.execute(
        &format!(
            "CREATE TABLE note ({}, body {text} NOT NULL, score BIGINT, UNIQUE (body))",
            id_column(db)
        ),
        params![],
    )
    .await
    .unwrap();
}

async fn count(db: &impl RawSql) -> i64 {
    db.fetch_one("SELECT COUNT(*) FROM note", params![])
        .await
        .unwrap()
        .get::<i64, _>(0)
        .unwrap()
}

#[tokio::test]
async fn values_round_trip_through_bound_parameters() {
    each_backend(async |db| {
        create_notes(&db).await;
        for (body, score) in [
            ("", Some(0i64)),
            ("héllo wörld ✓ 日本", Some(i64::MAX)),
            ("min", Some(i64::MIN)),
            ("null score", None),
        ] {
            let inserted = db
                .execute(
                    "INSERT INTO note (body, score) VALUES (?, ?)",
                    params![body, score],
                )
                .await
                .unwrap();
            assert_eq!(inserted, 1);
            let row = db
                .fetch_one("SELECT body, score FROM note WHERE body = ?", params![body])
                .await
                .unwrap();
            assert_eq!(row.get::<String, _>("body").unwrap(), body);
            assert_eq!(row.get::<Option<i64>, _>("score").unwrap(), score);
        }
        assert_eq!(count(&db).await, 4);
        // Reading NULL into a non-Option is a decode error, not a panic.
        let row = db
            .fetch_one(
                "SELECT score FROM note WHERE body = ?",
                params!["null score"],
            )
            .await
            .unwrap();
        let err = row.get::<i64, _>(0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
        if db.backend() == Backend::Sqlite {
            assert!(
                err.message().contains("is NULL; read it as Option"),
                "{err}"
            );
        }
        // A text column read as a number is refused too.
        let row = db
            .fetch_one(
                "SELECT body FROM note WHERE body = ?",
                params!["null score"],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<i64, _>(0).unwrap_err().kind(), ErrorKind::Decode);
    })
    .await;
}

#[tokio::test]
async fn hostile_input_is_matched_literally() {
    each_backend(async |db| {
        create_notes(&db).await;
        let mut hostile = vec![
            "'; DROP TABLE note; --",
            "it's \"quoted\"",
            "100% sure",
            "snake_case",
            "back\\slash",
            "?",
            "$1",
        ];
        if db.backend() != Backend::Postgres {
            // PostgreSQL text cannot hold NUL at all.
            hostile.push("nul\0byte");
        }
        for text in &hostile {
            db.execute("INSERT INTO note (body) VALUES (?)", params![*text])
                .await
                .unwrap();
        }
        for text in &hostile {
            let rows = db
                .fetch_all("SELECT body FROM note WHERE body = ?", params![*text])
                .await
                .unwrap();
            assert_eq!(rows.len(), 1, "{text:?} on {}", db.backend());
            assert_eq!(rows[0].get::<String, _>(0).unwrap(), *text);
        }
        assert_eq!(count(&db).await, hostile.len() as i64, "the table survived");
        // A `?` inside a string literal is not a parameter.
        let row = db
            .fetch_one("SELECT '?' AS q, ? AS p", params!["x"])
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>("q").unwrap(), "?");
        assert_eq!(row.get::<String, _>("p").unwrap(), "x");
    })
    .await;
}

#[tokio::test]
async fn unique_violations_have_a_portable_kind() {
    each_backend(async |db| {
        create_notes(&db).await;
        db.execute("INSERT INTO note (body) VALUES (?)", params!["same"])
            .await
            .unwrap();
        let err = db
            .execute("INSERT INTO note (body) VALUES (?)", params!["same"])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err}");
        assert!(err.constraint().is_some(), "names the constraint: {err}");

        let err = db
            .execute("SELECT * FROM missing_table", params![])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Other);
    })
    .await;
}

#[tokio::test]
async fn transactions_that_get_in_each_others_way_have_a_portable_kind() {
    each_backend(async |db| {
        // An in-memory SQLite database is a single connection: a second
        // writer would wait for the pool, not for the lock. Use a file.
        let (db, folder) = match db.backend() {
            Backend::Sqlite => {
                let folder = std::env::temp_dir()
                    .join(format!("estate-orm-conflict-{}", std::process::id()));
                std::fs::create_dir_all(&folder).unwrap();
                let path = folder.join("conflict.sqlite3");
                let url = format!("sqlite://{}", path.display());
                (Database::connect(&url).await.unwrap(), Some(folder))
            }
            _ => (db, None),
        };
        create_notes(&db).await;
        for body in ["a", "b"] {
            db.execute(
                "INSERT INTO note (body, score) VALUES (?, 0)",
                params![body],
            )
            .await
            .unwrap();
        }
        let conflict = match db.backend() {
            // Writers take the database's one write lock in turn: a second
            // one gives up when the busy timeout (5 s) runs out.
            Backend::Sqlite => {
                let (locked, is_locked) = tokio::sync::oneshot::channel();
                let (release, released) = tokio::sync::oneshot::channel::<()>();
                let holder = {
                    let db = db.clone();
                    tokio::spawn(async move {
                        db.atomic(async |tx| {
                            tx.execute("UPDATE note SET score = 1 WHERE body = 'a'", params![])
                                .await?;
                            let _ = locked.send(());
                            let _ = released.await;
                            Ok::<_, DbError>(())
                        })
                        .await
                    })
                };
                is_locked.await.unwrap();
                let blocked = db
                    .execute("UPDATE note SET score = 2 WHERE body = 'b'", params![])
                    .await;
                release.send(()).unwrap();
                holder.await.unwrap().unwrap();
                blocked.unwrap_err()
            }
            // A deadlock: each transaction holds the row the other wants.
            Backend::Postgres | Backend::MySql => {
                let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
                let update_both = |first: &'static str, second: &'static str| {
                    let db = db.clone();
                    let barrier = barrier.clone();
                    async move {
                        db.atomic(async |tx| {
                            let sql = "UPDATE note SET score = score + 1 WHERE body = ?";
                            tx.execute(sql, params![first]).await?;
                            barrier.wait().await;
                            tx.execute(sql, params![second]).await?;
                            Ok::<_, DbError>(())
                        })
                        .await
                    }
                };
                let (one, other) = tokio::join!(update_both("a", "b"), update_both("b", "a"));
                match (one, other) {
                    (Ok(()), Err(err)) | (Err(err), Ok(())) => err,
                    outcome => panic!("expected exactly one deadlock victim, got {outcome:?}"),
                }
            }
        };
        assert_eq!(
            conflict.kind(),
            ErrorKind::TransactionConflict,
            "{conflict}"
        );
        // The victim was rolled back whole: on SQLite nothing of it was
        // written, elsewhere the survivor's two increments are all there is.
        let scores = db
            .fetch_all("SELECT score FROM note ORDER BY body", params![])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<i64, _>(0).unwrap())
            .collect::<Vec<_>>();
        match db.backend() {
            Backend::Sqlite => assert_eq!(scores, [1, 0]),
            _ => assert_eq!(scores, [1, 1]),
        }
        // And the pool still works.
        assert_eq!(count(&db).await, 2);
        if let Some(folder) = folder {
            db.close().await;
            let _ = std::fs::remove_dir_all(folder);
        }
    })
    .await;
}

#[tokio::test]
async fn a_connection_the_server_dropped_while_idle_is_replaced_not_used() {
    each_backend(async |db| {
        if db.backend() == Backend::Sqlite {
            // A file handle in this process: no server can drop it.
            return;
        }
        // A connection, used and back in the pool.
        db.fetch_one("SELECT 1", params![]).await.unwrap();
        // Another client ends every other session on this database, as a
        // server restart or an idle timeout would.
        let other = Database::connect(db.url()).await.unwrap();
        let ended = match db.backend() {
            Backend::Postgres => other
                .fetch_all(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    params![],
                )
                .await
                .unwrap()
                .len(),
            _ => {
                let sessions = other
                    .fetch_all(
                        "SELECT id FROM information_schema.processlist \
                         WHERE db = DATABASE() AND id <> CONNECTION_ID()",
                        params![],
                    )
                    .await
                    .unwrap();
                for session in &sessions {
                    let id: i64 = session.get(0).unwrap();
                    other
                        .execute(&format!("KILL {id}"), params![])
                        .await
                        .unwrap();
                }
                sessions.len()
            }
        };
        assert!(ended >= 1, "the pooled connection was ended");
        other.close().await;
        // Idle long enough to be checked when taken: the dead connection
        // is replaced, and the query succeeds.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let rows = db.fetch_all("SELECT 1", params![]).await.unwrap();
        assert_eq!(rows.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn atomic_commits_on_ok_and_rolls_back_on_err() {
    each_backend(async |db| {
        create_notes(&db).await;
        let id = db
            .atomic(async |tx| {
                tx.execute("INSERT INTO note (body) VALUES (?)", params!["kept"])
                    .await?;
                assert_eq!(tx.depth(), 0);
                Ok::<_, DbError>(7)
            })
            .await
            .unwrap();
        assert_eq!(id, 7);
        assert_eq!(count(&db).await, 1);

        let failed: Result<(), DbError> = db
            .atomic(async |tx| {
                tx.execute("INSERT INTO note (body) VALUES (?)", params!["undone"])
                    .await?;
                assert_eq!(count(tx).await, 2, "visible inside the transaction");
                Err(DbError::new(ErrorKind::Other, "changed my mind"))
            })
            .await;
        assert_eq!(failed.unwrap_err().message(), "changed my mind");
        assert_eq!(count(&db).await, 1, "rolled back");

        // A database error inside rolls everything back too.
        let failed = db
            .atomic(async |tx| {
                tx.execute("INSERT INTO note (body) VALUES (?)", params!["first"])
                    .await?;
                tx.execute("INSERT INTO note (body) VALUES (?)", params!["kept"])
                    .await?;
                Ok::<_, DbError>(())
            })
            .await;
        assert_eq!(failed.unwrap_err().kind(), ErrorKind::UniqueViolation);
        assert_eq!(count(&db).await, 1);
    })
    .await;
}

#[tokio::test]
async fn nested_atomic_blocks_are_savepoints() {
    each_backend(async |db| {
        create_notes(&db).await;
        db.atomic(async |tx| {
            tx.execute("INSERT INTO note (body) VALUES (?)", params!["outer"])
                .await?;
            let inner: Result<(), DbError> = tx
                .atomic(async |inner| {
                    assert_eq!(inner.depth(), 1);
                    inner
                        .execute("INSERT INTO note (body) VALUES (?)", params!["inner"])
                        .await?;
                    Err(DbError::new(ErrorKind::Other, "inner fails"))
                })
                .await;
            assert!(inner.is_err());
            tx.atomic(async |inner| {
                inner
                    .execute("INSERT INTO note (body) VALUES (?)", params!["inner ok"])
                    .await?;
                // Two levels deep.
                inner
                    .atomic(async |deeper| {
                        deeper
                            .execute("INSERT INTO note (body) VALUES (?)", params!["deep"])
                            .await
                    })
                    .await?;
                Ok::<_, DbError>(())
            })
            .await?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
        let rows = db
            .fetch_all("SELECT body FROM note ORDER BY id", params![])
            .await
            .unwrap();
        let bodies: Vec<String> = rows.iter().map(|r| r.get(0).unwrap()).collect();
        assert_eq!(bodies, ["outer", "inner ok", "deep"]);
    })
    .await;
}

#[tokio::test]
async fn a_panic_rolls_back_and_propagates() {
    each_backend(async |db| {
        create_notes(&db).await;
        let db2 = db.clone();
        let joined = tokio::spawn(async move {
            db2.atomic(async |tx| {
                tx.execute("INSERT INTO note (body) VALUES (?)", params!["doomed"])
                    .await
                    .unwrap();
                panic!("boom");
                #[allow(unreachable_code)]
                Ok::<_, DbError>(())
            })
            .await
        })
        .await;
        assert!(joined.unwrap_err().is_panic());
        assert_eq!(count(&db).await, 0);
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_transaction_is_rolled_back_and_the_pool_keeps_working() {
    each_backend(async |db| {
        create_notes(&db).await;
        let cancelled = tokio::time::timeout(
            Duration::from_millis(200),
            db.atomic(async |tx| {
                tx.execute("INSERT INTO note (body) VALUES (?)", params!["abandoned"])
                    .await?;
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok::<_, DbError>(())
            }),
        )
        .await;
        assert!(cancelled.is_err(), "timed out");
        // The rollback runs in the background; the next query waits for the
        // connection if needed (in-memory SQLite has only one).
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(count(&db).await, 0);
        db.execute("INSERT INTO note (body) VALUES (?)", params!["after"])
            .await
            .unwrap();
        assert_eq!(count(&db).await, 1);
    })
    .await;
}

#[tokio::test]
async fn a_transaction_handle_cannot_outlive_its_block() {
    each_backend(async |db| {
        create_notes(&db).await;
        let leaked = db
            .atomic(async |tx| Ok::<_, DbError>(tx.clone()))
            .await
            .unwrap();
        let err = leaked
            .execute("INSERT INTO note (body) VALUES (?)", params!["late"])
            .await
            .unwrap_err();
        assert!(err.message().contains("already ended"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn concurrent_increments_lose_no_update() {
    each_backend(async |db| {
        create_notes(&db).await;
        db.execute(
            "INSERT INTO note (body, score) VALUES (?, ?)",
            params!["counter", 0i64],
        )
        .await
        .unwrap();
        let tasks: Vec<_> = (0..25)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.execute(
                        "UPDATE note SET score = score + 1 WHERE body = ?",
                        params!["counter"],
                    )
                    .await
                    .unwrap()
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 1);
        }
        let row = db
            .fetch_one("SELECT score FROM note WHERE body = ?", params!["counter"])
            .await
            .unwrap();
        assert_eq!(row.get::<i64, _>(0).unwrap(), 25);
    })
    .await;
}

#[tokio::test]
async fn typed_nulls_bind_on_every_backend() {
    each_backend(async |db| {
        create_notes(&db).await;
        db.execute(
            "INSERT INTO note (body, score) VALUES (?, ?)",
            vec![Value::from("typed"), Value::from(None::<i64>)],
        )
        .await
        .unwrap();
        let row = db
            .fetch_one("SELECT COUNT(*) FROM note WHERE score IS NULL", params![])
            .await
            .unwrap();
        assert_eq!(row.get::<i64, _>(0).unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn bad_urls_are_explained() {
    let err = Database::connect("oracle://scott:tiger@db/x")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(
        err.to_string().contains("oracle://scott:****@db/x"),
        "{err}"
    );
    assert!(!err.to_string().contains("tiger"));

    let quick = estate_orm::PoolSettings {
        acquire_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let err = Database::connect_with("postgres://nobody:secret@127.0.0.1:1/nowhere", &quick)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot connect to postgres://nobody:****@127.0.0.1:1/nowhere"),
        "{err}"
    );
}

#[tokio::test]
async fn sqlite_files_are_created_in_wal_mode_with_foreign_keys() {
    let dir = std::env::temp_dir().join(format!("estate-orm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("site.sqlite3");
    let _ = std::fs::remove_file(&path);
    let db = Database::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert!(path.exists());
    let mode: String = db
        .fetch_one("PRAGMA journal_mode", params![])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(mode, "wal");
    let fks: i64 = db
        .fetch_one("PRAGMA foreign_keys", params![])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(fks, 1);
    db.close().await;
}

#[tokio::test]
async fn the_pool_reuses_connections_bounds_them_and_closes() {
    each_backend(async |db| {
        // A pool of one connection with a short wait, on the test's
        // database (a file for SQLite).
        let folder = std::env::temp_dir().join(format!("estate-orm-pool-{}", std::process::id()));
        let url = match db.backend() {
            Backend::Sqlite => {
                std::fs::create_dir_all(&folder).unwrap();
                format!("sqlite://{}", folder.join("pool.sqlite3").display())
            }
            _ => db.url().to_owned(),
        };
        let settings = estate_orm::PoolSettings {
            max_connections: 1,
            acquire_timeout: Duration::from_millis(500),
        };
        let pool = Database::connect_with(&url, &settings).await.unwrap();
        // One query after another: the one connection, reused.
        for _ in 0..20 {
            pool.fetch_all("SELECT 1", params![]).await.unwrap();
        }
        let status = settled(&pool).await;
        assert_eq!(
            (status.size, status.idle, status.max_connections),
            (1, 1, 1)
        );

        // A transaction holds the connection; a query on the pool inside it
        // (instead of on the transaction) waits, then gives up with an
        // error that says what to do.
        let waited = pool
            .atomic(async |tx| {
                tx.fetch_all("SELECT 1", params![]).await?;
                assert_eq!(pool.pool_status().idle, 0);
                Ok::<_, DbError>(pool.fetch_all("SELECT 1", params![]).await)
            })
            .await
            .unwrap();
        let err = waited.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PoolTimeout, "{err}");
        assert!(
            err.message().contains("run queries on the transaction"),
            "{err}"
        );
        // Back after the block, and usable.
        assert_eq!(settled(&pool).await.idle, 1);
        pool.fetch_all("SELECT 1", params![]).await.unwrap();

        // Closed: queries fail as the database being unavailable.
        pool.close().await;
        let err = pool.fetch_all("SELECT 1", params![]).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        if db.backend() == Backend::Sqlite {
            let _ = std::fs::remove_dir_all(&folder);
        }
    })
    .await;
}

/// The pool's status once every connection has come back (sqlx's pools
/// take connections back in a task of their own, a moment later).
async fn settled(pool: &Database) -> estate_orm::PoolStatus {
    for _ in 0..100 {
        let status = pool.pool_status();
        if status.idle == status.size {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pool.pool_status()
}
