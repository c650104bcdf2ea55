//! The admin through real HTTP, on every backend: staff-only login, the
//! permission-aware index, a superuser adding, changing and deleting rows,
//! the change list's search, sorting and pages with hostile parameters, a
//! view-only staff user refused every write (links hidden, direct POSTs
//! 403), unknown ids and models 404, CSRF on every form.

mod common;

use estate::admin::ModelAdmin;
use estate::auth::{Auth, Group, Permission, User, create_superuser, create_user};
use estate::cli::CommandOutput;
use estate::db::Database;
use estate::orm::chrono::{DateTime, Utc};
use estate::orm::{ForeignKey, Model, create_table};
use estate::prelude::*;
use estate::test::{TestClient, TestServer, each_backend};

use common::debug_app_with;

#[derive(Model, Debug, Clone)]
#[model(table = "polls_question", verbose_name = "question")]
struct Question {
    id: Auto<i64>,
    #[model(max_length = 200)]
    question_text: String,
    pub_date: DateTime<Utc>,
    #[model(default = true)]
    is_open: bool,
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

const PASSWORD: &str = "correct horse battery";

/// A custom admin action.
async fn close_polls(db: Database, questions: Vec<Question>) -> estate::Result<String> {
    let keys: Vec<i64> = questions.iter().filter_map(|q| q.id.get()).collect();
    let closed = Question::objects()
        .filter(Question::ID.in_(keys))
        .update(&db, [Question::IS_OPEN.set(false)])
        .await?;
    Ok(format!("Closed {closed} polls."))
}
const DATE: &str = "2026-11-26T10:00";

fn site(db: &Database) -> App {
    debug_app_with(|s| s)
        .database(db.clone())
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
                .site_header("Polls administration")
                .register(
                    ModelAdmin::<Question>::new()
                        .list_display(&["question_text", "pub_date"])
                        .search_fields(&["question_text"])
                        .ordering("-pub_date")
                        .list_filter(&["is_open", "pub_date"])
                        .list_per_page(10)
                        .action("close_polls", "Close selected polls", "change", close_polls)
                        .date_hierarchy("pub_date")
                        .fieldset("", &["question_text"])
                        .fieldset("Date information", &["pub_date", "is_open"])
                        .inline(estate::admin::Inline::<Choice>::stacked("question").extra(2)),
                )
                .register(
                    ModelAdmin::<Choice>::new()
                        .list_display(&["choice_text", "question", "votes", "popular"])
                        .list_display_links(&["choice_text", "votes"])
                        .readonly_fields(&["votes"])
                        .save_as(true)
                        .view_on_site(|c: &Choice| Some(format!("/polls/choice/{}/", c.id)))
                        .computed("popular", "Popular?", |c: &Choice| {
                            if c.votes >= 10 {
                                "yes".into()
                            } else {
                                "no".into()
                            }
                        })
                        .list_filter(&["question"])
                        .search_fields(&["choice_text", "question__question_text"]),
                )
                .app(),
        )
}

/// Tables, users (root superuser; viewer staff with view_question; editor
/// staff in a group with add/change/delete; ann not staff) and a server.
async fn start(db: &Database) -> TestServer {
    site(db)
        .run_with_args(["site", "migrate"], CommandOutput::capture())
        .await
        .unwrap();
    create_table(db, Question::META).await.unwrap();
    create_table(db, Choice::META).await.unwrap();
    let server = TestServer::start(site(db)).await;
    let auth = server.context().get::<Auth>().unwrap().clone();
    create_superuser(&auth, db, "root", "", Some(PASSWORD))
        .await
        .unwrap();
    let mut viewer = create_user(&auth, db, "viewer", "", Some(PASSWORD))
        .await
        .unwrap();
    viewer.is_staff = true;
    viewer.save(db).await.unwrap();
    let mut editor = create_user(&auth, db, "editor", "", Some(PASSWORD))
        .await
        .unwrap();
    editor.is_staff = true;
    editor.save(db).await.unwrap();
    create_user(&auth, db, "ann", "", Some(PASSWORD))
        .await
        .unwrap();
    let perm = |codename: &'static str| async move {
        Permission::objects()
            .get(db, Permission::CODENAME.eq(codename))
            .await
            .unwrap()
    };
    User::USER_PERMISSIONS
        .add(db, &viewer, [&perm("view_question").await])
        .await
        .unwrap();
    let mut editors = Group {
        id: Auto::new(),
        name: "editors".into(),
        permissions: Default::default(),
    };
    editors.save(db).await.unwrap();
    for codename in ["add_question", "change_question", "delete_question"] {
        Group::PERMISSIONS
            .add(db, &editors, [&perm(codename).await])
            .await
            .unwrap();
    }
    User::GROUPS.add(db, &editor, [&editors]).await.unwrap();
    server
}

async fn admin_login(server: &TestServer, username: &str) -> TestClient {
    let browser = server.client();
    let response = browser
        .post("/admin/login/")
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("next", "/admin/"),
        ])
        .send()
        .await;
    assert_eq!(
        response.status,
        StatusCode::SEE_OTHER,
        "{username}: {}",
        response.text()
    );
    browser
}

async fn add_question(db: &Database, text: &str, day: u32) -> Question {
    let mut question = Question {
        id: Auto::new(),
        question_text: text.into(),
        pub_date: format!("2026-11-{day:02}T10:00:00Z").parse().unwrap(),
        is_open: true,
    };
    question.save(db).await.unwrap();
    question
}

