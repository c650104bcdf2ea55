//! The admin in a real browser: headless Chromium, driven through
//! chromedriver, against the project binary, on SQLite (and on PostgreSQL
//! and MySQL when they are configured). A superuser logs in, meets a
//! validation error next to its field, adds a question with inline
//! choices, filters, searches, sorts, opens, changes it and reads its
//! history, picks it for a new choice with the autocomplete box,
//! bulk-deletes that choice through the confirmation page, pages through
//! 122 choices, sees a slug prepopulated, gives a group a permission in the
//! two-pane selector, and deletes the question; a view-only staff user sees
//! no Add link, is refused the add page, sees a question read-only and has
//! POSTs to its change and delete pages refused. Screenshots of the change list and the
//! change form go to `$CARGO_TARGET_TMPDIR/admin-screenshots/`.

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use estate::auth::hashers::PasswordHashers;
use estate::auth::{Group, Permission, User};
use estate::db::{Database, RawSql, params};
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

/// A choice whose question is found with the autocomplete box (typing,
/// then Enter on the highlighted result), then removed with the bulk "delete selected"
/// action through its confirmation page.
async fn autocomplete_then_bulk_delete(client: &Client, base: &str, label: &str) {
    client
        .goto(&format!("{base}/admin/polls/choice/add/"))
        .await
        .unwrap();
    let search = client
        .wait()
        .for_element(Locator::Id("id_question_search"))
        .await
        .unwrap();
    // The label now belongs to the search box.
    assert!(
        client
            .find(Locator::Css("label[for=id_question_search]"))
            .await
            .is_ok()
    );
    search.send_keys("CHANGED in").await.unwrap();
    let option = client
        .wait()
        .for_element(Locator::Css("#id_question_results [role=option][data-id]"))
        .await
        .unwrap();
    assert_eq!(option.text().await.unwrap(), "Changed in the browser");
    screenshot(
        &format!("autocomplete-{label}.png"),
        &client.screenshot().await.unwrap(),
    );
    // The first result is highlighted, so Enter picks it instead of
    // submitting the form.
    assert_eq!(
        option.attr("aria-selected").await.unwrap().as_deref(),
        Some("true")
    );
    search.send_keys("\u{E007}").await.unwrap();
    assert!(
        text_of(client, "ul.autocomplete-chosen li")
            .await
            .contains("Changed in the browser")
    );
    for (name, text) in [("choice_text", "Maybe"), ("votes", "0")] {
        client
            .find(Locator::Id(&format!("id_{name}")))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
    click_through(client, Locator::Css("button[name=_save]")).await;
    let notice = text_of(client, "ul.messages li").await;
    assert!(notice.contains("was added successfully"), "{notice}");
    let list = client.source().await.unwrap();
    assert!(list.contains("Changed in the browser"), "{list}");

    client
        .find(Locator::Css("input[name=_selected_action]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Css("#action option[value=delete_selected]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click_through(client, Locator::Css("button[name=index]")).await;
    assert_eq!(text_of(client, "main h2").await, "Are you sure?");
    assert!(client.source().await.unwrap().contains("Maybe"));
    click_through(client, Locator::Css("button.danger")).await;
    assert_eq!(
        text_of(client, "ul.messages li").await,
        "Successfully deleted 1 choice."
    );
}

/// A group whose permission is picked in the two-pane selector: filtered,
/// highlighted, moved to "Chosen", saved.
async fn pick_permissions_in_the_selector(client: &Client, base: &str, url: &str, label: &str) {
    client
        .goto(&format!("{base}/admin/auth/group/add/"))
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Id("id_permissions_filter"))
        .await
        .unwrap()
        .send_keys("view question")
        .await
        .unwrap();
    let available = client
        .find(Locator::Css("#id_permissions_available option"))
        .await
        .unwrap();
    let permission = available.text().await.unwrap();
    assert!(permission.contains("view question"), "{permission}");
    available.click().await.unwrap();
    client
        .find(Locator::Css(".selector-buttons button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        text_of(client, "#id_permissions_chosen option").await,
        permission
    );
    screenshot(
        &format!("selector-{label}.png"),
        &client.screenshot().await.unwrap(),
    );
    client
        .find(Locator::Id("id_name"))
        .await
        .unwrap()
        .send_keys("Readers")
        .await
        .unwrap();
    click_through(client, Locator::Css("button[name=_save]")).await;
    let notice = text_of(client, "ul.messages li").await;
    assert!(notice.contains("was added successfully"), "{notice}");
    let db = Database::connect(url).await.unwrap();
    let group = Group::objects()
        .get(&db, Group::NAME.eq("Readers"))
        .await
        .unwrap();
    let permissions: Vec<String> = Group::PERMISSIONS
        .of(&group)
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.codename)
        .collect();
    assert_eq!(permissions, ["view_question"]);
}

/// 120 choices straight into the database: the change list has two pages,
/// and "Next" goes to the second.
async fn paginate_choices(client: &Client, base: &str, url: &str) {
    let db = Database::connect(url).await.unwrap();
    let question = db
        .fetch_one(
            "SELECT id FROM polls_question WHERE question_text = ?",
            params!["Changed in the browser"],
        )
        .await
        .unwrap()
        .get::<i64, usize>(0)
        .unwrap();
    for n in 0..120 {
        db.execute(
            "INSERT INTO polls_choice (question_id, choice_text, votes) VALUES (?, ?, 0)",
            params![question, format!("Bulk {n:03}")],
        )
        .await
        .unwrap();
    }
    client
        .goto(&format!("{base}/admin/polls/choice/"))
        .await
        .unwrap();
    let paginator = text_of(client, "p.paginator").await;
    assert!(paginator.contains("Page 1 of 2"), "{paginator}");
    click_through(client, Locator::LinkText("Next")).await;
    let paginator = text_of(client, "p.paginator").await;
    assert!(
        paginator.contains("Page 2 of 2") && paginator.contains("122 choices"),
        "{paginator}"
    );
    // The two inline choices and 120 more: 22 on the second page.
    assert_eq!(
        client
            .find_all(Locator::Css("tbody tr"))
            .await
            .unwrap()
            .len(),
        22
    );
}

/// The view-only user opens a question: every field disabled, no Save or
/// Delete; a POST to the change or delete page, made with the page's own
/// CSRF token, is refused with 403 and changes nothing.
async fn viewer_cannot_change_or_delete(client: &Client, base: &str, url: &str) {
    let db = Database::connect(url).await.unwrap();
    db.execute(
        "INSERT INTO polls_question (question_text, pub_date) VALUES (?, ?)",
        params!["Read only?", estate::orm::chrono::Utc::now()],
    )
    .await
    .unwrap();
    let id = db
        .fetch_one(
            "SELECT id FROM polls_question WHERE question_text = ?",
            params!["Read only?"],
        )
        .await
        .unwrap()
        .get::<i64, usize>(0)
        .unwrap();
    client
        .goto(&format!("{base}/admin/polls/question/{id}/change/"))
        .await
        .unwrap();
    assert!(
        text_of(client, "main h2")
            .await
            .starts_with("View question")
    );
    let field = client.find(Locator::Id("id_question_text")).await.unwrap();
    assert!(field.prop("disabled").await.unwrap().is_some());
    assert!(
        client
            .find(Locator::Css("button[name=_save]"))
            .await
            .is_err()
    );
    assert!(client.find(Locator::LinkText("Delete")).await.is_err());
    for page in ["change", "delete"] {
        let status = client
            .execute_async(
                &format!(
                    "const done = arguments[arguments.length - 1];
                     const body = new URLSearchParams({{
                         csrfmiddlewaretoken:
                             document.querySelector('[name=csrfmiddlewaretoken]').value,
                         question_text: 'Changed anyway',
                         pub_date: '2026-01-01T00:00',
                         post: 'yes',
                     }});
                     fetch('/admin/polls/question/{id}/{page}/', {{
                         method: 'POST', body, credentials: 'same-origin',
                     }}).then(r => done(r.status));"
                ),
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(status, serde_json::json!(403), "{page}");
    }
    let still = db
        .fetch_one(
            "SELECT COUNT(*) FROM polls_question WHERE question_text = ?",
            params!["Read only?"],
        )
        .await
        .unwrap()
        .get::<i64, usize>(0)
        .unwrap();
    assert_eq!(still, 1);
}

/// A slug filled in from a title while it is typed (`prepopulated_fields`):
/// the script enhances fields added to the page, accents go, words are
/// joined by hyphens and cut at the slug's maxlength; typing into the slug
/// stops it.
async fn prepopulate_a_slug(client: &Client, base: &str) {
    client.goto(&format!("{base}/admin/")).await.unwrap();
    client
        .execute(
            "const form = document.createElement('form');
             const title = document.createElement('input');
             title.name = 'headline'; title.id = 't_headline';
             const slug = document.createElement('input');
             slug.id = 't_slug'; slug.setAttribute('maxlength', '12');
             slug.dataset.prepopulate = 'headline';
             form.append(title, slug);
             document.querySelector('main').append(form);
             estateAdmin.enhance(form);",
            vec![],
        )
        .await
        .unwrap();
    let title = client.find(Locator::Id("t_headline")).await.unwrap();
    title.send_keys("Crème Brûlée, à la mode!").await.unwrap();
    let slug = client.find(Locator::Id("t_slug")).await.unwrap();
    assert_eq!(slug.prop("value").await.unwrap().unwrap(), "creme-brulee");
    slug.clear().await.unwrap();
    slug.send_keys("mine").await.unwrap();
    title.send_keys(" again").await.unwrap();
    assert_eq!(slug.prop("value").await.unwrap().unwrap(), "mine");
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
    // Today (UTC), so the "Today" filter finds it.
    let today = estate::orm::chrono::Utc::now().format("%Y-%m-%dT00:30");
    client
        .execute(
            &format!("document.getElementById('id_pub_date').value = '{today}';"),
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

    // Filter: "Today" keeps it, the filter link marked as chosen.
    click_through(client, Locator::LinkText("Today")).await;
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .query()
            .unwrap_or("")
            .contains("pub_date="),
        "the filter is in the address"
    );
    assert_eq!(
        text_of(client, "tbody th a").await,
        "What's new in the browser?"
    );
    assert_eq!(
        text_of(client, "nav.filters [aria-current=true]").await,
        "Today"
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
    // The change log has the add and the change.
    click_through(client, Locator::LinkText("History")).await;
    let history = text_of(client, "main table").await;
    assert!(
        history.contains("Added.") && history.contains("Changed question text."),
        "{history}"
    );
    click_through(client, Locator::LinkText("Changed in the browser")).await;
    autocomplete_then_bulk_delete(client, &base, label).await;
    paginate_choices(client, &base, url).await;
    prepopulate_a_slug(client, &base).await;
    pick_permissions_in_the_selector(client, &base, url, label).await;
    client
        .goto(&format!("{base}/admin/polls/question/"))
        .await
        .unwrap();
    click_through(client, Locator::Css("tbody th a")).await;
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
    viewer_cannot_change_or_delete(client, &base, url).await;
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
