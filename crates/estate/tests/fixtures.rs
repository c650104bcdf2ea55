//! The data commands on every backend: `dumpdata` and `loaddata` (Django's
//! JSON fixtures), `flush`, `dbshell` and `diffsettings`.
//!
//! Commands that read standard input or hand the terminal to another
//! program (`loaddata -`, `dbshell`) run in a child process: this test
//! binary again, running only [`child_process`].

mod common;

use std::io::Write;
use std::str::FromStr;

use estate::cli::CommandOutput;
use estate::db::{Database, RawSql};
use estate::orm::chrono::{DateTime, NaiveDate, Utc};
use estate::orm::rust_decimal::Decimal;
use estate::orm::uuid::Uuid;
use estate::orm::{ForeignKey, ManyToMany, create_table};
use estate::prelude::*;
use estate::test::each_backend;
use serde_json::json;

use common::{debug_app, debug_app_with};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(ordering = "id")]
struct Author {
    id: Auto<i64>,
    #[model(max_length = 50)]
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(ordering = "id")]
struct Tag {
    id: Auto<i64>,
    #[model(max_length = 30, unique)]
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(ordering = "id")]
struct Book {
    id: Auto<i64>,
    #[model(max_length = 100)]
    title: String,
    #[model(on_delete = Cascade)]
    author: ForeignKey<Author>,
    #[model(max_digits = 6, decimal_places = 2)]
    price: Decimal,
    published: NaiveDate,
    added: DateTime<Utc>,
    isbn: Option<Uuid>,
    extra: serde_json::Value,
    #[model(default = true)]
    in_print: bool,
    tags: ManyToMany<Tag>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(ordering = "id")]
struct Category {
    id: Auto<i64>,
    #[model(max_length = 30)]
    name: String,
    #[model(on_delete = Cascade)]
    parent: Option<ForeignKey<Category>>,
}

fn library() -> AppModule {
    AppModule::new("library")
        .model::<Author>()
        .model::<Tag>()
        .model::<Book>()
        .model::<Category>()
}

fn app(db: &Database) -> App {
    debug_app().database(db.clone()).app(library())
}

async fn create_tables(db: &Database) {
    for meta in [Author::META, Tag::META, Book::META, Category::META] {
        create_table(db, meta).await.unwrap();
    }
}

async fn run(app: App, args: &[&str]) -> (estate::Result<()>, String) {
    let out = CommandOutput::capture();
    let mut argv = vec!["site"];
    argv.extend_from_slice(args);
    let result = app.run_with_args(argv, out.clone()).await;
    (result, out.captured())
}

/// Runs a command that must succeed; returns its output.
async fn ok(db: &Database, args: &[&str]) -> String {
    let (result, out) = run(app(db), args).await;
    if let Err(err) = result {
        panic!("`{}` failed: {err}\n{out}", args.join(" "));
    }
    out
}

/// Runs a command that must fail; returns its error.
async fn fails(db: &Database, args: &[&str]) -> String {
    let (result, out) = run(app(db), args).await;
    match result {
        Ok(()) => panic!("`{}` succeeded, but should fail:\n{out}", args.join(" ")),
        Err(err) => err.to_string(),
    }
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "estate-fixtures-{}-{}-{name}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ))
}

