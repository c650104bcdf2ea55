//! The list endpoint of an `estate-api` resource (page-number pagination,
//! 20 rows of a 1 000-row table as JSON) against a hand-written axum + sqlx
//! handler doing the same work: one `COUNT(*)`, one page query
//! (`ORDER BY id LIMIT 20 OFFSET ..`), and the same JSON
//! (`{"count":1000,"next":"/api/items/?page=2","previous":null,"results":[..]}`)
//! serialised with serde.
//!
//! - `estate`: an Estate `App` in production mode with its whole default
//!   stack, sessions and auth installed, and
//!   `Api::new().resource(Resource::<Item>::new("items").permission(AllowAny))`;
//!   requests are anonymous (no `Authorization`, no cookie);
//! - `axum`: the hand-written handler on a bare axum `Router` with a sqlx
//!   pool (10 connections, SQLite with Estate's pragmas);
//! - `estate-stack`: the hand-written handler mounted in the same Estate
//!   `App`: Estate's stack without `estate-api` and the ORM, to tell the
//!   costs apart.
//!
//! ```text
//! api --setup <database-url>      # migrate, then the table and its 1 000 rows
//! api --target <estate|estate-stack|axum> --addr 127.0.0.1:PORT --db <database-url> [--threads 1]
//! ```
//!
//! `bench/api` runs them at once and compares them (see bench/README.md).

use std::str::FromStr as _;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::serve::ListenerExt;
use estate::db::{Database, RawSql as _};
use estate::orm::chrono::{DateTime, TimeDelta, TimeZone as _, Utc};
use estate::orm::create_table;
use estate::prelude::*;
use estate_api::{AllowAny, Api, Resource};
use serde::{Deserialize, Serialize};
use sqlx::Row as _;

/// A small model: a key, a bounded text, a number and a moment.
#[derive(Model, Debug, Clone)]
#[model(table = "catalog_item")]
struct Item {
    id: Auto<i64>,
    #[model(max_length = 100)]
    name: String,
    quantity: i32,
    created: DateTime<Utc>,
}

const SECRET_KEY: &str = "estate-bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz";
const ROWS: i64 = 1_000;
const PAGE_SIZE: i64 = 20;
/// Where both servers answer.
const PATH: &str = "/api/items/";

fn settings() -> estate::settings::Settings {
    estate::settings::SettingsLoader::new()
        .set("secret_key", SECRET_KEY)
        .set("allowed_hosts", vec!["127.0.0.1", "localhost"])
        .load()
        .expect("valid settings")
}

/// The app as a project would write it: sessions and auth (so the API
/// authenticates through the session when there is one), the model's app,
/// and the API.
fn estate_app(db: Database) -> App {
    App::with_settings(settings())
        .database(db)
        .app(estate::sessions::app())
        .app(estate::auth::app())
        .app(AppModule::new("catalog").model::<Item>())
        .app(
            Api::new()
                .resource(Resource::<Item>::new("items").permission(AllowAny))
                .app(),
        )
}

// Hand-written axum + sqlx ------------------------------------------------

enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// One row as the API shows it: the model's fields, in their order.
#[derive(Serialize)]
struct Row {
    id: i64,
    name: String,
    quantity: i32,
    created: DateTime<Utc>,
}

#[derive(Serialize)]
struct Page {
    count: i64,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<Row>,
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<i64>,
}

fn row(created: DateTime<Utc>, id: i64, name: String, quantity: i32) -> Row {
    Row {
        created,
        id,
        name,
        quantity,
    }
}

