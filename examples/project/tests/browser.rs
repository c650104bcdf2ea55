//! The admin in a real browser: headless Chromium, driven through
//! chromedriver, against the project binary, on SQLite (and on PostgreSQL
//! and MySQL when they are configured). A superuser logs in, meets a
//! validation error next to its field, adds, searches, sorts, opens,
//! changes and deletes a question; a view-only staff user sees no Add link
//! and is refused the add page. Screenshots of the change list and the
//! change form go to `$CARGO_TARGET_TMPDIR/admin-screenshots/`.

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use estate::auth::hashers::PasswordHashers;
use estate::auth::{Permission, User};
use estate::db::Database;
use estate::orm::{Backend, Model};
use estate::test::{BROWSER, TestDatabase, service};
use fantoccini::{Client, ClientBuilder, Locator};

use common::{command, start};

const PASSWORD: &str = "plum-crumble-42";

/// chromedriver on a free port, stopped with the test.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver and a headless Chromium session, or `None` (a visible
/// skip) when browser tests are off.
async fn browser() -> Option<(Driver, Client)> {
    service(BROWSER)?;
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (apt-get install -y chromium chromium-driver)");
    let driver = Driver { child, port };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", driver.port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile =
        std::env::temp_dir().join(format!("estate-chromium-{}-{port}", std::process::id()));
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session through chromedriver");
    Some((driver, client))
}

/// A staff user who may only view questions, straight into the database.
async fn add_viewer(url: &str) {
    let db = Database::connect(url).await.unwrap();
    let mut viewer = User::new("viewer", "viewer@example.com");
    viewer.set_password(&PasswordHashers::default(), PASSWORD);
    viewer.is_staff = true;
    viewer.save(&db).await.unwrap();
    let view = Permission::objects()
        .get(&db, Permission::CODENAME.eq("view_question"))
        .await
        .unwrap();
    User::USER_PERMISSIONS
        .add(&db, &viewer, [&view])
        .await
        .unwrap();
}