/// Writes a fixture file; returns its path.
fn fixture(name: &str, json: &serde_json::Value) -> String {
    let path = temp_path(name);
    std::fs::write(&path, json.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

fn moment(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

async fn author(db: &Database, name: &str) -> Author {
    let mut author = Author {
        id: Auto::new(),
        name: name.into(),
    };
    author.save(db).await.unwrap();
    author
}

async fn tag(db: &Database, name: &str) -> Tag {
    let mut tag = Tag {
        id: Auto::new(),
        name: name.into(),
    };
    tag.save(db).await.unwrap();
    tag
}

/// Two authors, two tags, one book with both tags, a two-level tree.
async fn sample(db: &Database) -> Book {
    let ann = author(db, "Ann").await;
    author(db, "Ben").await;
    let sf = tag(db, "sf").await;
    let classic = tag(db, "classic").await;
    let mut book = Book {
        id: Auto::new(),
        title: "Dune".into(),
        author: ForeignKey::to(&ann).unwrap(),
        price: Decimal::from_str("12.50").unwrap(),
        published: NaiveDate::from_ymd_opt(1965, 8, 1).unwrap(),
        added: moment("2024-05-01T13:45:00.123456Z"),
        isbn: Some(Uuid::from_str("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap()),
        extra: json!({"pages": 412, "covers": ["red", "blue"]}),
        in_print: true,
        tags: ManyToMany::default(),
    };
    book.save(db).await.unwrap();
    Book::TAGS.add(db, &book, [&sf, &classic]).await.unwrap();
    let mut root = Category {
        id: Auto::new(),
        name: "Fiction".into(),
        parent: None,
    };
    root.save(db).await.unwrap();
    let mut child = Category {
        id: Auto::new(),
        name: "Science fiction".into(),
        parent: Some(ForeignKey::to(&root).unwrap()),
    };
    child.save(db).await.unwrap();
    book
}

#[tokio::test]
async fn dumpdata_prints_djangos_json_fixture() {
    each_backend(async |db| {
        create_tables(&db).await;
        sample(&db).await;

        // Django's layout, byte for byte: one line, `, ` and `: `, by key.
        let out = ok(&db, &["dumpdata", "library.Author"]).await;
        assert_eq!(
            out,
            "[{\"model\": \"library.author\", \"pk\": 1, \"fields\": {\"name\": \"Ann\"}}, \
             {\"model\": \"library.author\", \"pk\": 2, \"fields\": {\"name\": \"Ben\"}}]\n"
        );
        let out = ok(
            &db,
            &["dumpdata", "library.author", "--indent", "2", "--pks", "2"],
        )
        .await;
        assert_eq!(
            out,
            "[\n{\n  \"model\": \"library.author\",\n  \"pk\": 2,\n  \"fields\": {\n    \
             \"name\": \"Ben\"\n  }\n}\n]\n"
        );

        // Every type as Django writes it; the foreign key as the related
        // key, the generated many-to-many as a list of keys.
        let out = ok(&db, &["dumpdata", "library.book"]).await;
        let objects: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            objects,
            json!([{
                "model": "library.book",
                "pk": 1,
                "fields": {
                    "title": "Dune",
                    "author": 1,
                    "price": "12.50",
                    "published": "1965-08-01",
                    "added": "2024-05-01T13:45:00.123Z",
                    "isbn": "67e55044-10b1-426f-9247-bb680e5fe0c8",
                    "extra": {"pages": 412, "covers": ["red", "blue"]},
                    "in_print": true,
                    "tags": [1, 2]
                }
            }])
        );
        // Fields in declaration order, many-to-many last.
        let title = out.find("\"title\"").unwrap();
        assert!(title < out.find("\"author\"").unwrap() && out.find("\"tags\"").unwrap() > title);

        // Everything installed (no label), minus what is excluded.
        let out = ok(
            &db,
            &["dumpdata", "--exclude", "library.book", "-e", "library.tag"],
        )
        .await;
        let objects: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        let models: Vec<&str> = objects
            .iter()
            .map(|o| o["model"].as_str().unwrap())
            .collect();
        assert_eq!(
            models,
            [
                "library.author",
                "library.author",
                "library.category",
                "library.category"
            ]
        );
        assert_eq!(
            objects[3]["fields"],
            json!({"name": "Science fiction", "parent": 1})
        );
        assert_eq!(
            objects[2]["fields"],
            json!({"name": "Fiction", "parent": null})
        );

        // --output writes the file and nothing else.
        let path = temp_path("dump.json");
        let out = ok(
            &db,
            &["dumpdata", "library", "--output", path.to_str().unwrap()],
        )
        .await;
        assert_eq!(out, "");
        let written: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written.len(), 7);

        // A dump that fails half-way leaves the file it would have replaced.
        std::fs::write(&path, "yesterday's dump").unwrap();
        db.execute(&format!("DROP TABLE {}", Category::META.table), vec![])
            .await
            .unwrap();
        fails(
            &db,
            &["dumpdata", "library", "--output", path.to_str().unwrap()],
        )
        .await;
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "yesterday's dump");
        let mut partial = path.clone().into_os_string();
        partial.push(".partial");
        assert!(!std::path::Path::new(&partial).exists());
        std::fs::remove_file(path).unwrap();
    })
    .await;
}

#[tokio::test]
async fn help_lists_the_data_commands() {
    let (result, out) = run(debug_app(), &["--help"]).await;
    result.unwrap();
    for command in ["dumpdata", "loaddata", "flush", "dbshell", "diffsettings"] {
        assert!(out.contains(command), "missing {command} in:\n{out}");
    }
}

#[tokio::test]
async fn dumpdata_names_unknown_apps_and_models_and_lists_what_exists() {
    each_backend(async |db| {
        create_tables(&db).await;
        let err = fails(&db, &["dumpdata", "libary"]).await;
        assert!(err.contains("no installed app `libary`"), "{err}");
        assert!(err.contains("did you mean `library`?"), "{err}");
        assert!(err.contains("the apps with models are: library"), "{err}");
        let err = fails(&db, &["dumpdata", "library.Autor"]).await;
        assert!(
            err.contains(
                "app `library` has no model `Autor`; its models are: Author, Tag, Book, Category"
            ),
            "{err}"
        );
        let err = fails(&db, &["dumpdata", "library", "--pks", "1"]).await;
        assert!(err.contains("--pks needs exactly one model label"), "{err}");
        let err = fails(&db, &["dumpdata", "library.author", "--pks", ","]).await;
        assert!(err.contains("--pks lists no keys"), "{err}");
        let err = fails(&db, &["dumpdata", "library.author", "--pks", "x"]).await;
        assert!(err.contains("`x` is not a key of library.author"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn dumpdata_then_flush_then_loaddata_restores_every_row() {
    each_backend(async |db| {
        create_tables(&db).await;
        let book = sample(&db).await;
        let path = temp_path("roundtrip.json");
        let path = path.to_str().unwrap();
        ok(&db, &["dumpdata", "--output", path, "--indent", "4"]).await;

        let out = ok(&db, &["flush", "--noinput"]).await;
        assert!(out.contains("Flushed 5 table(s)."), "{out}");
        assert_eq!(Author::objects().count(&db).await.unwrap(), 0);
        assert_eq!(Book::objects().count(&db).await.unwrap(), 0);

        let out = ok(&db, &["loaddata", path]).await;
        assert_eq!(out, "Installed 7 object(s) from 1 fixture(s)\n");
        let names: Vec<String> = Author::objects()
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names, ["Ann", "Ben"]);
        let loaded = Book::objects().get_by_key(&db, 1).await.unwrap();
        // Django's fixtures keep moments to the millisecond.
        let expected = Book {
            added: moment("2024-05-01T13:45:00.123Z"),
            ..book.clone()
        };
        assert_eq!(loaded, expected);
        let tags: Vec<String> = Book::TAGS
            .of(&loaded)
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(tags, ["sf", "classic"]);
        let child = Category::objects().get_by_key(&db, 2).await.unwrap();
        assert_eq!(child.parent.map(|p| *p.id()), Some(1));
        std::fs::remove_file(path).unwrap();
    })
    .await;
}

#[tokio::test]
async fn loaddata_writes_children_listed_before_parents_and_overwrites_by_key() {
    each_backend(async |db| {
        create_tables(&db).await;
        author(&db, "Old name").await;
        let path = fixture(
            "ordered.json",
            &json!([
                // A book before its author and its tags.
                {"model": "library.book", "pk": 3, "fields": {
                    "title": "Emma", "author": 9, "price": "7.00", "published": "1815-12-23",
                    "added": "2024-01-02T03:04:05Z", "isbn": null, "extra": [],
                    "tags": [5]
                }},
                // A tree listed leaves first.
                {"model": "library.category", "pk": 12, "fields": {"name": "Regency", "parent": 11}},
                {"model": "library.category", "pk": 11, "fields": {"name": "Romance", "parent": 10}},
                {"model": "library.category", "pk": 10, "fields": {"name": "Fiction", "parent": null}},
                {"model": "library.tag", "pk": 5, "fields": {"name": "classic"}},
                {"model": "library.author", "pk": 9, "fields": {"name": "Jane Austen"}},
                // An existing row is overwritten.
                {"model": "library.author", "pk": 1, "fields": {"name": "New name"}},
                // No key: the database generates one.
                {"model": "library.tag", "fields": {"name": "generated"}}
            ]),
        );
        let out = ok(&db, &["loaddata", &path]).await;
        assert_eq!(out, "Installed 8 object(s) from 1 fixture(s)\n");
        let authors: Vec<(i64, String)> = Author::objects()
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.id.get().unwrap(), a.name))
            .collect();
        assert_eq!(authors, [(1, "New name".to_owned()), (9, "Jane Austen".to_owned())]);
        let book = Book::objects().get_by_key(&db, 3).await.unwrap();
        assert_eq!(*book.author.id(), 9);
        // A missing field takes the field's default.
        assert!(book.in_print);
        assert_eq!(book.extra, json!([]));
        let tags: Vec<i64> = Book::TAGS
            .of(&book)
            .all(&db)
            .await
            .unwrap()
            .iter()
            .map(|t| t.id.get().unwrap())
            .collect();
        assert_eq!(tags, [5]);
        let regency = Category::objects().get_by_key(&db, 12).await.unwrap();
        assert_eq!(regency.parent.map(|p| *p.id()), Some(11));
        let generated = Tag::objects()
            .get(&db, Tag::NAME.eq("generated"))
            .await
            .unwrap();
        assert!(generated.id.get().unwrap() > 5, "{generated:?}");
        std::fs::remove_file(path).unwrap();
    })
    .await;
}

#[tokio::test]
async fn loaddata_breaks_reference_cycles_through_nullable_fields() {
    each_backend(async |db| {
        create_tables(&db).await;
        // 1 -> 2 -> 1: no order works; one reference is set afterwards.
        let path = fixture(
            "cycle.json",
            &json!([
                {"model": "library.category", "pk": 1, "fields": {"name": "A", "parent": 2}},
                {"model": "library.category", "pk": 2, "fields": {"name": "B", "parent": 1}},
                {"model": "library.category", "pk": 3, "fields": {"name": "Self", "parent": 3}}
            ]),
        );
        ok(&db, &["loaddata", &path]).await;
        let parents: Vec<Option<i64>> = Category::objects()
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.parent.map(|p| *p.id()))
            .collect();
        assert_eq!(parents, [Some(2), Some(1), Some(3)]);
        std::fs::remove_file(path).unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_bad_fixture_adds_nothing_and_the_error_names_file_object_model_and_field() {
    each_backend(async |db| {
        create_tables(&db).await;
        author(&db, "Ann").await;
        let good = json!([
            {"model": "library.author", "pk": 1, "fields": {"name": "Overwritten"}},
            {"model": "library.author", "pk": 2, "fields": {"name": "Added"}},
            {"model": "library.tag", "pk": 1, "fields": {"name": "added"}}
        ]);
        let cases = [
            (
                json!({"model": "library.autor", "pk": 3, "fields": {"name": "X"}}),
                vec![
                    "object 4",
                    "unknown model `library.autor` (did you mean `library.author`?)",
                    "library.author, library.tag, library.book, library.category",
                ],
            ),
            (
                json!({"model": "library.author", "pk": 3, "fields": {"nmae": "X"}}),
                vec![
                    "object 4 (library.author, pk 3)",
                    "unknown field `nmae` (did you mean `name`?)",
                    "the fields of library.author are: id, name",
                ],
            ),
            (
                json!({"model": "library.category", "pk": 3, "fields": {"name": "X", "parent": "top"}}),
                vec![
                    "object 4 (library.category, pk 3), field `parent`",
                    "expected a whole number, got \"top\"",
                ],
            ),
            (
                json!({"model": "library.book", "pk": 3, "fields": {
                    "title": "X", "author": 99, "price": "1.00", "published": "2020-01-01",
                    "added": "2020-01-01T00:00:00Z", "isbn": null, "extra": {}
                }}),
                vec![
                    "object 4 (library.book, pk 3), field `author`",
                    "points at library.author with pk 99, which is neither in the database \
                     nor in the fixtures",
                ],
            ),
            (
                json!({"model": "library.book", "pk": 3, "fields": {
                    "title": "X", "author": 1, "price": "1.00", "published": "2020-01-01",
                    "added": "2020-01-01T00:00:00Z", "isbn": null, "extra": {}, "tags": [42]
                }}),
                vec![
                    "object 4 (library.book, pk 3), field `tags`",
                    "points at library.tag with pk 42",
                ],
            ),
            (
                json!({"model": "library.author", "pk": 3, "fields": {"name": "x".repeat(51)}}),
                vec![
                    "object 4 (library.author, pk 3), field `name`",
                    "at most 50 characters",
                ],
            ),
            (
                json!({"model": "library.book", "pk": 3, "fields": {"title": "No author"}}),
                vec![
                    "object 4 (library.book, pk 3), field `author`",
                    "missing, and the field has no default and cannot be null",
                ],
            ),
            (
                // Refused by the database itself: a duplicate unique name.
                json!({"model": "library.tag", "pk": 2, "fields": {"name": "added"}}),
                vec!["object 4 (library.tag, pk 2)"],
            ),
        ];
        for (bad, expected) in cases {
            let mut objects = good.as_array().unwrap().clone();
            objects.push(bad);
            let path = fixture("bad.json", &serde_json::Value::Array(objects));
            let err = fails(&db, &["loaddata", &path]).await;
            assert!(
                err.contains(&format!("Problem installing fixture '{path}'")),
                "{err}"
            );
            for part in expected {
                assert!(err.contains(part), "missing {part:?} in: {err}");
            }
            // Nothing written, nothing overwritten.
            let names: Vec<String> = Author::objects()
                .all(&db)
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.name)
                .collect();
            assert_eq!(names, ["Ann"], "after: {err}");
            assert_eq!(Tag::objects().count(&db).await.unwrap(), 0);
            std::fs::remove_file(path).unwrap();
        }
        let err = fails(&db, &["loaddata", "/nonexistent/fixture.json"]).await;
        assert!(
            err.contains("cannot read fixture '/nonexistent/fixture.json'"),
            "{err}"
        );
        let path = fixture("broken.json", &json!({"model": "library.author"}));
        let err = fails(&db, &["loaddata", &path]).await;
        assert!(err.contains("a fixture is a JSON list of objects"), "{err}");
        std::fs::write(&path, "[{\"model\": ").unwrap();
        let err = fails(&db, &["loaddata", &path]).await;
        assert!(err.contains("not valid JSON"), "{err}");
        std::fs::remove_file(path).unwrap();
    })
    .await;
}

#[tokio::test]
async fn after_loading_explicit_keys_new_rows_get_later_keys() {
    each_backend(async |db| {
        create_tables(&db).await;
        let path = fixture(
            "keys.json",
            &json!([{"model": "library.author", "pk": 5, "fields": {"name": "Five"}}]),
        );
        ok(&db, &["loaddata", &path]).await;
        let next = author(&db, "Next").await;
        assert!(next.id.get().unwrap() >= 6, "{next:?}");
        std::fs::remove_file(path).unwrap();
    })
    .await;
}

#[tokio::test]
async fn flush_empties_the_tables_and_restarts_keys_after_asking() {
    each_backend(async |db| {
        create_tables(&db).await;
        sample(&db).await;
        // Tables of no installed model (the migration records, say) stay.
        db.execute("CREATE TABLE keep_me (x INTEGER)", vec![])
            .await
            .unwrap();
        db.execute("INSERT INTO keep_me (x) VALUES (7)", vec![])
            .await
            .unwrap();
        // No terminal to ask on, and no --noinput: nothing happens.
        let err = fails(&db, &["flush"]).await;
        assert!(err.contains("--noinput"), "{err}");
        assert_eq!(Author::objects().count(&db).await.unwrap(), 2);

        let out = ok(&db, &["flush", "--noinput"]).await;
        assert_eq!(out, "Flushed 5 table(s).\n");
        assert_eq!(Author::objects().count(&db).await.unwrap(), 0);
        assert_eq!(Tag::objects().count(&db).await.unwrap(), 0);
        assert_eq!(Book::objects().count(&db).await.unwrap(), 0);
        assert_eq!(Category::objects().count(&db).await.unwrap(), 0);
        // The tables work, and keys start over.
        let again = author(&db, "Again").await;
        assert_eq!(again.id.get(), Some(1));
        let kept = db
            .fetch_one("SELECT COUNT(*) FROM keep_me", vec![])
            .await
            .unwrap();
        assert_eq!(kept.get::<i64, usize>(0).unwrap(), 1);
        let tables = estate::orm::model::rows::table_names(&db).await.unwrap();
        assert!(tables.contains(&"book_tags".to_owned()), "{tables:?}");
    })
    .await;
}

#[tokio::test]
async fn diffsettings_shows_what_differs_and_masks_secrets() {
    each_backend(async |db| {
        // The URL of this backend with a password, which must not show.
        let url = match db.backend() {
            estate::db::Backend::Sqlite => "sqlite://site.sqlite3",
            estate::db::Backend::Postgres => "postgres://someone:hunter2@db.example:5432/site",
            estate::db::Backend::MySql => "mysql://someone:hunter2@db.example:3306/site",
        };
        let configured = debug_app_with(|s| {
            s.set("secret_key", "k8F2pQ9vX7mN4rT6wY1zA3bC5dE0gH2jL4nP6sU8")
                .set("database_url", url)
                .set("server.addr", "0.0.0.0:8000")
        })
        .database(db.clone())
        .app(library());
        let (result, out) = run(configured, &["diffsettings"]).await;
        result.unwrap();
        let shown_url = estate::orm::backends::redact(url);
        assert_eq!(
            out,
            format!(
                "database_url = \"{shown_url}\"\ndebug = true\nsecret_key = \"****\"\n\
                 server.addr = \"0.0.0.0:8000\"\n"
            )
        );
        assert!(!out.contains("hunter2") && !out.contains("k8F2"), "{out}");

        let (result, all) = run(app(&db), &["diffsettings", "--all"]).await;
        result.unwrap();
        assert!(all.contains("limits.max_body_size = 2621440\n"), "{all}");
        assert!(all.contains("server.shutdown_grace = \"30s\"\n"), "{all}");
        assert!(all.contains("secret_key = \"****\"\n"), "{all}");
    })
    .await;
}

// --- In a child process: standard input, and the client's terminal -------

/// The variable holding the child's command line (JSON list).
const CHILD_ARGS: &str = "ESTATE_TEST_FIXTURES_CHILD_ARGS";
/// The variable holding the child's database URL.
const CHILD_URL: &str = "ESTATE_TEST_FIXTURES_CHILD_URL";

/// Not a test of its own: the body of the child process [`in_child`]
/// starts (this binary, running only this function). Does nothing when
/// the variables are not set; ignored in normal runs, the children ask for
/// it with `--ignored`.
#[tokio::test]
#[ignore = "the entry point of the child processes other tests start"]
async fn child_process() {
    let (Ok(args), Ok(url)) = (std::env::var(CHILD_ARGS), std::env::var(CHILD_URL)) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).unwrap();
    let app = debug_app_with(|s| s.set("database_url", url)).app(library());
    let argv = std::iter::once("site".to_owned()).chain(args);
    if let Err(err) = app.run_with_args(argv, CommandOutput::stdout()).await {
        let _ = writeln!(std::io::stderr(), "command failed: {err}");
        std::process::exit(3);
    }
}

struct ChildOutput {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `site ARGS` against `url` in a child process fed `input`; `path`
/// replaces the child's PATH.
async fn in_child(url: &str, args: &[&str], input: &str, path: Option<&str>) -> ChildOutput {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "child_process",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ARGS, serde_json::to_string(args).unwrap())
        .env(CHILD_URL, url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(path) = path {
        command.env("PATH", path);
    }
    let input = input.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        ChildOutput {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

/// A database another process can open: the test's own on a server; a
/// file for SQLite (the test's lives in this process's memory).
async fn shared(db: &Database) -> (Database, String, Option<std::path::PathBuf>) {
    if db.backend() == estate::db::Backend::Sqlite {
        let file = temp_path("shared.sqlite3");
        let url = format!("sqlite://{}", file.display());
        let shared = Database::connect(&url).await.unwrap();
        (shared, url, Some(file))
    } else {
        (db.clone(), db.url().to_owned(), None)
    }
}

fn remove_sqlite(file: Option<std::path::PathBuf>) {
    if let Some(file) = file {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }
}

#[tokio::test]
async fn loaddata_reads_standard_input() {
    each_backend(async |db| {
        let (db, url, file) = shared(&db).await;
        create_tables(&db).await;
        let input = json!([
            {"model": "library.author", "pk": 1, "fields": {"name": "From stdin"}}
        ])
        .to_string();
        let child = in_child(&url, &["loaddata", "-"], &input, None).await;
        assert!(child.success, "{}\n{}", child.stdout, child.stderr);
        assert!(
            child
                .stdout
                .contains("Installed 1 object(s) from 1 fixture(s)"),
            "{}",
            child.stdout
        );
        let names: Vec<String> = Author::objects()
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names, ["From stdin"]);
        // A bad object on stdin is named as such.
        let child = in_child(&url, &["loaddata", "-"], "[{\"model\": \"x.y\"}]", None).await;
        assert!(!child.success);
        assert!(
            child
                .stderr
                .contains("Problem installing fixture 'stdin': object 1"),
            "{}",
            child.stderr
        );
        db.close().await;
        remove_sqlite(file);
    })
    .await;
}

#[tokio::test]
async fn dbshell_runs_the_backends_client_on_the_projects_database() {
    each_backend(async |db| {
        let backend = db.backend();
        let (db, url, file) = shared(&db).await;
        create_tables(&db).await;
        author(&db, "Ann from the shell").await;

        // A statement piped through the client.
        let child = in_child(&url, &["dbshell"], "SELECT name FROM author;\n", None).await;
        assert!(child.success, "{}\n{}", child.stdout, child.stderr);
        assert!(
            child.stdout.contains("Ann from the shell"),
            "{}\n{}",
            child.stdout,
            child.stderr
        );

        // Extra arguments after `--` go to the client.
        let extra: &[&str] = match backend {
            estate::db::Backend::Postgres => &["dbshell", "--", "-c", "SELECT 40 + 2 AS answer"],
            estate::db::Backend::MySql => &["dbshell", "--", "-e", "SELECT 40 + 2 AS answer"],
            _ => &["dbshell", "--", "SELECT 40 + 2 AS answer"],
        };
        let child = in_child(&url, extra, "", None).await;
        assert!(child.success, "{}\n{}", child.stdout, child.stderr);
        assert!(child.stdout.contains("42"), "{}", child.stdout);

        // Without the client installed: the program and the package.
        let empty = temp_path("empty-path");
        std::fs::create_dir_all(&empty).unwrap();
        let child = in_child(&url, &["dbshell"], "", empty.to_str()).await;
        assert!(!child.success);
        let (program, package) = match backend {
            estate::db::Backend::Postgres => ("`psql`", "postgresql-client"),
            estate::db::Backend::MySql => ("`mysql` or `mariadb`", "mariadb-client"),
            _ => ("`sqlite3`", "apt install sqlite3"),
        };
        assert!(
            child.stderr.contains(program) && child.stderr.contains(package),
            "{}",
            child.stderr
        );
        assert!(
            child.stderr.contains("is not installed"),
            "{}",
            child.stderr
        );
        std::fs::remove_dir(empty).unwrap();
        db.close().await;
        remove_sqlite(file);
    })
    .await;
}

#[tokio::test]
async fn dbshell_refuses_an_in_memory_database() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    let app = debug_app_with(|s| s.set("database_url", "sqlite::memory:")).database(db);
    let (result, _) = run(app, &["dbshell"]).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("lives in memory"), "{err}");
}
