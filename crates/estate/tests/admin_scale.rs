//! The change list of a big table: with `estimate_count_above`, the
//! unfiltered list takes its total from the database's statistics
//! (PostgreSQL, MySQL) and says "about"; searches still count; pages past
//! an estimate that fell short stay reachable while they have rows. On every
//! backend (SQLite always counts).

mod common;

use estate::admin::ModelAdmin;
use estate::auth::{Auth, create_superuser};
use estate::cli::CommandOutput;
use estate::db::{Backend, Database, RawSql, params};
use estate::orm::{Model, create_table};
use estate::prelude::*;
use estate::test::{TestClient, TestServer, each_backend};

#[derive(Model, Debug, Clone)]
#[model(table = "ledger_entry", verbose_name_plural = "entries")]
struct Entry {
    id: Auto<i64>,
    #[model(max_length = 50)]
    title: String,
}

const PASSWORD: &str = "correct horse battery";

fn site(db: &Database) -> App {
    common::debug_app_with(|s| s)
        .database(db.clone())
        .app(estate::sessions::app())
        .app(estate::auth::app())
        .app(AppModule::new("ledger").model::<Entry>())
        .app(
            estate::admin::site()
                .register(
                    ModelAdmin::<Entry>::new()
                        .list_display(&["title"])
                        .search_fields(&["title"])
                        .list_per_page(10)
                        .estimate_count_above(10),
                )
                .app(),
        )
}

async fn add_entries(db: &Database, from: usize, to: usize) {
    for n in from..to {
        let mut entry = Entry {
            id: Auto::new(),
            title: format!("Entry {n:02}"),
        };
        entry.save(db).await.unwrap();
    }
}

async fn login(server: &TestServer) -> TestClient {
    let client = server.client();
    let response = client
        .post("/admin/login/")
        .form(&[("username", "root"), ("password", PASSWORD)])
        .send()
        .await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    client
}

#[tokio::test]
async fn a_big_table_shows_an_estimated_total_and_searches_count() {
    each_backend(async |db| {
        site(&db)
            .run_with_args(["site", "migrate"], CommandOutput::capture())
            .await
            .unwrap();
        create_table(&db, Entry::META).await.unwrap();
        add_entries(&db, 0, 30).await;
        let analyze = match db.backend() {
            Backend::Sqlite => "ANALYZE",
            Backend::Postgres => "ANALYZE ledger_entry",
            Backend::MySql => "ANALYZE TABLE ledger_entry",
        };
        db.execute(analyze, params![]).await.unwrap();
        let server = TestServer::start(site(&db)).await;
        let auth = server.context().get::<Auth>().unwrap().clone();
        create_superuser(&auth, &db, "root", "", Some(PASSWORD))
            .await
            .unwrap();
        let root = login(&server).await;

        let list = root.get("/admin/ledger/entry/").send().await;
        assert_eq!(list.status, StatusCode::OK);
        let html = list.text();
        if db.backend() == Backend::Sqlite {
            assert!(
                html.contains("30 entries") && !html.contains("about"),
                "{html}"
            );
        } else {
            assert!(html.contains("Page 1 of about"), "{html}");
            assert!(html.contains("about "), "{html}");
        }
        // A search counts exactly ("entry" and "1": 01, 10-19, 21).
        let found = root
            .get("/admin/ledger/entry/?q=entry+1")
            .send()
            .await
            .text();
        assert!(
            found.contains("12 entries") && !found.contains("about"),
            "{found}"
        );

        if db.backend() == Backend::Postgres {
            // The statistics still say 30; the table has 60. The pages past
            // the estimate are there while they have rows.
            add_entries(&db, 30, 60).await;
            let html = root.get("/admin/ledger/entry/").send().await.text();
            assert!(html.contains("about 30 entries"), "{html}");
            let page_5 = root.get("/admin/ledger/entry/?p=5").send().await.text();
            assert!(page_5.contains("rel=\"next\""), "{page_5}");
            let page_6 = root.get("/admin/ledger/entry/?p=6").send().await;
            assert_eq!(page_6.status, StatusCode::OK);
            let page_6 = page_6.text();
            assert!(page_6.contains("Entry 00"), "oldest last");
            // The real last page: no Next link to a page that is not there.
            assert!(!page_6.contains("rel=\"next\""), "{page_6}");
            let page_7 = root.get("/admin/ledger/entry/?p=7").send().await;
            assert_eq!(page_7.status, StatusCode::NOT_FOUND);
        }
        for bad in ["0", "abc", "99999999999999999999", "1000"] {
            let response = root
                .get(&format!("/admin/ledger/entry/?p={bad}"))
                .send()
                .await;
            assert_eq!(response.status, StatusCode::NOT_FOUND, "p={bad}");
        }
    })
    .await;
}