/// Clicks what `locator` finds and waits for the next page to load (the
/// old page's elements would otherwise still be found, then go stale).
async fn click_through(client: &Client, locator: Locator<'_>) {
    client
        .execute("window.__estate_old_page = true;", vec![])
        .await
        .unwrap();
    client.find(locator).await.unwrap().click().await.unwrap();
    let started = Instant::now();
    loop {
        let state = client
            .execute(
                "return (window.__estate_old_page ? 'old' : document.readyState);",
                vec![],
            )
            .await;
        if matches!(state, Ok(serde_json::Value::String(ref s)) if s == "complete") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the next page did not load"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn text_of(client: &Client, css: &str) -> String {
    match client.wait().for_element(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap(),
        Err(err) => {
            let page = client.source().await.unwrap_or_default();
            panic!("no `{css}` on the page ({err}):\n{page}")
        }
    }
}

async fn log_in(client: &Client, base: &str, username: &str) {
    client.goto(&format!("{base}/admin/")).await.unwrap();
    let url = client.current_url().await.unwrap();
    assert_eq!(
        url.path(),
        "/admin/login/",
        "anonymous visitors go to the login"
    );
    client
        .find(Locator::Id("id_username"))
        .await
        .unwrap()
        .send_keys(username)
        .await
        .unwrap();
    client
        .find(Locator::Id("id_password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    click_through(client, Locator::Css("main button[type=submit]")).await;
    assert_eq!(text_of(client, "main h2").await, "Site administration");
}

fn screenshot(name: &str, png: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("admin-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// The whole walk, on the database at `url`.
async fn walk(client: &Client, label: &str, url: &str) {
    let env = [
        ("ESTATE_DEBUG", "true"),
        ("DATABASE_URL", url),
        (
            "ESTATE_SECRET_KEY",
            "browser-test-secret-key-0123456789-abcdefghij",
        ),
    ];
    let migrate = command(&["migrate"]).envs(env).output().unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let create = command(&["createsuperuser", "--noinput", "--username", "admin"])
        .envs(env)
        .env("ESTATE_SUPERUSER_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        create.status.success(),
        "{}",
        String::from_utf8_lossy(&create.stderr)
    );
    add_viewer(url).await;
    let server = start(&env);
    let base = format!("http://127.0.0.1:{}", server.port);

    log_in(client, &base, "admin").await;
    click_through(client, Locator::Css("a[href='/admin/polls/question/add/']")).await;
    // An empty question: the error sits next to its field.
    click_through(client, Locator::Css("button[name=_save]")).await;
    assert_eq!(
        text_of(client, "#id_question_text_error").await,
        "This field is required."
    );
    client
        .find(Locator::Id("id_question_text"))
        .await
        .unwrap()
        .send_keys("What's new in the browser?")
        .await
        .unwrap();
    // Two choices in the inline rows.
    for (row, text) in [(0, "Yes"), (1, "No")] {
        client
            .find(Locator::Css(&format!(
                "input[name='choice-{row}-choice_text']"
            )))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
        client
            .find(Locator::Css(&format!("input[name='choice-{row}-votes']")))
            .await
            .unwrap()
            .send_keys("0")
            .await
            .unwrap();
    }
    client
        .execute(
            "document.getElementById('id_pub_date').value = '2026-11-26T10:00';",
            vec![],
        )
        .await
        .unwrap();
    click_through(client, Locator::Css("button[name=_save]")).await;
    let notice = text_of(client, "ul.messages li").await;
    assert!(notice.contains("was added successfully"), "{notice}");
    assert_eq!(
        text_of(client, "tbody th a").await,
        "What's new in the browser?"
    );
    screenshot(
        &format!("changelist-{label}.png"),
        &client.screenshot().await.unwrap(),
    );

    // Search, then sort by a column.
    let search = client.find(Locator::Id("searchbar")).await.unwrap();
    search.send_keys("nothing like it").await.unwrap();
    click_through(client, Locator::Css("form[role=search] button")).await;
    assert!(
        text_of(client, "tbody td")
            .await
            .contains("No questions found.")
    );
    client
        .goto(&format!("{base}/admin/polls/question/?q=browser"))
        .await
        .unwrap();
    assert_eq!(
        text_of(client, "tbody th a").await,
        "What's new in the browser?"
    );
    click_through(client, Locator::LinkText("Question text")).await;
    let sorted = client.find(Locator::Css("th.sorted")).await.unwrap();
    assert_eq!(
        sorted.attr("aria-sort").await.unwrap().as_deref(),
        Some("ascending")
    );

    // Open, change, delete.
    click_through(client, Locator::Css("tbody th a")).await;
    assert!(
        text_of(client, "main h2")
            .await
            .starts_with("Change question")
    );
    screenshot(
        &format!("change-form-{label}.png"),
        &client.screenshot().await.unwrap(),
    );
    let field = client.find(Locator::Id("id_question_text")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys("Changed in the browser").await.unwrap();
    click_through(client, Locator::Css("button[name=_continue]")).await;
    assert!(
        text_of(client, "ul.messages li")
            .await
            .contains("was changed successfully")
    );
    click_through(client, Locator::LinkText("Delete")).await;
    assert_eq!(text_of(client, "main h2").await, "Are you sure?");
    click_through(client, Locator::Css("button.danger")).await;
    assert!(
        text_of(client, "ul.messages li")
            .await
            .contains("was deleted successfully")
    );
    click_through(client, Locator::Css("header.site button")).await;
    assert_eq!(client.current_url().await.unwrap().path(), "/admin/login/");

    // A view-only staff user: no Add link, and the add page refused.
    log_in(client, &base, "viewer").await;
    let index = client.source().await.unwrap();
    assert!(
        index.contains(">View</a>") && !index.contains(">Add</a>"),
        "{index}"
    );
    client
        .goto(&format!("{base}/admin/polls/question/add/"))
        .await
        .unwrap();
    let page = client.source().await.unwrap();
    assert!(
        page.contains("You do not have permission to add rows here."),
        "{page}"
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_works_in_a_real_browser() {
    let Some((driver, client)) = browser().await else {
        return;
    };
    let sqlite =
        std::env::temp_dir().join(format!("estate-browser-{}.sqlite3", std::process::id()));
    let _ = std::fs::remove_file(&sqlite);
    walk(&client, "sqlite", &format!("sqlite://{}", sqlite.display())).await;
    let _ = std::fs::remove_file(&sqlite);
    for backend in [Backend::Postgres, Backend::MySql] {
        let Some(created) = TestDatabase::create(backend).await else {
            continue;
        };
        let test_db = created.unwrap();
        // A fresh browser profile state: log out happened in the walk.
        client.delete_all_cookies().await.unwrap();
        walk(
            &client,
            &format!("{backend:?}").to_lowercase(),
            &test_db.url().unwrap(),
        )
        .await;
        test_db.drop_database().await.unwrap();
    }
    client.close().await.unwrap();
    drop(driver);
}
