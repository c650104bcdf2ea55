//! The admin's script-driven options through real HTTP, on every backend:
//! `autocomplete_fields` (the JSON endpoint, its permissions and hostile
//! parameters, forms that load only the chosen rows and save what the box
//! picked), `filter_horizontal` and `prepopulated_fields` (the attributes
//! the script picks up), and the registration mistakes each one catches.
//! The script itself runs in Chromium in `examples/project/tests/browser.rs`.

mod common;

use estate::admin::ModelAdmin;
use estate::auth::{Auth, Permission, User, create_superuser, create_user};
use estate::cli::CommandOutput;
use estate::db::Database;
use estate::orm::{ForeignKey, ManyToMany, Model, create_table};
use estate::prelude::*;
use estate::test::{TestClient, TestServer, each_backend};

use common::debug_app_with;

#[derive(Model, Debug, Clone)]
#[model(table = "library_author")]
struct Author {
    id: Auto<i64>,
    #[model(max_length = 100)]
    name: String,
}

#[derive(Model, Debug, Clone)]
#[model(table = "library_tag")]
struct Tag {
    id: Auto<i64>,
    #[model(max_length = 30)]
    name: String,
}

#[derive(Model, Debug, Clone)]
#[model(table = "library_category", verbose_name_plural = "categories")]
struct Category {
    id: Auto<i64>,
    #[model(max_length = 30)]
    name: String,
}

#[derive(Model, Debug, Clone)]
#[model(table = "library_article")]
struct Article {
    id: Auto<i64>,
    #[model(max_length = 60)]
    title: String,
    #[model(max_length = 20)]
    slug: String,
    #[model(on_delete = Cascade)]
    author: ForeignKey<Author>,
    tags: ManyToMany<Tag>,
    categories: ManyToMany<Category>,
}

const PASSWORD: &str = "correct horse battery";

fn article_admin() -> ModelAdmin<Article> {
    ModelAdmin::<Article>::new()
        .list_display(&["title", "author"])
        .autocomplete_fields(&["author", "tags"])
        .filter_horizontal(&["categories"])
        .prepopulated_fields("slug", &["title"])
}

fn site_with(
    db: &Database,
    settings: impl FnOnce(estate::settings::SettingsLoader) -> estate::settings::SettingsLoader,
) -> App {
    site_with_admin(db, settings, article_admin())
}

fn site_with_admin(
    db: &Database,
    settings: impl FnOnce(estate::settings::SettingsLoader) -> estate::settings::SettingsLoader,
    articles: ModelAdmin<Article>,
) -> App {
    debug_app_with(settings)
        .database(db.clone())
        .app(estate::sessions::app())
        .app(estate::auth::app())
        .app(estate::messages::app())
        .app(
            AppModule::new("library")
                .model::<Author>()
                .model::<Tag>()
                .model::<Category>()
                .model::<Article>(),
        )
        .app(
            estate::admin::site()
                .register(
                    ModelAdmin::<Author>::new()
                        .search_fields(&["name"])
                        .ordering("name"),
                )
                .register(ModelAdmin::<Tag>::new().search_fields(&["name"]))
                .register(ModelAdmin::<Category>::new())
                .register(articles)
                .app(),
        )
}

/// Tables, a superuser `root`, staff `reader` allowed to view articles
/// only, and a server.
async fn start(db: &Database) -> TestServer {
    start_with(db, article_admin, 1000).await
}

/// `start` with another article admin and `limits.max_fields`.
async fn start_with(
    db: &Database,
    articles: fn() -> ModelAdmin<Article>,
    max_fields: i64,
) -> TestServer {
    let settings =
        move |s: estate::settings::SettingsLoader| s.set("limits.max_fields", max_fields);
    site_with_admin(db, settings, articles())
        .run_with_args(["site", "migrate"], CommandOutput::capture())
        .await
        .unwrap();
    for meta in [Author::META, Tag::META, Category::META, Article::META] {
        create_table(db, meta).await.unwrap();
    }
    let server = TestServer::start(site_with_admin(db, settings, articles())).await;
    let auth = server.context().get::<Auth>().unwrap().clone();
    create_superuser(&auth, db, "root", "", Some(PASSWORD))
        .await
        .unwrap();
    let mut reader = create_user(&auth, db, "reader", "", Some(PASSWORD))
        .await
        .unwrap();
    reader.is_staff = true;
    reader.save(db).await.unwrap();
    grant(db, &reader, "view_article").await;
    server
}

