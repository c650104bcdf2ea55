//! The admin's change list over 100 000 rows with a foreign-key column,
//! against a hand-written axum + sqlx + minijinja handler doing the same
//! work: count the rows, read one page of 100 (newest first) with the
//! related row's label, render the same page (the admin's markup: layout,
//! actions menu, a checkbox per row, escaping).
//!
//! - `estate`: the Estate admin (sessions, auth, a logged-in superuser,
//!   permission checks, messages, filters off) on `/admin/polls/choice/`;
//! - `axum`: `/changelist` on a bare axum `Router` with a sqlx pool.
//!
//! ```text
//! changelist --setup <database-url>     # tables, 1 000 questions, 100 000 choices, a superuser
//! changelist --target <estate|axum> --addr 127.0.0.1:PORT --db <database-url> [--threads 1]
//! ```
//!
//! `bench/changelist` logs in, then runs both at once and compares them
//! (see bench/README.md).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Html;
use axum::serve::ListenerExt;
use estate::admin::ModelAdmin;
use estate::db::{Database, RawSql as _};
use estate::orm::{ForeignKey, create_table};
use estate::prelude::*;
use serde::{Deserialize, Serialize};
use sqlx::Row as _;

#[derive(Model, Debug, Clone)]
#[model(table = "polls_question")]
struct Question {
    id: Auto<i64>,
    #[model(max_length = 200)]
    question_text: String,
}

#[derive(Model, Debug, Clone)]
#[model(table = "polls_choice")]
struct Choice {
    id: Auto<i64>,
    #[model(on_delete = Cascade)]
    question: ForeignKey<Question>,
    #[model(max_length = 200)]
    choice_text: String,
    votes: i32,
}

const SECRET_KEY: &str = "estate-bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz";
const QUESTIONS: i64 = 1_000;
const CHOICES: i64 = 100_000;
const PER_PAGE: i64 = 100;

fn estate_app(db: Database) -> App {
    App::with_settings(
        estate::settings::SettingsLoader::new()
            .set("secret_key", SECRET_KEY)
            .set("allowed_hosts", vec!["127.0.0.1", "localhost"])
            .set("auth.login_failures_per_address", 0)
            .load()
            .expect("valid settings"),
    )
    .database(db)
    .app(estate::sessions::app())
    .app(estate::auth::app())
    .app(estate::messages::app())
    .app(
        AppModule::new("polls")
            .model::<Question>()
            .model::<Choice>(),
    )
    .app(
        estate::admin::site()
            .register(
                ModelAdmin::<Choice>::new()
                    .list_display(&["choice_text", "question", "votes"])
                    .list_per_page(PER_PAGE as u64),
            )
            .app(),
    )
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
    id: i64,
    choice_text: String,
    question: String,
    votes: i32,
}

#[derive(Deserialize)]
struct Page {
    p: Option<i64>,
}

/// The page the admin renders for this list (layout, breadcrumbs, the
/// actions menu, a checkbox per row, sortable headers, the paginator), so
/// both sides render the same HTML; a hand-written page needs the same
/// markup to offer the same features.
const TEMPLATE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Select choice to change | Estate site admin</title>
  <link rel="stylesheet" href="/admin/static/admin.css">
  <script src="/admin/static/admin.js" defer></script>
</head>
<body>
  <header class="site">
    <h1><a href="/admin/">Estate administration</a></h1>
    <div>Welcome, <strong>{{ username }}</strong>.
      <a href="/accounts/password_change/">Change password</a> /
      <form method="post" action="/admin/logout/"><input type="hidden" name="csrfmiddlewaretoken" value="{{ csrf_token }}"><button type="submit">Log out</button></form>
    </div>
  </header>
  <nav class="breadcrumbs" aria-label="Breadcrumbs"><a href="/admin/">Home</a> › Choices</nav>
  <main>
<h2>Select choice to change</h2>
<div class="toolbar">
  <a class="button" href="/admin/polls/choice/add/">Add choice</a>
</div>
<div class="changelist">
<form method="post" class="module results" id="changelist-form">
<input type="hidden" name="csrfmiddlewaretoken" value="{{ csrf_token }}">
<div class="actions">
  <label for="action">Action:</label>
  <select name="action" id="action" required>
    <option value="">---------</option>
    <option value="delete_selected">Delete selected choices</option>
  </select>
  <button type="submit" class="secondary" name="index" value="0">Go</button>
</div>
<table>
  <thead>
    <tr>
      <th scope="col" class="action-checkbox"><span class="visually-hidden">Select</span></th>
      <th scope="col"><a href="?o=choice_text">Choice text</a></th>
      <th scope="col"><a href="?o=question">Question</a></th>
      <th scope="col"><a href="?o=votes">Votes</a></th>
    </tr>
  </thead>
  <tbody>
    {% for row in rows -%}
    <tr><td class="action-checkbox"><input type="checkbox" name="_selected_action" value="{{ row.id }}" aria-label="Select {{ row.choice_text }}"></td>
      <th scope="row"><a href="/admin/polls/choice/{{ row.id }}/change/">{{ row.choice_text }}</a></th>
      <td>{{ row.question }}</td>
      <td>{{ row.votes }}</td>
    </tr>
    {% endfor %}
  </tbody>
</table>
</form>
</div>
<p class="paginator">
  {% if page > 1 %}<a href="?p={{ page - 1 }}" rel="prev">Previous</a>{% endif %}
  Page {{ page }} of {{ pages }}
  {% if page < pages %}<a href="?p={{ page + 1 }}" rel="next">Next</a>{% endif %}
  · {{ total }} choices
</p>
  </main>
</body>
</html>"#;

