//! The migration commands: `makemigrations` (with --check, --dry-run,
//! --noinput, --empty), `migrate`, `showmigrations`, `sqlmigrate`.

mod common;

use estate::cli::CommandOutput;
use estate::orm::migrations::{FieldState, Migration, ModelKey, ModelState, Operation};
use estate::orm::{FieldType, ForeignKey, OnDelete};
use estate::prelude::*;
use estate::test::each_backend;

use common::debug_app;

#[derive(Model, Debug, Clone)]
struct Author {
    id: Auto<i64>,
    #[model(max_length = 50)]
    name: String,
}

#[derive(Model, Debug, Clone)]
struct Book {
    id: Auto<i64>,
    #[model(max_length = 100)]
    title: String,
    #[model(on_delete = Cascade)]
    author: ForeignKey<Author>,
    #[model(default = 0)]
    pages: i32,
    subtitle: Option<String>,
}

fn author_state() -> ModelState {
    ModelState::new("library", "Author", "author")
        .field(FieldState::auto("id"))
        .field(FieldState::new("name", FieldType::String).max_length(50))
}

fn book_state(complete: bool) -> ModelState {
    let mut book = ModelState::new("library", "Book", "book")
        .field(FieldState::auto("id"))
        .field(FieldState::new("title", FieldType::String).max_length(100))
        .field(
            FieldState::new("author", FieldType::BigInt)
                .column("author_id")
                .references(ModelKey::new("library", "Author"), OnDelete::Cascade),
        );
    if complete {
        book = book
            .field(FieldState::new("pages", FieldType::Int))
            .field(FieldState::new("subtitle", FieldType::String).null());
    }
    book
}

fn none() -> Vec<Migration> {
    Vec::new()
}

fn partial() -> Vec<Migration> {
    vec![
        Migration::new("library", "0001_initial")
            .operation(Operation::CreateModel(author_state()))
            .operation(Operation::CreateModel(book_state(false))),
    ]
}

fn current() -> Vec<Migration> {
    vec![
        Migration::new("library", "0001_initial")
            .operation(Operation::CreateModel(author_state()))
            .operation(Operation::CreateModel(book_state(true))),
    ]
}