async fn grant(db: &Database, user: &User, codename: &str) {
    let permission = Permission::objects()
        .get(db, Permission::CODENAME.eq(codename))
        .await
        .unwrap();
    User::USER_PERMISSIONS
        .add(db, user, [&permission])
        .await
        .unwrap();
}

async fn admin_login(server: &TestServer, username: &str) -> TestClient {
    let browser = server.client();
    let response = browser
        .post("/admin/login/")
        .form(&[("username", username), ("password", PASSWORD)])
        .send()
        .await;
    assert_eq!(
        response.status,
        StatusCode::SEE_OTHER,
        "{}",
        response.text()
    );
    browser
}

async fn author(db: &Database, name: &str) -> i64 {
    let mut author = Author {
        id: Auto::new(),
        name: name.into(),
    };
    author.save(db).await.unwrap();
    author.id.get().unwrap()
}

async fn tag(db: &Database, name: &str) -> i64 {
    let mut tag = Tag {
        id: Auto::new(),
        name: name.into(),
    };
    tag.save(db).await.unwrap();
    tag.id.get().unwrap()
}

async fn category(db: &Database, name: &str) -> i64 {
    let mut category = Category {
        id: Auto::new(),
        name: name.into(),
    };
    category.save(db).await.unwrap();
    category.id.get().unwrap()
}

const AUTHORS: &str = "/admin/autocomplete/?app_label=library&model_name=article&field_name=author";

fn texts(body: &serde_json::Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn autocomplete_searches_the_related_admin_a_page_at_a_time() {
    each_backend(async |db| {
        let server = start(&db).await;
        let mut keys = Vec::new();
        for n in 0..45 {
            keys.push(author(&db, &format!("Author {n:02}")).await);
        }
        let zed = author(&db, "Zed O'Brien").await;
        let root = admin_login(&server, "root").await;

        // Every word in a search field, case-insensitive, in the admin's
        // order; keys as text, labels as everywhere in the admin.
        let found = root.get(&format!("{AUTHORS}&term=AUTHOR%201")).send().await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.text());
        assert!(found.header("cache-control").unwrap().contains("no-store"));
        let body = found.json();
        let expected: Vec<String> = [1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 41]
            .iter()
            .map(|n| format!("Author {n:02}"))
            .collect();
        assert_eq!(texts(&body), expected);
        assert_eq!(body["results"][1]["id"], keys[10].to_string());
        assert_eq!(body["pagination"]["more"], false);
        let quote = root.get(&format!("{AUTHORS}&term=o%27brien")).send().await;
        assert_eq!(texts(&quote.json()), ["Zed O'Brien"]);
        assert_eq!(quote.json()["results"][0]["id"], zed.to_string());

        // 46 rows: pages of 20, 20 and 6.
        let first = root.get(AUTHORS).send().await.json();
        assert_eq!(texts(&first).len(), 20);
        assert_eq!(texts(&first)[0], "Author 00");
        assert_eq!(first["pagination"]["more"], true);
        let last = root.get(&format!("{AUTHORS}&page=3")).send().await.json();
        assert_eq!(texts(&last).len(), 6);
        assert_eq!(texts(&last)[5], "Zed O'Brien");
        assert_eq!(last["pagination"]["more"], false);

        // Hostile terms are only text; bad pages are 404, never 500.
        for term in ["%27%20OR%201%3D1%20--", "%25", "_", "%00x"] {
            let response = root.get(&format!("{AUTHORS}&term={term}")).send().await;
            assert_eq!(
                response.status,
                StatusCode::OK,
                "{term}: {}",
                response.text()
            );
            assert!(texts(&response.json()).is_empty(), "{term}");
        }
        let long = "a".repeat(10_000);
        let response = root.get(&format!("{AUTHORS}&term={long}")).send().await;
        assert_eq!(response.status, StatusCode::OK);
        for page in ["0", "abc", "-1", "99999999999999999999", "2000000"] {
            let response = root.get(&format!("{AUTHORS}&page={page}")).send().await;
            assert_eq!(response.status, StatusCode::NOT_FOUND, "page {page}");
        }
        let beyond = root.get(&format!("{AUTHORS}&page=50")).send().await;
        assert_eq!(beyond.status, StatusCode::OK);
        assert!(texts(&beyond.json()).is_empty());

        // Only fields declared in autocomplete_fields, of registered models.
        for query in [
            "app_label=library&model_name=article&field_name=title",
            "app_label=library&model_name=article&field_name=categories",
            "app_label=library&model_name=article",
            "app_label=library&model_name=nope&field_name=author",
            "app_label=auth&model_name=article&field_name=author",
            "",
        ] {
            let response = root
                .get(&format!("/admin/autocomplete/?{query}"))
                .send()
                .await;
            assert_eq!(response.status, StatusCode::FORBIDDEN, "{query}");
            assert!(response.text().contains("Autocomplete refused"), "{query}");
        }
    })
    .await;
}