async fn axum_list(
    State(pool): State<Arc<Pool>>,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<Page>, (StatusCode, String)> {
    const COUNT: &str = "SELECT COUNT(*) FROM catalog_item";
    let error = |e: sqlx::Error| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let page = query.page.unwrap_or(1);
    let (count, results) = match &*pool {
        Pool::Sqlite(pool) => {
            let count: i64 = sqlx::query(COUNT)
                .fetch_one(pool)
                .await
                .map_err(error)?
                .get(0);
            let rows = sqlx::query(
                "SELECT id, name, quantity, created FROM catalog_item ORDER BY id LIMIT ? OFFSET ?",
            )
            .bind(PAGE_SIZE)
            .bind((page.max(1) - 1) * PAGE_SIZE)
            .fetch_all(pool)
            .await
            .map_err(error)?;
            let rows = rows
                .iter()
                .map(|r| row(r.get(3), r.get(0), r.get(1), r.get(2)))
                .collect();
            (count, rows)
        }
        Pool::Postgres(pool) => {
            let count: i64 = sqlx::query(COUNT)
                .fetch_one(pool)
                .await
                .map_err(error)?
                .get(0);
            let rows = sqlx::query(
                "SELECT id, name, quantity, created FROM catalog_item ORDER BY id LIMIT $1 OFFSET $2",
            )
            .bind(PAGE_SIZE)
            .bind((page.max(1) - 1) * PAGE_SIZE)
            .fetch_all(pool)
            .await
            .map_err(error)?;
            let rows = rows
                .iter()
                .map(|r| row(r.get(3), r.get(0), r.get(1), r.get(2)))
                .collect();
            (count, rows)
        }
    };
    let last = ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    if page < 1 || page > last {
        return Err((StatusCode::NOT_FOUND, "Invalid page.".to_owned()));
    }
    let link = |page: i64| format!("{PATH}?page={page}");
    Ok(axum::Json(Page {
        count,
        next: (page < last).then(|| link(page + 1)),
        previous: (page > 1).then(|| link(page - 1)),
        results,
    }))
}

async fn baseline(url: &str) -> axum::Router {
    let pool = if url.starts_with("sqlite:") {
        // The pragmas Estate's SQLite backend sets.
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .expect("a SQLite URL")
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(5));
        Pool::Sqlite(
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(10)
                .connect_with(options)
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
    axum::Router::new()
        .route(PATH, axum::routing::get(axum_list))
        .with_state(Arc::new(pool))
}

// Setup -------------------------------------------------------------------

async fn setup(url: &str) {
    let db = Database::connect(url).await.expect("the database connects");
    let _ = db
        .execute("DROP TABLE IF EXISTS catalog_item", estate::db::params![])
        .await;
    estate_app(db.clone())
        .run_with_args(["bench", "migrate"], estate::cli::CommandOutput::capture())
        .await
        .expect("migrate");
    create_table(&db, Item::META).await.expect("the item table");
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid moment");
    let rows: Vec<Item> = (1..=ROWS)
        .map(|i| Item {
            id: Auto::Set(i),
            name: format!(
                "Item {i:04} \"{}\"",
                ["red", "green", "blue"][i as usize % 3]
            ),
            quantity: (i * 37 % 500) as i32,
            // Whole seconds for some rows, milliseconds for others.
            created: start
                + TimeDelta::minutes(i * 7)
                + TimeDelta::milliseconds(if i % 4 == 0 { 0 } else { i * 13 % 1000 }),
        })
        .collect();
    Item::objects()
        .bulk_create(&db, rows)
        .await
        .expect("rows inserted");
    println!("catalog_item ready ({ROWS} rows)");
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
            setup(&url).await;
            return std::process::ExitCode::SUCCESS;
        }
        let (Some(target), Some(addr), Some(url)) = (
            value(&args, "--target"),
            value(&args, "--addr"),
            value(&args, "--db"),
        ) else {
            eprintln!(
                "usage: api --setup <url> | --target <estate|estate-stack|axum> \
                 --addr 127.0.0.1:PORT --db <url> [--threads N]"
            );
            return std::process::ExitCode::FAILURE;
        };
        let served = match target.as_str() {
            "estate" | "estate-stack" => {
                let db = Database::connect(&url)
                    .await
                    .expect("the database connects");
                let app = if target == "estate" {
                    estate_app(db)
                } else {
                    // Estate's stack (and installed apps) around the
                    // hand-written handler, under a path of its own.
                    App::with_settings(settings())
                        .database(db)
                        .app(estate::sessions::app())
                        .app(estate::auth::app())
                        .merge(baseline(&url).await)
                };
                app.serve(&addr).await.map_err(|err| err.to_string())
            }
            "axum" => {
                let listener = tokio::net::TcpListener::bind(&addr)
                    .await
                    .expect("the address is free")
                    .tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    });
                axum::serve(listener, baseline(&url).await)
                    .await
                    .map_err(|err| err.to_string())
            }
            other => Err(format!(
                "unknown target {other}: estate, estate-stack or axum"
            )),
        };
        match served {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("{err}");
                std::process::ExitCode::FAILURE
            }
        }
    })
}