#[tokio::test]
async fn only_staff_get_in_and_others_are_sent_to_the_admin_login() {
    each_backend(async |db| {
        let server = start(&db).await;
        for path in [
            "/admin/",
            "/admin/polls/question/",
            "/admin/polls/question/add/",
        ] {
            let response = server.get(path).send().await;
            assert_eq!(response.status, StatusCode::SEE_OTHER, "{path}");
            let location = response.header("location").unwrap();
            assert!(
                location.starts_with("/admin/login/?next=%2Fadmin%2F"),
                "{location}"
            );
        }
        let page = server.get("/admin/login/").send().await;
        assert!(
            page.text().contains("Polls administration"),
            "{}",
            page.text()
        );
        // Not staff: refused with Django's message, and counted as a failure.
        let refused = server
            .post("/admin/login/")
            .form(&[("username", "ann"), ("password", PASSWORD)])
            .send()
            .await;
        assert_eq!(refused.status, StatusCode::OK);
        assert!(
            refused
                .text()
                .contains("Please enter the correct username and password for a staff account.")
        );
        assert_eq!(refused.cookie("sessionid"), None);
        // Logged in on the site but not staff: still the admin login.
        let browser = server.client();
        let site_login = browser
            .post("/accounts/login/")
            .form(&[("username", "ann"), ("password", PASSWORD)])
            .send()
            .await;
        assert_eq!(site_login.status, StatusCode::SEE_OTHER);
        let index = browser.get("/admin/").send().await;
        assert_eq!(index.status, StatusCode::SEE_OTHER);
        let login = browser.get("/admin/login/").send().await;
        assert!(
            login
                .text()
                .contains("You are authenticated as ann, but are not authorized")
        );
        // A staff login goes to next (same-site only).
        let staff = server
            .post("/admin/login/")
            .form(&[
                ("username", "viewer"),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ])
            .send()
            .await;
        assert_eq!(staff.header("location"), Some("/admin/"));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_superuser_adds_changes_and_deletes_rows() {
    each_backend(async |db| {
        let server = start(&db).await;
        let root = admin_login(&server, "root").await;
        let index = root.get("/admin/").send().await;
        // Private pages: never cached.
        assert_eq!(
            index.header("cache-control"),
            Some("no-cache, no-store, must-revalidate, private")
        );
        let index = index.text();
        assert!(
            index.contains(r#"<a href="/admin/polls/question/">Questions</a>"#),
            "{index}"
        );
        assert!(
            index.contains(r#"<a href="/admin/polls/choice/add/">Add</a>"#),
            "{index}"
        );
        assert!(
            index.contains(r#"<a href="/admin/auth/user/">Users</a>"#),
            "users and groups come built in: {index}"
        );

        // Add: an error next to its field, then the row.
        let form = root.get("/admin/polls/question/add/").send().await.text();
        assert!(form.contains(r#"name="question_text""#), "{form}");
        let invalid = root
            .post("/admin/polls/question/add/")
            .form(&[("question_text", ""), ("pub_date", DATE)])
            .send()
            .await;
        assert_eq!(
            invalid.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            invalid.text()
        );
        let html = invalid.text();
        assert!(html.contains("Please correct the errors below."), "{html}");
        assert!(html.contains(r#"id="id_question_text_error""#), "{html}");
        assert_eq!(Question::objects().count(&db).await.unwrap(), 0);
        let added = root
            .post("/admin/polls/question/add/")
            .form(&[
                ("question_text", "What's <new>?"),
                ("pub_date", DATE),
                ("_save", ""),
            ])
            .send()
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
        assert_eq!(added.header("location"), Some("/admin/polls/question/"));
        let list = root.get("/admin/polls/question/").send().await.text();
        assert!(
            list.contains("The question “What&#x27;s &lt;new&gt;?” was added successfully."),
            "{list}"
        );
        assert!(list.contains("What&#x27;s &lt;new&gt;?"), "{list}");
        let question = Question::objects()
            .get(&db, Question::QUESTION_TEXT.eq("What's <new>?"))
            .await
            .unwrap();
        let id = question.id.get().unwrap();

        // Change, staying on the page.
        let page = root
            .get(&format!("/admin/polls/question/{id}/change/"))
            .send()
            .await
            .text();
        assert!(
            page.contains(r#"value="What&#x27;s &lt;new&gt;?""#),
            "{page}"
        );
        let changed = root
            .post(&format!("/admin/polls/question/{id}/change/"))
            .form(&[
                ("question_text", "What's up?"),
                ("pub_date", DATE),
                ("_continue", ""),
            ])
            .send()
            .await;
        assert_eq!(
            changed.header("location"),
            Some(format!("/admin/polls/question/{id}/change/").as_str())
        );
        assert!(
            root.get(&format!("/admin/polls/question/{id}/change/"))
                .send()
                .await
                .text()
                .contains("was changed successfully")
        );
        let mut reloaded = question.clone();
        reloaded.refresh(&db).await.unwrap();
        assert_eq!(reloaded.question_text, "What's up?");

        // Delete: a confirmation, then the row and its choices go.
        let mut choice = Choice {
            id: Auto::new(),
            question: ForeignKey::to(&reloaded).unwrap(),
            choice_text: "Not much".into(),
            votes: 0,
        };
        choice.save(&db).await.unwrap();
        let confirm = root
            .get(&format!("/admin/polls/question/{id}/delete/"))
            .send()
            .await
            .text();
        assert!(
            confirm.contains("Are you sure you want to delete the question “What&#x27;s up?”"),
            "{confirm}"
        );
        let deleted = root
            .post(&format!("/admin/polls/question/{id}/delete/"))
            .send()
            .await;
        assert_eq!(deleted.header("location"), Some("/admin/polls/question/"));
        assert_eq!(Question::objects().count(&db).await.unwrap(), 0);
        assert_eq!(Choice::objects().count(&db).await.unwrap(), 0);
        assert!(
            root.get("/admin/polls/question/")
                .send()
                .await
                .text()
                .contains("was deleted successfully")
        );
        // Logging out by POST.
        let out = root.post("/admin/logout/").send().await;
        assert_eq!(out.header("location"), Some("/admin/login/"));
        assert_eq!(
            root.get("/admin/").send().await.status,
            StatusCode::SEE_OTHER
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_change_list_searches_sorts_and_pages_and_shrugs_off_bad_parameters() {
    each_backend(async |db| {
        let server = start(&db).await;
        for day in 1..=25 {
            let text = if day % 5 == 0 {
                format!("Rust question {day}")
            } else {
                format!("Question {day}")
            };
            add_question(&db, &text, day).await;
        }
        let root = admin_login(&server, "root").await;
        let page = |query: &str| {
            let root = root.clone();
            let path = format!("/admin/polls/question/{query}");
            async move { root.get(&path).send().await }
        };
        let first = page("").await.text();
        assert!(first.contains("Page 1 of 3"), "{first}");
        assert!(first.contains("25 questions"), "{first}");
        // Newest first (the admin's ordering), ten rows.
        assert!(first.find("Rust question 25").unwrap() < first.find("Question 24").unwrap());
        assert_eq!(first.matches("<th scope=\"row\">").count(), 10);
        let last = page("?p=3").await.text();
        assert_eq!(last.matches("<th scope=\"row\">").count(), 5);
        // Search: case-insensitive, every word.
        let rust = page("?q=RUST").await.text();
        assert!(
            rust.contains("5 questions") && !rust.contains("Question 24"),
            "{rust}"
        );
        assert_eq!(
            page("?q=rust+20")
                .await
                .text()
                .matches("<th scope=\"row\">")
                .count(),
            1
        );
        // Sorting by a shown column.
        let sorted = page("?o=question_text").await.text();
        assert!(sorted.contains(r#"aria-sort="ascending""#), "{sorted}");
        assert!(sorted.find("Question 1<").unwrap() < sorted.find("Question 11<").unwrap());
        // Hostile or broken parameters: never a 500, never SQL.
        for (query, status) in [
            ("?p=4", StatusCode::NOT_FOUND),
            ("?p=0", StatusCode::NOT_FOUND),
            ("?p=abc", StatusCode::NOT_FOUND),
            ("?p=99999999999999999999999", StatusCode::NOT_FOUND),
            ("?p=-1", StatusCode::NOT_FOUND),
            ("?o=password", StatusCode::OK),
            (
                "?o=question_text%3B%20DROP%20TABLE%20polls_question",
                StatusCode::OK,
            ),
            ("?o=--question_text", StatusCode::OK),
            (
                "?q=%27%3B%20DROP%20TABLE%20polls_question%3B%20--",
                StatusCode::OK,
            ),
            ("?q=%25%25%25", StatusCode::OK),
            (&format!("?q={}", "x".repeat(5000)), StatusCode::OK),
            ("?unknown=1&o=", StatusCode::OK),
        ] {
            let response = page(query).await;
            assert_eq!(response.status, status, "{query}: {}", response.text());
            assert!(
                !response.text().to_lowercase().contains("syntax"),
                "{query}"
            );
        }
        assert_eq!(Question::objects().count(&db).await.unwrap(), 25);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_view_only_staff_user_sees_but_cannot_write() {
    each_backend(async |db| {
        let server = start(&db).await;
        let question = add_question(&db, "Read me", 3).await;
        let id = question.id.get().unwrap();
        let viewer = admin_login(&server, "viewer").await;
        let index = viewer.get("/admin/").send().await.text();
        assert!(
            index.contains(">View</a>") && !index.contains(">Add</a>"),
            "{index}"
        );
        assert!(
            !index.contains("Choices"),
            "no permission, not listed: {index}"
        );
        let list = viewer.get("/admin/polls/question/").send().await.text();
        assert!(list.contains("Select question to view"), "{list}");
        assert!(!list.contains("Add question"), "{list}");
        let page = viewer
            .get(&format!("/admin/polls/question/{id}/change/"))
            .send()
            .await
            .text();
        assert!(
            page.contains("View question") && page.contains("disabled"),
            "{page}"
        );
        assert!(!page.contains(r#"name="_save""#), "{page}");
        // Every write refused, links or not.
        let fields = [("question_text", "Hacked"), ("pub_date", DATE)];
        for path in [
            "/admin/polls/question/add/".to_owned(),
            format!("/admin/polls/question/{id}/change/"),
            format!("/admin/polls/question/{id}/delete/"),
        ] {
            let response = viewer.post(&path).form(&fields).send().await;
            assert_eq!(response.status, StatusCode::FORBIDDEN, "POST {path}");
        }
        assert_eq!(
            viewer.get("/admin/polls/question/add/").send().await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            viewer
                .get(&format!("/admin/polls/question/{id}/delete/"))
                .send()
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            viewer.get("/admin/polls/choice/").send().await.status,
            StatusCode::FORBIDDEN
        );
        let mut unchanged = question.clone();
        unchanged.refresh(&db).await.unwrap();
        assert_eq!(unchanged.question_text, "Read me");

        // The editors group may write.
        let editor = admin_login(&server, "editor").await;
        let changed = editor
            .post(&format!("/admin/polls/question/{id}/change/"))
            .form(&[("question_text", "Edited"), ("pub_date", DATE)])
            .send()
            .await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.text());
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn unknown_ids_and_models_are_404_and_forms_need_csrf() {
    each_backend(async |db| {
        let server = start(&db).await;
        let root = admin_login(&server, "root").await;
        for path in [
            "/admin/polls/question/999/change/",
            "/admin/polls/question/abc/change/",
            "/admin/polls/question/99999999999999999999999/delete/",
            "/admin/polls/question/%27%20OR%201%3D1/change/",
            "/admin/polls/nosuch/",
            "/admin/auth/question/",
            "/admin/auth/user/999/change/",
        ] {
            let response = root.get(path).send().await;
            assert_eq!(
                response.status,
                StatusCode::NOT_FOUND,
                "{path}: {}",
                response.text()
            );
        }
        let response = root
            .post("/admin/polls/question/add/")
            .without_csrf_token()
            .form(&[("question_text", "No token"), ("pub_date", DATE)])
            .send()
            .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        assert_eq!(Question::objects().count(&db).await.unwrap(), 0);
        let css = server.get("/admin/static/admin.css").send().await;
        assert_eq!(css.content_type(), Some("text/css; charset=utf-8"));
        assert!(css.text().contains("prefers-color-scheme: dark"));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn related_labels_computed_columns_and_filters() {
    each_backend(async |db| {
        let server = start(&db).await;
        let rust = add_question(&db, "Rust?", 1).await;
        let mut go = add_question(&db, "Go?", 2).await;
        go.is_open = false;
        go.pub_date = Utc::now();
        go.save(&db).await.unwrap();
        for (question, text, votes) in [(&rust, "Yes", 12), (&rust, "No", 1), (&go, "Maybe", 3)] {
            let mut choice = Choice {
                id: Auto::new(),
                question: ForeignKey::to(question).unwrap(),
                choice_text: text.into(),
                votes,
            };
            choice.save(&db).await.unwrap();
        }
        let root = admin_login(&server, "root").await;
        let list = root.get("/admin/polls/choice/").send().await.text();
        // The question's label, not its key; the computed column.
        assert!(
            list.contains("<td>Rust?</td>") && list.contains("<td>Go?</td>"),
            "{list}"
        );
        assert!(
            list.contains("<td>yes</td>") && list.contains("Popular?"),
            "{list}"
        );
        // Search reaches the question's text through the foreign key; every
        // word must match some field.
        let found = root.get("/admin/polls/choice/?q=rust").send().await.text();
        assert!(
            found.contains("2 choices") && !found.contains("Maybe"),
            "{found}"
        );
        let both = root
            .get("/admin/polls/choice/?q=go%3F+maybe")
            .send()
            .await
            .text();
        assert!(
            both.contains("1 choice") && both.contains("Maybe"),
            "{both}"
        );
        // Filter by question: the sidebar lists them; a choice narrows the list.
        assert!(list.contains("By question"), "{list}");
        let rust_id = rust.id.get().unwrap();
        let only_rust = root
            .get(&format!("/admin/polls/choice/?question={rust_id}"))
            .send()
            .await
            .text();
        assert!(
            only_rust.contains("2 choices") && !only_rust.contains("Maybe"),
            "{only_rust}"
        );
        assert!(
            only_rust.contains(r#"aria-current="true">Rust?</a>"#),
            "{only_rust}"
        );
        // Bool and date filters on questions, kept by the sort links.
        let open = root
            .get("/admin/polls/question/?is_open=1")
            .send()
            .await
            .text();
        assert!(open.contains("Rust?") && !open.contains("Go?"), "{open}");
        assert!(
            open.contains("o=question_text&amp;is_open=1")
                || open.contains("is_open=1&amp;o=question_text"),
            "{open}"
        );
        let today = root
            .get("/admin/polls/question/?pub_date=today")
            .send()
            .await
            .text();
        assert!(today.contains("Go?") && !today.contains("Rust?"), "{today}");
        let both = root
            .get("/admin/polls/question/?pub_date=this_year&is_open=0")
            .send()
            .await
            .text();
        assert!(both.contains("Go?") && !both.contains("Rust?"), "{both}");
        // Values that are not the filter's: a clear 400, never SQL.
        for bad in [
            "/admin/polls/question/?is_open=maybe",
            "/admin/polls/question/?pub_date=forever",
            "/admin/polls/choice/?question=abc",
            "/admin/polls/choice/?question=1%3B%20DROP%20TABLE%20polls_choice",
        ] {
            let response = root.get(bad).send().await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(
                response.text().contains("is not one of the choices"),
                "{bad}"
            );
        }
        let none = root
            .get("/admin/polls/choice/?question=999999")
            .send()
            .await;
        assert_eq!(none.status, StatusCode::OK);
        assert!(none.text().contains("No choices found."));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn bulk_actions_confirm_deletions_and_run_custom_actions() {
    each_backend(async |db| {
        let server = start(&db).await;
        let mut keys = Vec::new();
        for day in 1..=3 {
            let question = add_question(&db, &format!("Poll {day}"), day).await;
            for text in ["Yes", "No"] {
                let mut choice = Choice {
                    id: Auto::new(),
                    question: ForeignKey::to(&question).unwrap(),
                    choice_text: text.into(),
                    votes: 0,
                };
                choice.save(&db).await.unwrap();
            }
            keys.push(question.id.get().unwrap().to_string());
        }
        let root = admin_login(&server, "root").await;
        let list = root.get("/admin/polls/question/").send().await.text();
        assert!(
            list.contains(r#"<option value="delete_selected">Delete selected questions</option>"#),
            "{list}"
        );
        assert!(
            list.contains(r#"<option value="close_polls">Close selected polls</option>"#),
            "{list}"
        );
        assert!(
            list.contains(&format!(r#"name="_selected_action" value="{}""#, keys[0])),
            "{list}"
        );

        // A custom action on two rows.
        let closed = root
            .post("/admin/polls/question/")
            .form(&[
                ("action", "close_polls"),
                ("_selected_action", &keys[0]),
                ("_selected_action", &keys[1]),
            ])
            .send()
            .await;
        assert_eq!(closed.status, StatusCode::SEE_OTHER);
        assert!(
            root.get("/admin/polls/question/")
                .send()
                .await
                .text()
                .contains("Closed 2 polls.")
        );
        assert_eq!(
            Question::objects()
                .filter(Question::IS_OPEN.eq(false))
                .count(&db)
                .await
                .unwrap(),
            2
        );

        // Nothing ticked: a notice, nothing done.
        let none = root
            .post("/admin/polls/question/")
            .form(&[("action", "delete_selected")])
            .send()
            .await;
        assert_eq!(none.status, StatusCode::SEE_OTHER);
        assert!(
            root.get("/admin/polls/question/")
                .send()
                .await
                .text()
                .contains("Items must be selected")
        );

        // Delete selected: first the list of what goes, cascades included.
        let confirm = root
            .post("/admin/polls/question/")
            .form(&[
                ("action", "delete_selected"),
                ("_selected_action", &keys[0]),
                ("_selected_action", &keys[2]),
            ])
            .send()
            .await;
        assert_eq!(confirm.status, StatusCode::OK);
        let page = confirm.text();
        assert!(
            page.contains("<li>Questions: 2</li>") && page.contains("<li>Choices: 4</li>"),
            "{page}"
        );
        assert!(
            page.contains("<li>Poll 1</li>") && page.contains("<li>Poll 3</li>"),
            "{page}"
        );
        assert_eq!(
            Question::objects().count(&db).await.unwrap(),
            3,
            "nothing deleted yet"
        );
        let deleted = root
            .post("/admin/polls/question/")
            .form(&[
                ("action", "delete_selected"),
                ("_selected_action", &keys[0]),
                ("_selected_action", &keys[2]),
                ("post", "yes"),
            ])
            .send()
            .await;
        assert_eq!(deleted.status, StatusCode::SEE_OTHER);
        assert!(
            root.get("/admin/polls/question/")
                .send()
                .await
                .text()
                .contains("Successfully deleted 2 questions.")
        );
        assert_eq!(Question::objects().count(&db).await.unwrap(), 1);
        assert_eq!(Choice::objects().count(&db).await.unwrap(), 2);
        // The single delete page lists what goes too.
        let single = root
            .get(&format!("/admin/polls/question/{}/delete/", keys[1]))
            .send()
            .await
            .text();
        assert!(single.contains("<li>Choices: 2</li>"), "{single}");

        // Unknown actions, and actions without their permission.
        let unknown = root
            .post("/admin/polls/question/")
            .form(&[("action", "drop_database"), ("_selected_action", &keys[1])])
            .send()
            .await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        let viewer = admin_login(&server, "viewer").await;
        let list = viewer.get("/admin/polls/question/").send().await.text();
        assert!(
            !list.contains("_selected_action"),
            "no actions for a viewer: {list}"
        );
        for action in ["delete_selected", "close_polls"] {
            let refused = viewer
                .post("/admin/polls/question/")
                .form(&[
                    ("action", action),
                    ("_selected_action", &keys[1]),
                    ("post", "yes"),
                ])
                .send()
                .await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{action}");
        }
        assert_eq!(Question::objects().count(&db).await.unwrap(), 1);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_change_log_records_who_changed_what() {
    use estate::admin::{ActionFlag, LogEntry};
    each_backend(async |db| {
        let server = start(&db).await;
        let root = admin_login(&server, "root").await;
        root.post("/admin/polls/question/add/")
            .form(&[
                ("question_text", "Logged?"),
                ("pub_date", DATE),
                ("is_open", "on"),
            ])
            .send()
            .await;
        let question = Question::objects()
            .get(&db, Question::QUESTION_TEXT.eq("Logged?"))
            .await
            .unwrap();
        let id = question.id.get().unwrap();
        root.post(&format!("/admin/polls/question/{id}/change/"))
            .form(&[
                ("question_text", "Logged!"),
                ("pub_date", DATE),
                ("is_open", "on"),
            ])
            .send()
            .await;
        let history = root
            .get(&format!("/admin/polls/question/{id}/history/"))
            .send()
            .await
            .text();
        assert!(history.contains("Change history: Logged!"), "{history}");
        assert!(history.contains("<td>root</td>"), "{history}");
        assert!(history.contains("Addition: Added."), "{history}");
        assert!(
            history.contains("Change: Changed question text."),
            "{history}"
        );
        let index = root.get("/admin/").send().await.text();
        assert!(
            index.contains("Recent actions") && index.contains("Logged!"),
            "{index}"
        );
        root.post(&format!("/admin/polls/question/{id}/delete/"))
            .send()
            .await;
        let entries = LogEntry::objects()
            .filter(LogEntry::OBJECT_ID.eq(id.to_string().as_str()))
            .all(&db)
            .await
            .unwrap();
        let flags: Vec<ActionFlag> = entries.iter().map(|e| e.action_flag).collect();
        assert_eq!(
            flags,
            [
                ActionFlag::Deletion,
                ActionFlag::Change,
                ActionFlag::Addition
            ]
        );
        assert!(
            entries
                .iter()
                .all(|e| e.app_label == "polls" && e.model == "question")
        );
        // A viewer may read the history; unknown rows are 404.
        let mut q = add_question(&db, "Seen", 4).await;
        q.save(&db).await.unwrap();
        let viewer = admin_login(&server, "viewer").await;
        let page = viewer
            .get(&format!(
                "/admin/polls/question/{}/history/",
                q.id.get().unwrap()
            ))
            .send()
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("doesn’t have a change history"));
        assert_eq!(
            viewer
                .get("/admin/polls/question/999/history/")
                .send()
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn users_and_groups_are_managed_out_of_the_box() {
    each_backend(async |db| {
        let server = start(&db).await;
        let root = admin_login(&server, "root").await;
        // Filtered by group (a many-to-many field).
        let editors = Group::objects()
            .get(&db, Group::NAME.eq("editors"))
            .await
            .unwrap();
        let in_group = root
            .get(&format!(
                "/admin/auth/user/?groups={}",
                editors.id.get().unwrap()
            ))
            .send()
            .await
            .text();
        assert!(
            in_group.contains(">editor<") && !in_group.contains(">viewer<"),
            "{in_group}"
        );
        assert!(in_group.contains("By groups"), "{in_group}");
        assert_eq!(
            root.get("/admin/auth/user/?groups=abc").send().await.status,
            StatusCode::BAD_REQUEST
        );
        let users = root.get("/admin/auth/user/?is_staff=1").send().await.text();
        assert!(
            users.contains(">viewer<") && users.contains(">root<") && !users.contains(">ann<"),
            "{users}"
        );

        // A new user: username and password twice, the validators applied.
        let form = root.get("/admin/auth/user/add/").send().await.text();
        assert!(
            form.contains(r#"name="password1""#) && form.contains("at least 8 characters"),
            "{form}"
        );
        let mismatch = root
            .post("/admin/auth/user/add/")
            .form(&[
                ("username", "dora"),
                ("password1", "plum-crumble-42"),
                ("password2", "plum-crumble-43"),
            ])
            .send()
            .await;
        assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(mismatch.text().contains("didn’t match"));
        let weak = root
            .post("/admin/auth/user/add/")
            .form(&[
                ("username", "dora"),
                ("password1", "dora123"),
                ("password2", "dora123"),
            ])
            .send()
            .await;
        assert!(
            weak.text().contains("too similar to the username")
                && weak.text().contains("too short"),
            "{}",
            weak.text()
        );
        let added = root
            .post("/admin/auth/user/add/")
            .form(&[
                ("username", "dora"),
                ("password1", "plum-crumble-42"),
                ("password2", "plum-crumble-42"),
            ])
            .send()
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
        let dora = User::objects()
            .get(&db, User::USERNAME.eq("dora"))
            .await
            .unwrap();
        let change_url = format!("/admin/auth/user/{}/change/", dora.id.get().unwrap());
        assert_eq!(added.header("location"), Some(change_url.as_str()));
        let taken = root
            .post("/admin/auth/user/add/")
            .form(&[
                ("username", "dora"),
                ("password1", "plum-crumble-42"),
                ("password2", "plum-crumble-42"),
            ])
            .send()
            .await;
        assert!(
            taken
                .text()
                .contains("A user with that username already exists.")
        );

        // The change page never shows the hash; the password has its own page.
        let page = root.get(&change_url).send().await.text();
        assert!(
            !page.contains(&dora.password) && !page.contains(r#"name="password""#),
            "{page}"
        );
        assert!(page.contains("Change password</a>"), "{page}");
        let password_url = format!("/admin/auth/user/{}/password/", dora.id.get().unwrap());
        let weak = root
            .post(&password_url)
            .form(&[("new_password1", "12345678"), ("new_password2", "12345678")])
            .send()
            .await;
        assert!(weak.text().contains("This password is entirely numeric."));
        let set = root
            .post(&password_url)
            .form(&[
                ("new_password1", "toffee-apple-77"),
                ("new_password2", "toffee-apple-77"),
            ])
            .send()
            .await;
        assert_eq!(set.status, StatusCode::SEE_OTHER);
        let login = server
            .post("/accounts/login/")
            .form(&[("username", "dora"), ("password", "toffee-apple-77")])
            .send()
            .await;
        assert_eq!(login.status, StatusCode::SEE_OTHER);
        // Other models have no password page.
        assert_eq!(
            root.get("/admin/polls/question/1/password/")
                .send()
                .await
                .status,
            StatusCode::NOT_FOUND
        );

        // A group picks its permissions from a list.
        let perms: Vec<String> = Permission::objects()
            .filter(Permission::APP_LABEL.eq("polls"))
            .values(Permission::ID)
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|id| id.get())
            .map(|id| id.to_string())
            .collect();
        let form = root.get("/admin/auth/group/add/").send().await.text();
        assert!(
            form.contains(r#"<select name="permissions""#) && form.contains("Can change question"),
            "{form}"
        );
        let mut fields = vec![("name", "pollsters".to_owned())];
        fields.extend(perms.iter().take(3).map(|id| ("permissions", id.clone())));
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let group = root
            .post("/admin/auth/group/add/")
            .form(&fields)
            .send()
            .await;
        assert_eq!(group.status, StatusCode::SEE_OTHER, "{}", group.text());
        let pollsters = Group::objects()
            .get(&db, Group::NAME.eq("pollsters"))
            .await
            .unwrap();
        assert_eq!(
            Group::PERMISSIONS.of(&pollsters).count(&db).await.unwrap(),
            3
        );
        // Changing only the links is logged by name.
        let group_url = format!("/admin/auth/group/{}/change/", pollsters.id.get().unwrap());
        let fewer = root
            .post(&group_url)
            .form(&[("name", "pollsters"), ("permissions", perms[0].as_str())])
            .send()
            .await;
        assert_eq!(fewer.status, StatusCode::SEE_OTHER, "{}", fewer.text());
        assert_eq!(
            Group::PERMISSIONS.of(&pollsters).count(&db).await.unwrap(),
            1
        );
        let logged = estate::admin::LogEntry::objects()
            .filter(estate::admin::LogEntry::MODEL.eq("group"))
            .first(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(logged.change_message, "Changed permissions.");
        // Staff without user permissions cannot see or change users.
        let viewer = admin_login(&server, "viewer").await;
        assert_eq!(
            viewer.get("/admin/auth/user/").send().await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            viewer
                .post(&password_url)
                .form(&[("new_password1", "x"), ("new_password2", "x")])
                .send()
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn choices_are_edited_inline_on_their_question() {
    each_backend(async |db| {
        let server = start(&db).await;
        let root = admin_login(&server, "root").await;
        let form = root.get("/admin/polls/question/add/").send().await.text();
        assert!(
            form.contains(r#"name="choice-TOTAL_FORMS" value="2""#),
            "{form}"
        );
        assert!(form.contains(r#"name="choice-0-choice_text""#), "{form}");

        // One bad row: nothing at all is saved, the error is shown.
        let bad = root
            .post("/admin/polls/question/add/")
            .form(&[
                ("question_text", "Inline?"),
                ("pub_date", DATE),
                ("is_open", "on"),
                ("choice-TOTAL_FORMS", "2"),
                ("choice-INITIAL_FORMS", "0"),
                ("choice-0-choice_text", "Yes"),
                ("choice-0-votes", "0"),
                ("choice-1-choice_text", "No"),
                ("choice-1-votes", "many"),
            ])
            .send()
            .await;
        assert_eq!(
            bad.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            bad.text()
        );
        assert!(
            bad.text().contains("Enter a whole number."),
            "{}",
            bad.text()
        );
        assert_eq!(Question::objects().count(&db).await.unwrap(), 0);
        assert_eq!(Choice::objects().count(&db).await.unwrap(), 0);

        let added = root
            .post("/admin/polls/question/add/")
            .form(&[
                ("question_text", "Inline?"),
                ("pub_date", DATE),
                ("is_open", "on"),
                ("choice-TOTAL_FORMS", "2"),
                ("choice-INITIAL_FORMS", "0"),
                ("choice-0-choice_text", "Yes"),
                ("choice-0-votes", "0"),
                ("choice-1-choice_text", "No"),
                ("choice-1-votes", "2"),
            ])
            .send()
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
        let question = Question::objects()
            .get(&db, Question::QUESTION_TEXT.eq("Inline?"))
            .await
            .unwrap();
        let id = question.id.get().unwrap();
        let choices = Choice::objects()
            .filter(Choice::QUESTION.eq(&question))
            .order_by([Choice::ID.asc()])
            .all(&db)
            .await
            .unwrap();
        assert_eq!(
            choices
                .iter()
                .map(|c| c.choice_text.as_str())
                .collect::<Vec<_>>(),
            ["Yes", "No"]
        );

        // Change: edit one, delete one, add one; a row of another question
        // named by a forged id is left alone.
        let other = add_question(&db, "Other", 5).await;
        let mut foreign = Choice {
            id: Auto::new(),
            question: ForeignKey::to(&other).unwrap(),
            choice_text: "Not yours".into(),
            votes: 7,
        };
        foreign.save(&db).await.unwrap();
        let page = root
            .get(&format!("/admin/polls/question/{id}/change/"))
            .send()
            .await
            .text();
        assert!(
            page.contains(r#"name="choice-INITIAL_FORMS" value="2""#)
                && page.contains(r#"value="Yes""#),
            "{page}"
        );
        let (yes, no) = (
            choices[0].id.get().unwrap().to_string(),
            choices[1].id.get().unwrap().to_string(),
        );
        let forged = foreign.id.get().unwrap().to_string();
        let changed = root
            .post(&format!("/admin/polls/question/{id}/change/"))
            .form(&[
                ("question_text", "Inline!"),
                ("pub_date", DATE),
                ("is_open", "on"),
                ("choice-TOTAL_FORMS", "4"),
                ("choice-INITIAL_FORMS", "3"),
                ("choice-0-id", &yes),
                ("choice-0-choice_text", "Yes!"),
                ("choice-0-votes", "1"),
                ("choice-1-id", &no),
                ("choice-1-choice_text", "No"),
                ("choice-1-votes", "2"),
                ("choice-1-DELETE", "on"),
                ("choice-2-id", &forged),
                ("choice-2-choice_text", "Hijacked"),
                ("choice-2-votes", "0"),
                ("choice-3-choice_text", "Maybe"),
                ("choice-3-votes", "0"),
            ])
            .send()
            .await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.text());
        let choices = Choice::objects()
            .filter(Choice::QUESTION.eq(&question))
            .order_by([Choice::ID.asc()])
            .all(&db)
            .await
            .unwrap();
        assert_eq!(
            choices
                .iter()
                .map(|c| c.choice_text.as_str())
                .collect::<Vec<_>>(),
            ["Yes!", "Maybe"]
        );
        foreign.refresh(&db).await.unwrap();
        assert_eq!(
            (foreign.choice_text.as_str(), foreign.votes),
            ("Not yours", 7)
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn display_options_readonly_fields_save_as_new_and_view_on_site() {
    each_backend(async |db| {
        let server = start(&db).await;
        let question = add_question(&db, "Options?", 1).await;
        let mut keys = Vec::new();
        for i in 0..12 {
            let mut choice = Choice {
                id: Auto::new(),
                question: ForeignKey::to(&question).unwrap(),
                choice_text: format!("Choice {i:02}"),
                votes: 5,
            };
            choice.save(&db).await.unwrap();
            keys.push(choice.id.get().unwrap());
        }
        let root = admin_login(&server, "root").await;
        let list = root.get("/admin/polls/choice/").send().await.text();
        // Two linked columns, the others plain.
        let first = keys[11];
        assert!(
            list.contains(&format!(
                r#"<a href="/admin/polls/choice/{first}/change/">5</a>"#
            )),
            "{list}"
        );
        assert!(list.contains("<td>Options?</td>"), "{list}");
        // More rows than a page (100) would show? No: 12 rows, all on one
        // page, so no "Show all" link; with ?all they are listed anyway.
        assert!(!list.contains("Show all"));
        assert_eq!(
            root.get("/admin/polls/choice/?all").send().await.status,
            StatusCode::OK
        );

        // Read-only: shown, and what is submitted for it is ignored.
        let url = format!("/admin/polls/choice/{first}/change/");
        let page = root.get(&url).send().await.text();
        assert!(
            page.contains(r#"name="votes""#) && page.contains("disabled"),
            "{page}"
        );
        assert!(
            page.contains(&format!(
                r#"<a href="/polls/choice/{first}/">View on site</a>"#
            )),
            "{page}"
        );
        assert!(page.contains(r#"name="_saveasnew""#), "{page}");
        let question_id = question.id.get().unwrap().to_string();
        let changed = root
            .post(&url)
            .form(&[
                ("question", question_id.as_str()),
                ("choice_text", "Renamed"),
                ("votes", "999"),
            ])
            .send()
            .await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.text());
        let choice = Choice::objects()
            .get(&db, Choice::ID.eq(first))
            .await
            .unwrap();
        assert_eq!((choice.choice_text.as_str(), choice.votes), ("Renamed", 5));

        // Save as new: a new row, the original unchanged.
        let copied = root
            .post(&url)
            .form(&[
                ("question", question_id.as_str()),
                ("choice_text", "Copy"),
                ("_saveasnew", ""),
            ])
            .send()
            .await;
        assert_eq!(copied.status, StatusCode::SEE_OTHER, "{}", copied.text());
        assert_eq!(Choice::objects().count(&db).await.unwrap(), 13);
        let copy = Choice::objects()
            .get(&db, Choice::CHOICE_TEXT.eq("Copy"))
            .await
            .unwrap();
        assert_ne!(copy.id, choice.id);
        assert_eq!(
            copied.header("location"),
            Some(format!("/admin/polls/choice/{}/change/", copy.id.get().unwrap()).as_str())
        );
        server.shutdown().await;
    })
    .await;
}

/// The review's findings: inline rows need the child model's own
/// permissions, the row count is bounded, inline changes are logged, ids
/// are logged as the row has them, and changing one's own password keeps
/// the session.
#[tokio::test]
async fn inlines_follow_the_child_models_permissions_and_are_logged() {
    use estate::admin::LogEntry;
    each_backend(async |db| {
        let server = start(&db).await;
        let question = add_question(&db, "Guarded", 1).await;
        let id = question.id.get().unwrap();
        let mut kept = Choice {
            id: Auto::new(),
            question: ForeignKey::to(&question).unwrap(),
            choice_text: "keep me".into(),
            votes: 1,
        };
        kept.save(&db).await.unwrap();
        let kept_id = kept.id.get().unwrap().to_string();
        let url = format!("/admin/polls/question/{id}/change/");
        // editor: question permissions only, none on choices.
        let editor = admin_login(&server, "editor").await;
        let page = editor.get(&url).send().await.text();
        assert!(
            !page.contains("choice-TOTAL_FORMS") && !page.contains("keep me"),
            "{page}"
        );
        let response = editor
            .post(&url)
            .form(&[
                ("question_text", "Guarded"),
                ("pub_date", DATE),
                ("is_open", "on"),
                ("choice-TOTAL_FORMS", "2"),
                ("choice-INITIAL_FORMS", "1"),
                ("choice-0-id", &kept_id),
                ("choice-0-choice_text", "changed"),
                ("choice-0-votes", "1"),
                ("choice-0-DELETE", "on"),
                ("choice-1-choice_text", "injected"),
                ("choice-1-votes", "999"),
            ])
            .send()
            .await;
        assert_eq!(
            response.status,
            StatusCode::SEE_OTHER,
            "{}",
            response.text()
        );
        let texts: Vec<String> = Choice::objects()
            .values(Choice::CHOICE_TEXT)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(texts, ["keep me"]);

        // root may: the changes are logged on the question.
        let root = admin_login(&server, "root").await;
        let too_many = root
            .post(&url)
            .form(&[
                ("question_text", "Guarded"),
                ("pub_date", DATE),
                ("choice-TOTAL_FORMS", "1000"),
                ("choice-INITIAL_FORMS", "0"),
            ])
            .send()
            .await;
        assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
        root.post(&url)
            .form(&[
                ("question_text", "Guarded"),
                ("pub_date", DATE),
                ("is_open", "on"),
                ("choice-TOTAL_FORMS", "2"),
                ("choice-INITIAL_FORMS", "1"),
                ("choice-0-id", &kept_id),
                ("choice-0-choice_text", "keep me"),
                ("choice-0-votes", "1"),
                ("choice-0-DELETE", "on"),
                ("choice-1-choice_text", "Fresh"),
                ("choice-1-votes", "0"),
            ])
            .send()
            .await;
        let entry = LogEntry::objects()
            .filter(LogEntry::OBJECT_ID.eq(id.to_string().as_str()))
            .first(&db)
            .await
            .unwrap()
            .unwrap();
        assert!(
            entry.change_message.contains("Deleted choice “keep me”."),
            "{}",
            entry.change_message
        );
        assert!(
            entry.change_message.contains("Added choice “Fresh”."),
            "{}",
            entry.change_message
        );

        // A key written another way is logged as the row has it; one's own
        // password change keeps the session.
        let root_user = User::objects()
            .get(&db, User::USERNAME.eq("root"))
            .await
            .unwrap();
        let root_id = root_user.id.get().unwrap();
        let changed = root
            .post(&format!("/admin/auth/user/00{root_id}/password/"))
            .form(&[
                ("new_password1", "toffee-apple-77"),
                ("new_password2", "toffee-apple-77"),
            ])
            .send()
            .await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER);
        assert_eq!(
            root.get("/admin/").send().await.status,
            StatusCode::OK,
            "still logged in"
        );
        let logged = LogEntry::objects()
            .filter(LogEntry::CHANGE_MESSAGE.eq("Changed password."))
            .first(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(logged.object_id, root_id.to_string());
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_date_hierarchy_narrows_by_year_month_and_day() {
    each_backend(async |db| {
        let server = start(&db).await;
        add_question(&db, "Early", 3).await;
        add_question(&db, "Late", 20).await;
        let mut old = add_question(&db, "Old", 5).await;
        old.pub_date = "2025-02-01T09:00:00Z".parse().unwrap();
        old.save(&db).await.unwrap();
        let root = admin_login(&server, "root").await;
        let all = root.get("/admin/polls/question/").send().await.text();
        assert!(
            all.contains(">2025</a>") && all.contains(">2026</a>"),
            "{all}"
        );
        let year = root
            .get("/admin/polls/question/?pub_date__year=2026")
            .send()
            .await
            .text();
        assert!(
            year.contains("Early") && year.contains("Late") && !year.contains(">Old<"),
            "{year}"
        );
        assert!(year.contains(">November 2026</a>"), "{year}");
        let month = root
            .get("/admin/polls/question/?pub_date__year=2026&pub_date__month=11")
            .send()
            .await
            .text();
        assert!(
            month.contains(">November 20</a>") && month.contains("2 questions"),
            "{month}"
        );
        let day = root
            .get("/admin/polls/question/?pub_date__year=2026&pub_date__month=11&pub_date__day=20")
            .send()
            .await
            .text();
        assert!(
            day.contains("Late") && !day.contains("Early") && day.contains("1 question"),
            "{day}"
        );
        for bad in [
            "?pub_date__year=abc",
            "?pub_date__year=2026&pub_date__month=13",
            "?pub_date__year=2026&pub_date__month=2&pub_date__day=30",
        ] {
            let response = root
                .get(&format!("/admin/polls/question/{bad}"))
                .send()
                .await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        server.shutdown().await;
    })
    .await;
}
