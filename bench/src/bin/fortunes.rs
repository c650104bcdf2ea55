//! TechEmpower "fortunes": read every row of a table, add one at request
//! time, sort by message, render an HTML table with escaping. Two servers
//! doing the same work:
//!
//! - `estate`: an Estate `App` with its whole default stack in production
//!   mode, the ORM (`Fortune::objects().all`) and a `Template` response
//!   rendered by Estate's template engine (minijinja, Django escaping);
//! - `axum`: the hand-written service: a bare axum `Router`, a sqlx pool
//!   and a minijinja `Environment` with the same template;
//! - `estate-stack`: the hand-written handler inside an Estate `App` (its
//!   default stack, no ORM or Estate templates), to tell the stack's cost
//!   from the rest.
//!
//! ```text
//! fortunes --setup <database-url>                      # create and fill the table
//! fortunes --target <estate|estate-stack|axum> --addr 127.0.0.1:PORT --db <database-url> [--threads 1]
//! ```
//!
//! `bench/fortunes` runs both at once and compares them (see bench/README.md).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use axum::serve::ListenerExt;
use estate::db::{Database, Db, RawSql};
use estate::orm::create_table;
use estate::prelude::*;
use estate::templates::{Template, context};
use serde::Serialize;
use sqlx::Row as _;

/// TechEmpower's `Fortune` table.
#[derive(Model, Debug, Clone, Serialize)]
#[model(table = "fortune")]
struct Fortune {
    #[model(primary_key)]
    id: i32,
    #[model(max_length = 2048)]
    message: String,
}

/// The message every response adds.
const ADDED: &str = "Additional fortune added at request time.";

/// TechEmpower's twelve rows.
const MESSAGES: [&str; 12] = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. — Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    "<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
    "フレームワークのベンチマーク",
];

const TEMPLATE: &str = include_str!("../../templates/fortunes.html");

const SECRET_KEY: &str = "estate-bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz";

// Estate ---------------------------------------------------------------

async fn estate_fortunes(db: Db) -> estate::Result<Template> {
    let mut fortunes = Fortune::objects().all(&*db).await?;
    fortunes.push(Fortune {
        id: 0,
        message: ADDED.to_owned(),
    });
    fortunes.sort_by(|a, b| a.message.cmp(&b.message));
    Ok(Template::render("fortunes.html", context! { fortunes }))
}

fn estate_app(db: Database) -> App {
    App::with_settings(
        estate::settings::SettingsLoader::new()
            .set("secret_key", SECRET_KEY)
            .set("allowed_hosts", vec!["127.0.0.1", "localhost"])
            .load()
            .expect("valid settings"),
    )
    .database(db)
    .templates(estate::templates!("templates"))
    .route("/fortunes", get(estate_fortunes))
}

// Hand-written axum + sqlx + minijinja ----------------------------------

enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

struct Baseline {
    pool: Pool,
    templates: minijinja::Environment<'static>,
}

#[derive(Serialize)]
struct Row {
    id: i32,
    message: String,
}

async fn axum_fortunes(State(state): State<Arc<Baseline>>) -> Result<Html<String>, String> {
    const SQL: &str = "SELECT id, message FROM fortune";
    let mut fortunes: Vec<Row> = match &state.pool {
        Pool::Sqlite(pool) => sqlx::query(SQL)
            .fetch_all(pool)
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| Row {
                id: r.get(0),
                message: r.get(1),
            })
            .collect(),
        Pool::Postgres(pool) => sqlx::query(SQL)
            .fetch_all(pool)
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| Row {
                id: r.get(0),
                message: r.get(1),
            })
            .collect(),
    };
    fortunes.push(Row {
        id: 0,
        message: ADDED.to_owned(),
    });
    fortunes.sort_by(|a, b| a.message.cmp(&b.message));
    let template = state
        .templates
        .get_template("fortunes.html")
        .map_err(|e| e.to_string())?;
    template
        .render(minijinja::context! { fortunes => minijinja::Value::from(minijinja::value::Serde(&fortunes)) })
        .map(Html)
        .map_err(|e| e.to_string())
}

async fn baseline(url: &str) -> Baseline {
    let pool = if url.starts_with("sqlite:") {
        Pool::Sqlite(
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(10)
                .connect(url)
                .await
                .expect("SQLite connects"),
        )
    } else {
        Pool::Postgres(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(10)
                .connect(url)
                .await
                .expect("PostgreSQL connects"),
        )
    };
    let mut templates = minijinja::Environment::new();
    templates
        .add_template("fortunes.html", TEMPLATE)
        .expect("the template parses");
    Baseline { pool, templates }
}

// Command line -----------------------------------------------------------

fn value(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads: usize = value(&args, "--threads")
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        if let Some(url) = value(&args, "--setup") {
            let db = Database::connect(&url)
                .await
                .expect("the database connects");
            let _ = db
                .execute("DROP TABLE IF EXISTS fortune", estate::db::params![])
                .await;
            create_table(&db, Fortune::META)
                .await
                .expect("the table is created");
            let rows = MESSAGES
                .iter()
                .enumerate()
                .map(|(i, m)| Fortune {
                    id: i as i32 + 1,
                    message: (*m).to_owned(),
                })
                .collect();
            Fortune::objects()
                .bulk_create(&db, rows)
                .await
                .expect("the rows are inserted");
            println!("fortune table ready ({} rows)", MESSAGES.len());
            return std::process::ExitCode::SUCCESS;
        }
        let (Some(target), Some(addr), Some(url)) = (
            value(&args, "--target"),
            value(&args, "--addr"),
            value(&args, "--db"),
        ) else {
            eprintln!(
                "usage: fortunes --setup <url> | --target <estate|axum> --addr 127.0.0.1:PORT \
                 --db <url> [--threads N]"
            );
            return std::process::ExitCode::FAILURE;
        };
        match target.as_str() {
            "estate" => {
                let db = Database::connect(&url)
                    .await
                    .expect("the database connects");
                if let Err(err) = estate_app(db).serve(&addr).await {
                    eprintln!("{err}");
                    return std::process::ExitCode::FAILURE;
                }
            }
            "estate-stack" => {
                // Estate's default stack around the hand-written handler:
                // separates the stack's cost from the ORM's and templates'.
                let state = Arc::new(baseline(&url).await);
                let router = axum::Router::new()
                    .route("/fortunes", axum::routing::get(axum_fortunes))
                    .with_state(state);
                let db = Database::connect(&url)
                    .await
                    .expect("the database connects");
                let app = App::with_settings(
                    estate::settings::SettingsLoader::new()
                        .set("secret_key", SECRET_KEY)
                        .set("allowed_hosts", vec!["127.0.0.1", "localhost"])
                        .load()
                        .expect("valid settings"),
                )
                .database(db)
                .merge(router);
                if let Err(err) = app.serve(&addr).await {
                    eprintln!("{err}");
                    return std::process::ExitCode::FAILURE;
                }
            }
            "axum" => {
                let state = Arc::new(baseline(&url).await);
                let router = axum::Router::new()
                    .route("/fortunes", axum::routing::get(axum_fortunes))
                    .with_state(state);
                let listener = tokio::net::TcpListener::bind(&addr)
                    .await
                    .expect("the address is free")
                    .tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    });
                axum::serve(listener, router).await.expect("serves");
            }
            other => {
                eprintln!("unknown target {other}: estate or axum");
                return std::process::ExitCode::FAILURE;
            }
        }
        std::process::ExitCode::SUCCESS
    })
}