#[tokio::test]
async fn autocomplete_needs_staff_and_the_view_permission_on_the_searched_model() {
    each_backend(async |db| {
        let server = start(&db).await;
        author(&db, "Ann").await;
        let anonymous = server.get(AUTHORS).send().await;
        assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
        assert!(
            anonymous
                .header("location")
                .unwrap()
                .starts_with("/admin/login/?next=%2Fadmin%2Fautocomplete%2F")
        );
        // May view articles, not authors: the authors are not listed.
        let reader = admin_login(&server, "reader").await;
        let refused = reader.get(AUTHORS).send().await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let user = User::objects()
            .get(&db, User::USERNAME.eq("reader"))
            .await
            .unwrap();
        grant(&db, &user, "view_author").await;
        let allowed = reader.get(AUTHORS).send().await;
        assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.text());
        assert_eq!(texts(&allowed.json()), ["Ann"]);
    })
    .await;
}

#[tokio::test]
async fn autocomplete_fields_load_only_the_chosen_rows_and_save_the_picked_ones() {
    each_backend(async |db| {
        let server = start(&db).await;
        let ann = author(&db, "Ann").await;
        let bob = author(&db, "Bob").await;
        let rust = tag(&db, "rust").await;
        let sql = tag(&db, "sql").await;
        let web = tag(&db, "web").await;
        let news = category(&db, "News").await;
        category(&db, "Sport").await;
        let root = admin_login(&server, "root").await;

        // The add page: empty autocompletes, the selector, the slug hook,
        // and the script.
        let page = root.get("/admin/library/article/add/").send().await;
        let html = page.text();
        assert_eq!(page.status, StatusCode::OK, "{html}");
        // No policy here, so no nonce attribute.
        assert!(
            html.contains("<script src=\"/admin/static/admin.js\" defer></script>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<select name=\"author\" id=\"id_author\" required \
                 data-autocomplete=\"/admin/autocomplete/?app_label=library&amp;\
                 model_name=article&amp;field_name=author\"><option value=\"\">---------</option></select>"
            ),
            "{html}"
        );
        assert!(!html.contains(">Ann<"), "rows are not listed: {html}");
        assert!(html.contains("<input type=\"hidden\" name=\"tags\" value=\"\"><select name=\"tags\" id=\"id_tags\""));
        assert!(html.contains("data-selector=\"categories\" multiple>"), "{html}");
        assert!(html.contains(">Sport</option>"), "the selector lists every row");
        assert!(html.contains("data-prepopulate=\"title\""), "{html}");
        let script = server.get("/admin/static/admin.js").send().await;
        assert_eq!(script.status, StatusCode::OK);
        assert!(script.header("content-type").unwrap().starts_with("text/javascript"));
        assert!(script.text().contains("data-autocomplete"));

        // What the box picked is saved: the foreign key and the links.
        let (ann_text, rust_text, sql_text, news_text) = (
            ann.to_string(),
            rust.to_string(),
            sql.to_string(),
            news.to_string(),
        );
        let saved = root
            .post("/admin/library/article/add/")
            .form(&[
                ("title", "Hello"),
                ("slug", "hello"),
                ("author", &ann_text),
                ("tags", ""),
                ("tags", &rust_text),
                ("tags", &sql_text),
                ("categories", &news_text),
                ("_continue", "1"),
            ])
            .send()
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
        let article = Article::objects()
            .get(&db, Article::TITLE.eq("Hello"))
            .await
            .unwrap();
        assert_eq!(article.author.id(), &ann);
        let tags: Vec<String> = Article::TAGS
            .of(&article)
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(tags.len(), 2);
        assert!(tags.contains(&"rust".to_owned()) && tags.contains(&"sql".to_owned()));

        // The change page shows the chosen rows only, labelled; the slug is
        // not rewritten there.
        let change = format!("/admin/library/article/{}/change/", article.id);
        let html = root.get(&change).send().await.text();
        assert!(
            html.contains(&format!("<option value=\"{ann}\" selected>Ann</option></select>")),
            "{html}"
        );
        assert!(!html.contains(">Bob<"), "{html}");
        assert!(html.contains(&format!("<option value=\"{rust}\" selected>rust</option>")));
        assert!(!html.contains(">web<"), "{html}");
        assert!(!html.contains("data-prepopulate"), "{html}");

        // A key of no row is refused like any invalid choice, and nothing
        // changes; a key that is not a number too.
        for bad in ["999999", "abc"] {
            let refused = root
                .post(&change)
                .form(&[
                    ("title", "Hello"),
                    ("slug", "hello"),
                    ("author", bad),
                    ("tags", ""),
                    ("tags", &web.to_string()),
                ])
                .send()
                .await;
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
            let html = refused.text();
            assert!(html.contains("Select a valid choice."), "{html}");
            // The re-rendered form keeps the rows picked, labelled.
            assert!(html.contains(&format!("<option value=\"{web}\" selected>web</option>")), "{html}");
        }
        let missing_tag = root
            .post(&change)
            .form(&[
                ("title", "Hello"),
                ("slug", "hello"),
                ("author", &ann_text),
                ("tags", "424242"),
            ])
            .send()
            .await;
        assert_eq!(missing_tag.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(missing_tag.text().contains("Select a valid choice. 424242 is not one of the available choices."));
        let unchanged = Article::objects()
            .get(&db, Article::ID.eq(article.id.get().unwrap()))
            .await
            .unwrap();
        assert_eq!(unchanged.author.id(), &ann);
        assert_eq!(Article::TAGS.of(&article).count(&db).await.unwrap(), 2);

        // Another author; every tag removed (only the empty marker is sent).
        let changed = root
            .post(&change)
            .form(&[
                ("title", "Hello"),
                ("slug", "hello"),
                ("author", &bob.to_string()),
                ("tags", ""),
            ])
            .send()
            .await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.text());
        let changed = Article::objects()
            .get(&db, Article::ID.eq(article.id.get().unwrap()))
            .await
            .unwrap();
        assert_eq!(changed.author.id(), &bob);
        assert_eq!(Article::TAGS.of(&article).count(&db).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn the_script_carries_the_nonce_of_a_strict_policy() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    let policy = "default-src 'self'; script-src 'nonce-{nonce}'";
    let app = site_with(&db, |s| s.set("security.csp", policy));
    app.run_with_args(["site", "migrate"], CommandOutput::capture())
        .await
        .unwrap();
    let server = TestServer::start(site_with(&db, |s| s.set("security.csp", policy))).await;
    let page = server.get("/admin/login/").send().await;
    let header = page.header("content-security-policy").unwrap();
    let nonce = header
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    let html = page.text();
    assert!(
        html.contains(&format!(
            "<script src=\"/admin/static/admin.js\" defer nonce=\"{nonce}\"></script>"
        )),
        "{html}"
    );
}

#[test]
#[should_panic(
    expected = "ModelAdmin<Article>::autocomplete_fields names `author`, which points at Author: \
                register Author with the admin (with search_fields)"
)]
fn autocomplete_to_an_unregistered_model_is_refused() {
    let _ = estate::admin::site().register(article_admin()).app();
}

#[test]
#[should_panic(
    expected = "ModelAdmin<Article>::autocomplete_fields names `author`, but ModelAdmin<Author> has \
                no search_fields: add .search_fields(&[...])"
)]
fn autocomplete_to_a_model_without_search_fields_is_refused() {
    let _ = estate::admin::site()
        .register(ModelAdmin::<Author>::new())
        .register(ModelAdmin::<Tag>::new().search_fields(&["name"]))
        .register(article_admin())
        .app();
}

