//! Showing the queries: counts per request, `assert_num_queries`, and N+1
//! patterns named by their call site.

mod common;

use estate::db::Database;
use estate::orm::{ForeignKey, create_table};
use estate::prelude::*;
use estate::settings::SettingsLoader;
use estate::test::{TestServer, assert_num_queries, capture_queries, each_backend};

#[derive(Model, Debug, Clone, PartialEq)]
struct Writer {
    id: Auto<i64>,
    #[model(max_length = 40)]
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(ordering = "id")]
struct Post {
    id: Auto<i64>,
    #[model(on_delete = Cascade)]
    writer: ForeignKey<Writer>,
}

async fn seed(db: &Database) {
    create_table(db, Writer::META).await.unwrap();
    create_table(db, Post::META).await.unwrap();
    for i in 0..6 {
        let mut writer = Writer {
            id: Auto::new(),
            name: format!("w{i}"),
        };
        writer.save(db).await.unwrap();
        let mut post = Post {
            id: Auto::new(),
            writer: ForeignKey::to(&writer).unwrap(),
        };
        post.save(db).await.unwrap();
    }
}

/// One query per post for its writer: the classic N+1.
async fn slow_names(db: estate::db::Db) -> estate::Result<String> {
    let mut names = Vec::new();
    for post in Post::objects().all(&db).await? {
        names.push(post.writer.fetch(&db).await?.name);
    }
    Ok(names.join(","))
}

/// The same with one JOIN.
async fn fast_names(db: estate::db::Db) -> estate::Result<String> {
    let posts = Post::objects()
        .select_related(Post::WRITER)
        .all(&db)
        .await?;
    Ok(posts
        .iter()
        .map(|p| p.writer.get().map(|w| w.name.clone()).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(","))
}

/// Runs two queries, then fails.
async fn broken(db: estate::db::Db) -> estate::Result<String> {
    let count = Post::objects().count(&db).await?;
    let first = Writer::objects().first(&db).await?;
    Err(estate::Error::internal(format!(
        "gave up after {count} posts and {:?}",
        first.map(|w| w.name)
    )))
}

fn app(db: &Database, extra: impl FnOnce(SettingsLoader) -> SettingsLoader) -> App {
    let settings = extra(SettingsLoader::new().set("debug", true))
        .load()
        .unwrap();
    App::with_settings(settings)
        .database(db.clone())
        .route("/slow", get(slow_names))
        .route("/fast", get(fast_names))
        .route("/broken", get(broken))
}

#[tokio::test]
async fn requests_report_their_query_count_and_n_plus_one_patterns() {
    each_backend(async |db| {
        seed(&db).await;
        let server = TestServer::start(app(&db, |s| s)).await;
        let slow = server.get("/slow").send().await;
        assert_eq!(slow.status, StatusCode::OK);
        assert_eq!(slow.text(), "w0,w1,w2,w3,w4,w5");
        assert_eq!(slow.header("x-query-count"), Some("7"));
        let fast = server.get("/fast").send().await;
        assert_eq!(fast.text(), "w0,w1,w2,w3,w4,w5");
        assert_eq!(fast.header("x-query-count"), Some("1"));
        server.shutdown().await;

        // Configured as an error, the N+1 request fails and names its line.
        let server = TestServer::start(app(&db, |s| s.set("logging.n_plus_one", "error"))).await;
        let slow = server.get("/slow").send().await;
        assert_eq!(slow.status, StatusCode::INTERNAL_SERVER_ERROR);
        let page = slow.text();
        assert!(
            page.contains("possible N+1 queries: the same query ran 6 times"),
            "{page}"
        );
        let fetch_line = include_str!("queries.rs")
            .lines()
            .position(|l| l.contains("names.push(post.writer.fetch"))
            .unwrap()
            + 1;
        let site = format!("tests/queries.rs:{fetch_line}");
        assert!(page.contains(&site), "the fetch call site {site}: {page}");
        assert_eq!(server.get("/fast").send().await.status, StatusCode::OK);
        server.shutdown().await;

        // Off in production unless asked for.
        let production = common::production().load().unwrap();
        let server = TestServer::start(
            App::with_settings(production)
                .database(db.clone())
                .route("/slow", get(slow_names)),
        )
        .await;
        assert_eq!(
            server.get("/slow").send().await.header("x-query-count"),
            None
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn tests_can_count_queries() {
    each_backend(async |db| {
        seed(&db).await;
        let posts = assert_num_queries(1, Post::objects().select_related(Post::WRITER).all(&db))
            .await
            .unwrap();
        assert_eq!(posts.len(), 6);

        let (_, queries) = capture_queries(async {
            for post in &posts {
                post.writer.fetch(&db).await.unwrap();
            }
        })
        .await;
        assert_eq!(queries.len(), 6);
        let repeated = estate::orm::query_log::repeated(&queries, 5);
        assert_eq!(repeated.len(), 1);
        assert!(
            repeated[0]
                .location
                .as_deref()
                .unwrap()
                .contains("tests/queries.rs")
        );

        // A wrong count fails, listing what ran.
        let db2 = db.clone();
        let failed = tokio::spawn(async move {
            assert_num_queries(2, Post::objects().count(&db2))
                .await
                .unwrap();
        })
        .await
        .unwrap_err();
        let message = failed.into_panic();
        let message = message.downcast_ref::<String>().unwrap();
        assert!(message.contains("expected 2 queries, 1 ran"), "{message}");
        assert!(message.contains("1. SELECT COUNT(*)"), "{message}");
    })
    .await;
}

#[tokio::test]
async fn the_debug_error_page_lists_the_queries_the_request_ran() {
    each_backend(async |db| {
        seed(&db).await;
        let server = TestServer::start(app(&db, |s| s)).await;
        let response = server
            .get("/broken")
            .header("accept", "text/html")
            .send()
            .await;
        assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
        let page = response.text();
        assert!(page.contains("SQL queries"), "{page}");
        assert!(page.contains("2 queries in"), "{page}");
        assert!(page.contains("COUNT(*)"), "{page}");
        let line = include_str!("queries.rs")
            .lines()
            .position(|l| l.contains("let count = Post::objects().count(&db)"))
            .unwrap()
            + 1;
        assert!(page.contains(&format!("tests/queries.rs:{line}")), "{page}");
        server.shutdown().await;

        // Never outside DEBUG.
        let production = common::production()
            .set("logging.query_log", true)
            .load()
            .unwrap();
        let server = TestServer::start(
            App::with_settings(production)
                .database(db.clone())
                .route("/broken", get(broken)),
        )
        .await;
        let response = server
            .get("/broken")
            .header("accept", "text/html")
            .send()
            .await;
        assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!response.text().contains("SQL"), "{}", response.text());
        server.shutdown().await;
    })
    .await;
}