async fn axum_changelist(
    State(state): State<Arc<Baseline>>,
    Query(page): Query<Page>,
) -> Result<Html<String>, String> {
    // What the admin does: count, one page of rows, then the labels of the
    // rows their foreign keys point at, in one more query.
    const COUNT: &str = "SELECT COUNT(*) FROM polls_choice";
    let page = page.p.unwrap_or(1).max(1);
    let offset = (page - 1) * PER_PAGE;
    let (total, mut rows, questions) = match &state.pool {
        Pool::Sqlite(pool) => {
            let total: i64 = sqlx::query(COUNT)
                .fetch_one(pool)
                .await
                .map_err(|e| e.to_string())?
                .get(0);
            let rows: Vec<(Row, i64)> = sqlx::query(
                "SELECT id, question_id, choice_text, votes FROM polls_choice ORDER BY id DESC LIMIT ? OFFSET ?",
            )
            .bind(PER_PAGE)
            .bind(offset)
            .fetch_all(pool)
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| (Row { id: r.get(0), choice_text: r.get(2), votes: r.get(3), question: String::new() }, r.get(1)))
            .collect();
            let keys: Vec<String> = rows.iter().map(|(_, q)| q.to_string()).collect();
            let sql = format!(
                "SELECT id, question_text FROM polls_question WHERE id IN ({})",
                keys.join(",")
            );
            let labels: Vec<(i64, String)> = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .map_err(|e| e.to_string())?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            (total, rows, labels)
        }
        Pool::Postgres(pool) => {
            let total: i64 = sqlx::query(COUNT)
                .fetch_one(pool)
                .await
                .map_err(|e| e.to_string())?
                .get(0);
            let rows: Vec<(Row, i64)> = sqlx::query(
                "SELECT id, question_id, choice_text, votes FROM polls_choice ORDER BY id DESC LIMIT $1 OFFSET $2",
            )
            .bind(PER_PAGE)
            .bind(offset)
            .fetch_all(pool)
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| (Row { id: r.get(0), choice_text: r.get(2), votes: r.get(3), question: String::new() }, r.get(1)))
            .collect();
            let keys: Vec<i64> = rows.iter().map(|(_, q)| *q).collect();
            let labels: Vec<(i64, String)> =
                sqlx::query("SELECT id, question_text FROM polls_question WHERE id = ANY($1)")
                    .bind(keys)
                    .fetch_all(pool)
                    .await
                    .map_err(|e| e.to_string())?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect();
            (total, rows, labels)
        }
    };
    let labels: std::collections::HashMap<i64, String> = questions.into_iter().collect();
    for (row, question) in &mut rows {
        row.question = labels.get(question).cloned().unwrap_or_default();
    }
    let rows: Vec<Row> = rows.into_iter().map(|(row, _)| row).collect();
    let pages = (total + PER_PAGE - 1) / PER_PAGE;
    let template = state
        .templates
        .get_template("changelist.html")
        .map_err(|e| e.to_string())?;
    template
        .render(minijinja::context! {
            // What the admin's page has from the session: the user's name
            // and a CSRF token (a fixed one here: no session is read).
            username => "bench",
            csrf_token => "BXikMgO0QmCIXybHZQK7TcUjr5n8O7o0EzPcoi9puMPjSzoTWWEO2AJSmUjiiuK8",
            rows => minijinja::Value::from(minijinja::value::Serde(&rows)),
            page,
            pages,
            total,
        })
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
        .add_template("changelist.html", TEMPLATE)
        .expect("the template parses");
    Baseline { pool, templates }
}

async fn setup(url: &str) {
    let db = Database::connect(url).await.expect("the database connects");
    for table in ["polls_choice", "polls_question"] {
        let _ = db
            .execute(
                &format!("DROP TABLE IF EXISTS {table}"),
                estate::db::params![],
            )
            .await;
    }
    estate_app(db.clone())
        .run_with_args(["bench", "migrate"], estate::cli::CommandOutput::capture())
        .await
        .expect("migrate");
    create_table(&db, Question::META).await.expect("questions");
    create_table(&db, Choice::META).await.expect("choices");
    let questions: Vec<Question> = (1..=QUESTIONS)
        .map(|i| Question {
            id: Auto::Set(i),
            question_text: format!("Question <{i}> & more?"),
        })
        .collect();
    Question::objects()
        .bulk_create(&db, questions)
        .await
        .expect("questions inserted");
    for chunk in 0..(CHOICES / 1000) {
        let rows: Vec<Choice> = (0..1000)
            .map(|i| {
                let n = chunk * 1000 + i + 1;
                Choice {
                    id: Auto::Set(n),
                    question: ForeignKey::new(n % QUESTIONS + 1),
                    choice_text: format!("Choice {n}"),
                    votes: (n % 97) as i32,
                }
            })
            .collect();
        Choice::objects()
            .bulk_create(&db, rows)
            .await
            .expect("choices inserted");
    }
    let out = estate::cli::CommandOutput::capture();
    let created = estate_app(db)
        .run_with_args(
            [
                "bench",
                "createsuperuser",
                "--noinput",
                "--username",
                "bench",
            ],
            out.clone(),
        )
        .await;
    // Already there from an earlier setup: fine.
    if let Err(err) = created {
        println!("superuser: {err}");
    }
    println!(
        "{QUESTIONS} questions, {CHOICES} choices, superuser `bench` (set its password with changepassword or ESTATE_SUPERUSER_PASSWORD)"
    );
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
                "usage: changelist --setup <url> | --target <estate|axum> --addr 127.0.0.1:PORT \
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
            "axum" => {
                let state = Arc::new(baseline(&url).await);
                let router = axum::Router::new()
                    .route("/changelist", axum::routing::get(axum_changelist))
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