#[test]
#[should_panic(
    expected = "ModelAdmin<Article>::autocomplete_fields names `title`, which is not a foreign key \
                or many-to-many field of Article"
)]
fn autocomplete_on_a_plain_field_is_refused() {
    let _ = estate::admin::site()
        .register(ModelAdmin::<Article>::new().autocomplete_fields(&["title"]));
}

#[test]
#[should_panic(
    expected = "ModelAdmin<Article>::filter_horizontal names `author`, which is not a many-to-many \
                field of Article"
)]
fn filter_horizontal_on_a_foreign_key_is_refused() {
    let _ =
        estate::admin::site().register(ModelAdmin::<Article>::new().filter_horizontal(&["author"]));
}

#[test]
#[should_panic(
    expected = "ModelAdmin<Article>::prepopulated_fields(`slug`) fills it from `headline`, which is \
                not another field of Article"
)]
fn prepopulating_from_an_unknown_field_is_refused() {
    let _ = estate::admin::site()
        .register(ModelAdmin::<Article>::new().prepopulated_fields("slug", &["headline"]));
}

#[test]
#[should_panic(
    expected = "ModelAdmin<Article>::prepopulated_fields names `author`, which is not a text field"
)]
fn prepopulating_a_foreign_key_is_refused() {
    let _ = estate::admin::site()
        .register(ModelAdmin::<Article>::new().prepopulated_fields("author", &["title"]));
}