fn temp_dir(name: &str) -> &'static str {
    let dir = std::env::temp_dir().join(format!(
        "estate-migrations-{name}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    Box::leak(dir.to_string_lossy().into_owned().into_boxed_str())
}

fn app(dir: &'static str, all: fn() -> Vec<Migration>) -> App {
    debug_app().app(
        AppModule::new("library")
            .model::<Author>()
            .model::<Book>()
            .migrations(dir, all),
    )
}

async fn run(app: App, args: &[&str]) -> (estate::Result<()>, String) {
    let out = CommandOutput::capture();
    let mut argv = vec!["site"];
    argv.extend_from_slice(args);
    let result = app.run_with_args(argv, out.clone()).await;
    (result, out.captured())
}

#[tokio::test]
async fn makemigrations_writes_the_initial_migration_and_its_list() {
    let dir = temp_dir("initial");
    let (result, out) = run(app(dir, none), &["makemigrations", "--noinput"]).await;
    result.unwrap();
    assert!(out.contains("Migrations for 'library':"), "{out}");
    assert!(out.contains("0001_initial.rs"), "{out}");
    assert!(
        out.contains("- Create model Author\n    - Create model Book"),
        "{out}"
    );
    let source = std::fs::read_to_string(format!("{dir}/0001_initial.rs")).unwrap();
    assert!(
        source.contains(r#"Migration::new("library", "0001_initial")"#),
        "{source}"
    );
    assert!(
        source.contains(r#".references(ModelKey::new("library", "Author"), OnDelete::Cascade)"#),
        "{source}"
    );
    let list = std::fs::read_to_string(format!("{dir}/mod.rs")).unwrap();
    assert!(list.contains("#[path = \"0001_initial.rs\"]"), "{list}");
    assert!(list.contains("vec![m0001_initial::migration()]"), "{list}");

    // Not compiled in yet: running again would overwrite, and refuses.
    let (result, _) = run(app(dir, none), &["makemigrations", "--noinput"]).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("exists already"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn new_fields_become_add_field_with_their_defaults() {
    let dir = temp_dir("add");
    // --check and --dry-run write nothing; --check fails.
    let (result, out) = run(app(dir, partial), &["makemigrations", "--check"]).await;
    assert!(result.is_err());
    assert!(out.contains("Add field pages to Book"), "{out}");
    let (result, out) = run(app(dir, partial), &["makemigrations", "--dry-run"]).await;
    result.unwrap();
    assert!(out.contains("0002_auto.rs"), "{out}");
    assert!(!std::path::Path::new(dir).exists());

    let (result, _) = run(
        app(dir, partial),
        &["makemigrations", "library", "--name", "book_details"],
    )
    .await;
    result.unwrap();
    let source = std::fs::read_to_string(format!("{dir}/0002_book_details.rs")).unwrap();
    assert!(
        source.contains(r#".depends_on("library", "0001_initial")"#),
        "{source}"
    );
    // The model's default fills existing rows; the nullable field needs none.
    assert!(source.contains("fill: Some(Value::I32(0))"), "{source}");
    assert!(
        source.contains(r#"FieldState::new("subtitle", FieldType::String).null()"#),
        "{source}"
    );
    assert!(source.contains("fill: None"), "{source}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn unchanged_models_need_no_migration() {
    let dir = temp_dir("same");
    let (result, out) = run(app(dir, current), &["makemigrations", "--check"]).await;
    result.unwrap();
    assert_eq!(out, "No changes detected\n");
    let (result, out) = run(app(dir, current), &["makemigrations", "library"]).await;
    result.unwrap();
    assert_eq!(out, "No changes detected in app 'library'\n");
    let (result, _) = run(app(dir, current), &["makemigrations", "nowhere"]).await;
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("no installed app `nowhere`")
    );
    // An empty migration for hand-written steps.
    let (result, _) = run(
        app(dir, current),
        &["makemigrations", "library", "--empty", "--name", "seed"],
    )
    .await;
    result.unwrap();
    assert!(std::path::Path::new(&format!("{dir}/0002_seed.rs")).exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[derive(Model, Debug, Clone)]
struct Shelf {
    id: Auto<i64>,
    #[model(max_length = 20)]
    label: String,
}

fn shelf_without_label() -> Vec<Migration> {
    vec![
        Migration::new("shelves", "0001_initial").operation(Operation::CreateModel(
            ModelState::new("shelves", "Shelf", "shelf").field(FieldState::auto("id")),
        )),
    ]
}

#[tokio::test]
async fn a_not_null_field_without_a_default_needs_an_answer() {
    let dir = temp_dir("noinput");
    let app = debug_app().app(
        AppModule::new("shelves")
            .model::<Shelf>()
            .migrations(dir, shelf_without_label),
    );
    let (result, _) = run(app, &["makemigrations", "--noinput"]).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("adding the NOT NULL field `Shelf.label`"),
        "{err}"
    );
    assert!(err.contains("#[model(default = ...)]"), "{err}");
    assert!(!std::path::Path::new(dir).exists());
}

#[tokio::test]
async fn migrate_showmigrations_and_sqlmigrate() {
    each_backend(async |db| {
        let dir = temp_dir("run");
        let with_db = || app(dir, current).database(db.clone());
        let (result, out) = run(with_db(), &["showmigrations"]).await;
        result.unwrap();
        assert!(out.contains("library\n [ ] 0001_initial"), "{out}");
        let (result, out) = run(with_db(), &["migrate"]).await;
        result.unwrap();
        assert!(out.contains("Applying library.0001_initial..."), "{out}");
        assert!(out.contains("Applied library.0001_initial OK"), "{out}");
        let (result, out) = run(with_db(), &["migrate"]).await;
        result.unwrap();
        assert!(out.contains("No migrations to apply."), "{out}");
        let (result, out) = run(with_db(), &["showmigrations", "library"]).await;
        result.unwrap();
        assert!(out.contains(" [X] 0001_initial"), "{out}");
        // The tables exist: the ORM can use them.
        let mut ann = Author {
            id: Auto::new(),
            name: "Ann".into(),
        };
        ann.save(&db).await.unwrap();
        let (result, out) = run(with_db(), &["sqlmigrate", "library", "0001", "--backwards"]).await;
        result.unwrap();
        assert!(out.contains("DROP TABLE"), "{out}");
        let (result, out) = run(with_db(), &["migrate", "library", "zero"]).await;
        result.unwrap();
        assert!(out.contains("Unapplied library.0001_initial OK"), "{out}");
        let (result, _) = run(with_db(), &["migrate", "library", "0009"]).await;
        assert!(
            result
                .unwrap_err()
                .to_string()
                .contains("no migration matching `0009`")
        );
    })
    .await;
}

#[derive(Model, Debug, Clone)]
#[model(table = "shelf")]
struct RenamedShelf {
    id: Auto<i64>,
    #[model(max_length = 20)]
    title: String,
}

fn shelf_with_label() -> Vec<Migration> {
    vec![
        Migration::new("shelves", "0001_initial").operation(Operation::CreateModel(
            ModelState::new("shelves", "RenamedShelf", "shelf")
                .field(FieldState::auto("id"))
                .field(FieldState::new("label", FieldType::String).max_length(20)),
        )),
    ]
}

#[tokio::test]
async fn renames_are_answered_by_flag_in_ci() {
    let dir = temp_dir("rename");
    let app = || {
        debug_app().app(
            AppModule::new("shelves")
                .model::<RenamedShelf>()
                .migrations(dir, shelf_with_label),
        )
    };
    // Unanswered, the rename looks like a new NOT NULL field: an error.
    let (result, _) = run(app(), &["makemigrations", "--noinput"]).await;
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("RenamedShelf.title")
    );
    let (result, out) = run(
        app(),
        &[
            "makemigrations",
            "--noinput",
            "--rename",
            "RenamedShelf.label=title",
        ],
    )
    .await;
    result.unwrap();
    assert!(
        out.contains("- Rename field label on RenamedShelf to title"),
        "{out}"
    );
    let source =
        std::fs::read_to_string(format!("{dir}/0002_rename_renamedshelf_title.rs")).unwrap();
    assert!(source.contains("Operation::RenameField"), "{source}");
    std::fs::remove_dir_all(dir).unwrap();
}

fn branched() -> Vec<Migration> {
    let mut all = current();
    all.push(Migration::new("library", "0002_from_ann").depends_on("library", "0001_initial"));
    all.push(Migration::new("library", "0002_from_bob").depends_on("library", "0001_initial"));
    all
}

#[tokio::test]
async fn two_branches_stop_makemigrations_until_merged() {
    let dir = temp_dir("merge");
    let (result, _) = run(app(dir, branched), &["makemigrations"]).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("conflicting migrations in library: 0002_from_ann and 0002_from_bob"),
        "{err}"
    );
    assert!(err.contains("makemigrations --merge"), "{err}");
    std::fs::create_dir_all(dir).unwrap();
    let (result, out) = run(app(dir, branched), &["makemigrations", "--merge"]).await;
    result.unwrap();
    assert!(
        out.contains("Merging library: 0002_from_ann and 0002_from_bob"),
        "{out}"
    );
    let source =
        std::fs::read_to_string(format!("{dir}/0003_merge_0002_from_ann_0002_from_bob.rs"))
            .unwrap();
    assert!(
        source.contains(r#".depends_on("library", "0002_from_ann")"#),
        "{source}"
    );
    assert!(
        source.contains(r#".depends_on("library", "0002_from_bob")"#),
        "{source}"
    );
    let (result, out) = run(app(dir, current), &["makemigrations", "--merge"]).await;
    result.unwrap();
    assert_eq!(out, "No conflicts detected to merge.\n");
    std::fs::remove_dir_all(dir).unwrap();
}

fn two_steps() -> Vec<Migration> {
    vec![
        Migration::new("library", "0001_initial")
            .operation(Operation::CreateModel(author_state()))
            .operation(Operation::CreateModel(book_state(false))),
        Migration::new("library", "0002_details")
            .depends_on("library", "0001_initial")
            .operation(Operation::AddField {
                app: "library".into(),
                model: "Book".into(),
                field: FieldState::new("pages", FieldType::Int),
                fill: Some(estate::orm::Value::I32(0)),
            })
            .operation(Operation::AddField {
                app: "library".into(),
                model: "Book".into(),
                field: FieldState::new("subtitle", FieldType::String).null(),
                fill: None,
            }),
    ]
}

#[tokio::test]
async fn squashmigrations_writes_one_migration_replacing_several() {
    let dir = temp_dir("squash");
    std::fs::create_dir_all(dir).unwrap();
    let (result, out) = run(
        app(dir, two_steps),
        &["squashmigrations", "library", "0002"],
    )
    .await;
    result.unwrap();
    assert!(out.contains("Squashed 2 migrations"), "{out}");
    assert!(out.contains("(2 operations instead of 4)"), "{out}");
    let source = std::fs::read_to_string(format!("{dir}/0001_squashed_0002_details.rs")).unwrap();
    assert!(
        source.contains(r#".replaces("library", "0001_initial")"#),
        "{source}"
    );
    assert!(
        source.contains(r#".replaces("library", "0002_details")"#),
        "{source}"
    );
    let list = std::fs::read_to_string(format!("{dir}/mod.rs")).unwrap();
    assert!(
        list.contains("m0001_squashed_0002_details::migration()"),
        "{list}"
    );
    let (result, _) = run(
        app(dir, two_steps),
        &["squashmigrations", "library", "0001"],
    )
    .await;
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("nothing to squash")
    );
    std::fs::remove_dir_all(dir).unwrap();
}
