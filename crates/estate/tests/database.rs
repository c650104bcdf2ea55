//! The database from handlers: `Db`, connected at startup, on every backend.

mod common;

use estate::db::{Database, Db, DbError, RawSql, params};
use estate::prelude::*;
use estate::test::{TestServer, each_backend};

use common::debug_app;

async fn add_note(db: Db, Path(body): Path<String>) -> estate::Result<String> {
    db.execute("INSERT INTO note (body) VALUES (?)", params![body])
        .await?;
    let count: i64 = db
        .fetch_one("SELECT COUNT(*) FROM note", params![])
        .await?
        .get(0)?;
    Ok(count.to_string())
}

async fn add_two_then_fail(db: Db) -> estate::Result<&'static str> {
    db.atomic(async |tx| {
        tx.execute("INSERT INTO note (body) VALUES (?)", params!["one"])
            .await?;
        tx.execute("INSERT INTO note (body) VALUES (?)", params!["one"])
            .await?;
        Ok::<_, DbError>(())
    })
    .await?;
    Ok("unreachable")
}

fn notes_app() -> AppModule {
    AppModule::new("notes")
        .on_startup(|startup| async move {
            let db = startup
                .get::<Database>()
                .expect("the database is connected first")
                .clone();
            db.execute(
                "CREATE TABLE note (body VARCHAR(100) NOT NULL UNIQUE)",
                params![],
            )
            .await?;
            Ok(startup)
        })
        .route("/add/{body}", post(add_note))
        .route("/fail", post(add_two_then_fail))
}

#[tokio::test]
async fn handlers_use_the_database_on_every_backend() {
    each_backend(async |db| {
        let server = TestServer::start(debug_app().database(db.clone()).app(notes_app())).await;
        assert_eq!(server.post("/add/first").send().await.text(), "1");
        assert_eq!(server.post("/add/second").send().await.text(), "2");

        // A failing transaction in a handler is a 500 and leaves no rows.
        let failed = server.post("/fail").send().await;
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
        let count: i64 = db
            .fetch_one("SELECT COUNT(*) FROM note", params![])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(count, 2);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn database_url_is_connected_at_startup() {
    let dir = std::env::temp_dir().join(format!("estate-db-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("site.sqlite3");
    let _ = std::fs::remove_file(&path);
    let app = App::new()
        .setting("debug", true)
        .setting("database_url", format!("sqlite://{}", path.display()))
        .app(notes_app());
    let server = TestServer::start(app).await;
    assert_eq!(server.post("/add/x").send().await.text(), "1");
    server.shutdown().await;
    assert!(path.exists(), "the SQLite file was created");
}

#[tokio::test]
async fn an_unreachable_database_stops_startup_naming_it() {
    let app = App::new()
        .setting("debug", true)
        .setting("database_url", "mysql://app:hunter2@127.0.0.1:1/site");
    let err = common::startup_error(app).await;
    assert!(
        err.contains("cannot connect to mysql://app:****@127.0.0.1:1/site"),
        "{err}"
    );
    assert!(!err.contains("hunter2"));
}

#[tokio::test]
async fn using_db_without_a_database_is_a_clear_error() {
    let server = TestServer::start(
        debug_app().route("/n", get(|db: Db| async move { db.backend().to_string() })),
    )
    .await;
    let response = server.get("/n").send().await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response
            .text()
            .contains("no database is configured: set DATABASE_URL"),
        "{}",
        response.text()
    );
    server.shutdown().await;
}

#[derive(estate::orm::Model, Debug, Clone)]
struct Shelf {
    id: Auto<i64>,
}

#[derive(estate::orm::Model, Debug, Clone)]
struct Volume {
    id: Auto<i64>,
    #[model(on_delete = Cascade)]
    shelf: estate::orm::ForeignKey<Shelf>,
}

#[tokio::test]
async fn installed_models_are_registered_so_deletes_cascade() {
    each_backend(async |db| {
        // Tables made without registering anything.
        for meta in [Shelf::META, Volume::META] {
            for statement in estate::orm::create_table_sql(meta, db.backend()) {
                db.execute(&statement, params![]).await.unwrap();
            }
        }
        assert!(db.models().is_empty());
        let library = AppModule::new("library")
            .model::<Shelf>()
            .model::<Volume>()
            .route(
                "/empty/{id}",
                post(|db: Db, Path(id): Path<i64>| async move {
                    let shelf = Shelf::objects().get_by_key(&db, id).await?;
                    let result = shelf.delete(&db).await?;
                    Ok::<_, estate::Error>(result.total.to_string())
                }),
            );
        let server = TestServer::start(debug_app().database(db.clone()).app(library)).await;
        let names: Vec<&str> = server.context().models().iter().map(|m| m.name).collect();
        assert_eq!(names, ["Shelf", "Volume"]);
        assert_eq!(db.models().len(), 2);

        let mut shelf = Shelf { id: Auto::new() };
        shelf.save(&db).await.unwrap();
        for _ in 0..2 {
            let mut volume = Volume {
                id: Auto::new(),
                shelf: estate::orm::ForeignKey::to(&shelf).unwrap(),
            };
            volume.save(&db).await.unwrap();
        }
        let path = format!("/empty/{}", shelf.id);
        assert_eq!(server.post(&path).send().await.text(), "3");
        assert_eq!(Volume::objects().count(&db).await.unwrap(), 0);
        server.shutdown().await;
    })
    .await;
}