#[test]
#[should_panic(
    expected = "ModelAdmin<Article>::search_fields names `author__nmae`: Author has no field \
                `nmae`; its fields are: id, name"
)]
fn a_search_path_with_a_typo_names_the_step() {
    let _ = estate::admin::site()
        .register(ModelAdmin::<Article>::new().search_fields(&["title", "author__nmae"]));
}

#[tokio::test]
async fn read_only_links_stay_and_a_thousand_chosen_rows_save() {
    fn read_only_tags() -> ModelAdmin<Article> {
        article_admin().readonly_fields(&["tags"])
    }
    each_backend(async |db| {
        let server = start_with(&db, read_only_tags, 1000).await;
        let ann = author(&db, "Ann").await;
        let mut keys = Vec::new();
        for n in 0..1100 {
            keys.push(tag(&db, &format!("tag {n}")).await);
        }
        let mut article = Article {
            id: Auto::new(),
            title: "Many".into(),
            slug: "many".into(),
            author: ForeignKey::new(ann),
            tags: ManyToMany::default(),
            categories: ManyToMany::default(),
        };
        article.save(&db).await.unwrap();
        Article::TAGS
            .add(&db, &article, keys.clone())
            .await
            .unwrap();
        let root = admin_login(&server, "root").await;
        let change = format!("/admin/library/article/{}/change/", article.id);

        // Read-only: shown (disabled, no empty marker), and a save of the
        // other fields keeps every link, whatever is posted for it.
        let page = root.get(&change).send().await.text();
        assert!(
            !page.contains("<input type=\"hidden\" name=\"tags\""),
            "no marker"
        );
        assert!(
            page.contains(">tag 1099</option>"),
            "the chosen rows are listed"
        );
        let ann_text = ann.to_string();
        let saved = root
            .post(&change)
            .form(&[
                ("title", "Many, renamed"),
                ("slug", "many"),
                ("author", &ann_text),
                ("tags", ""),
            ])
            .send()
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
        assert_eq!(Article::TAGS.of(&article).count(&db).await.unwrap(), 1100);
    })
    .await;
    // Editable: 1100 chosen rows (more than one query's worth) save, once
    // the form may have that many fields.
    each_backend(async |db| {
        let server = start_with(&db, article_admin, 5000).await;
        let ann = author(&db, "Ann").await;
        let mut keys = Vec::new();
        for n in 0..1100 {
            keys.push(tag(&db, &format!("tag {n}")).await.to_string());
        }
        let root = admin_login(&server, "root").await;
        let ann_text = ann.to_string();
        let mut form: Vec<(&str, &str)> = vec![
            ("title", "Many"),
            ("slug", "many"),
            ("author", &ann_text),
            ("tags", ""),
        ];
        form.extend(keys.iter().map(|k| ("tags", k.as_str())));
        let saved = root
            .post("/admin/library/article/add/")
            .form(&form)
            .send()
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
        let article = Article::objects()
            .get(&db, Article::TITLE.eq("Many"))
            .await
            .unwrap();
        assert_eq!(Article::TAGS.of(&article).count(&db).await.unwrap(), 1100);
    })
    .await;
}

#[test]
#[should_panic(expected = "Django's `^` (starts with), `=` (exact) and `@` (full text) prefixes")]
fn django_search_prefixes_are_named_as_unsupported() {
    let _ = estate::admin::site().register(ModelAdmin::<Article>::new().search_fields(&["^title"]));
}
