//! Lookups and orderings on fields named at run time (what the admin's
//! search and sorting use), on every backend: unknown names are errors
//! naming the model's fields, never SQL; values are always bound.

use estate::db::Value;
use estate::orm::{Condition, OrderBy, create_table};
use estate::prelude::*;
use estate::test::each_backend;

#[derive(Model, Debug, Clone)]
struct Book {
    id: Auto<i64>,
    #[model(max_length = 100)]
    title: String,
    pages: i32,
    subtitle: Option<String>,
}

#[tokio::test]
async fn fields_named_at_run_time_filter_and_sort() {
    each_backend(async |db| {
        create_table(&db, Book::META).await.unwrap();
        for (title, pages, subtitle) in [
            ("Rust in Action", 450, None),
            ("The Rust Book", 550, Some("2024 edition")),
            ("100% Django", 300, None),
            ("Gardening", 120, Some("for beginners")),
        ] {
            let mut book = Book {
                id: Auto::new(),
                title: title.into(),
                pages,
                subtitle: subtitle.map(Into::into),
            };
            book.save(&db).await.unwrap();
        }
        let titles = |books: Vec<Book>| books.into_iter().map(|b| b.title).collect::<Vec<_>>();

        let rusty = Book::objects()
            .filter(Condition::field_icontains("title", "RUST").unwrap())
            .order_by([OrderBy::field("-pages").unwrap()])
            .all(&db)
            .await
            .unwrap();
        assert_eq!(titles(rusty), ["The Rust Book", "Rust in Action"]);
        // `%` is a literal percent sign, not a wildcard.
        let percent = Book::objects()
            .filter(Condition::field_icontains("title", "0%").unwrap())
            .count(&db)
            .await
            .unwrap();
        assert_eq!(percent, 1);
        let short = Book::objects()
            .filter(Condition::field_equals("pages", Value::I32(120)).unwrap())
            .all(&db)
            .await
            .unwrap();
        assert_eq!(titles(short), ["Gardening"]);
        let no_subtitle = Book::objects()
            .filter(
                Condition::field_equals("subtitle", Value::Null(estate::orm::Kind::String))
                    .unwrap(),
            )
            .order_by([OrderBy::field("title").unwrap()])
            .all(&db)
            .await
            .unwrap();
        assert_eq!(titles(no_subtitle), ["100% Django", "Rust in Action"]);
        // A hostile "field name" is only ever a name that does not exist.
        let injected = Book::objects()
            .filter(Condition::field_icontains("title", "'; DROP TABLE book; --").unwrap())
            .count(&db)
            .await
            .unwrap();
        assert_eq!(injected, 0);
        assert_eq!(Book::objects().count(&db).await.unwrap(), 4);
    })
    .await;
}

#[test]
fn unknown_and_unsuitable_fields_are_named_in_the_error() {
    let err = OrderBy::<Book>::field("-titel").unwrap_err().to_string();
    assert!(err.contains("Book has no field `titel`"), "{err}");
    assert!(err.contains("id, title, pages, subtitle"), "{err}");
    let err = Condition::<Book>::field_equals("title; DROP TABLE book", Value::I32(1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no field"), "{err}");
    let err = Condition::<Book>::field_icontains("pages", "1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("Book.pages is not a text field"), "{err}");
    let err = Condition::<Book>::linked_to("tags", Value::I64(1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Book has no many-to-many field `tags`"),
        "{err}"
    );
    assert!(OrderBy::<Book>::field("").is_err());
    assert!(OrderBy::<Book>::field("--pages").is_err());
}

#[derive(Model, Debug, Clone)]
struct Shelf {
    id: Auto<i64>,
    #[model(max_length = 50)]
    room: String,
}

#[derive(Model, Debug, Clone)]
struct Author {
    id: Auto<i64>,
    #[model(max_length = 50)]
    name: String,
    #[model(on_delete = SetNull)]
    shelf: Option<estate::orm::ForeignKey<Shelf>>,
}

#[derive(Model, Debug, Clone)]
struct Label {
    id: Auto<i64>,
    #[model(max_length = 30)]
    name: String,
}

#[derive(Model, Debug, Clone)]
struct Novel {
    id: Auto<i64>,
    #[model(max_length = 100)]
    title: String,
    #[model(on_delete = Cascade)]
    author: estate::orm::ForeignKey<Author>,
    labels: estate::orm::ManyToMany<Label>,
}

#[tokio::test]
async fn text_lookups_follow_foreign_keys_and_many_to_many_fields() {
    each_backend(async |db| {
        for meta in [Shelf::META, Author::META, Label::META, Novel::META] {
            create_table(&db, meta).await.unwrap();
        }
        let mut attic = Shelf {
            id: Auto::new(),
            room: "Attic".into(),
        };
        attic.save(&db).await.unwrap();
        let mut ann = Author {
            id: Auto::new(),
            name: "Ann Leckie".into(),
            shelf: Some(estate::orm::ForeignKey::to(&attic).unwrap()),
        };
        ann.save(&db).await.unwrap();
        let mut bo = Author {
            id: Auto::new(),
            name: "Bo Xu".into(),
            shelf: None,
        };
        bo.save(&db).await.unwrap();
        let mut space = Label {
            id: Auto::new(),
            name: "Space opera".into(),
        };
        space.save(&db).await.unwrap();
        let mut prize = Label {
            id: Auto::new(),
            name: "Prize winner".into(),
        };
        prize.save(&db).await.unwrap();
        let mut novels = Vec::new();
        for (title, author) in [
            ("Ancillary Justice", &ann),
            ("Ancillary Sword", &ann),
            ("Tea", &bo),
        ] {
            let mut novel = Novel {
                id: Auto::new(),
                title: title.into(),
                author: estate::orm::ForeignKey::to(author).unwrap(),
                labels: Default::default(),
            };
            novel.save(&db).await.unwrap();
            novels.push(novel);
        }
        // Two labels on one novel: still one row.
        Novel::LABELS
            .add(&db, &novels[0], [&space, &prize])
            .await
            .unwrap();
        Novel::LABELS.add(&db, &novels[2], [&prize]).await.unwrap();

        let titles = async |path: &str, text: &str| {
            let mut found: Vec<String> = Novel::objects()
                .filter(Condition::field_icontains(path, text).unwrap())
                .all(&db)
                .await
                .unwrap()
                .into_iter()
                .map(|n| n.title)
                .collect();
            found.sort();
            found
        };
        assert_eq!(
            titles("author__name", "LECKIE").await,
            ["Ancillary Justice", "Ancillary Sword"]
        );
        assert_eq!(
            titles("author__shelf__room", "att").await,
            ["Ancillary Justice", "Ancillary Sword"]
        );
        assert_eq!(
            titles("labels__name", "i").await,
            ["Ancillary Justice", "Tea"]
        );
        assert_eq!(titles("labels__name", "opera").await, ["Ancillary Justice"]);
        assert!(titles("author__name", "%").await.is_empty());
        // Either field: what the admin's search builds.
        let either = Novel::objects()
            .filter(
                Condition::field_icontains("title", "tea").unwrap()
                    | Condition::field_icontains("author__name", "tea").unwrap(),
            )
            .count(&db)
            .await
            .unwrap();
        assert_eq!(either, 1);
    })
    .await;
}

#[test]
fn relation_paths_name_the_step_that_is_wrong() {
    let err = Condition::<Novel>::field_icontains("author__nmae", "x")
        .unwrap_err()
        .to_string();
    assert!(err.contains("Author has no field `nmae`"), "{err}");
    let err = Condition::<Novel>::field_icontains("title__name", "x")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "Novel.title is not a foreign key or many-to-many field, so `name` cannot follow it"
        ),
        "{err}"
    );
    let err = Condition::<Novel>::field_icontains("author", "x")
        .unwrap_err()
        .to_string();
    assert!(err.contains("Novel.author is not a text field"), "{err}");
    let err = Condition::<Novel>::field_icontains("author__shelf", "x")
        .unwrap_err()
        .to_string();
    assert!(err.contains("Author.shelf is not a text field"), "{err}");
}

#[tokio::test]
async fn a_whole_table_count_may_come_from_the_statistics() {
    use estate::db::{Backend, RawSql, params};
    each_backend(async |db| {
        create_table(&db, Book::META).await.unwrap();
        for n in 0..40 {
            let mut book = Book {
                id: Auto::new(),
                title: format!("Book {n}"),
                pages: n,
                subtitle: None,
            };
            book.save(&db).await.unwrap();
        }
        // Before the statistics exist, and on SQLite, the count is exact.
        if db.backend() == Backend::Postgres {
            let before = Book::objects().count_estimate(&db, 0).await.unwrap();
            assert_eq!(before.rows, 40);
            assert!(before.exact, "PostgreSQL has no statistics yet");
        }
        let analyze = match db.backend() {
            Backend::Sqlite => "ANALYZE",
            Backend::Postgres => "ANALYZE book",
            Backend::MySql => "ANALYZE TABLE book",
        };
        db.execute(analyze, params![]).await.unwrap();
        let whole = Book::objects().count_estimate(&db, 0).await.unwrap();
        if db.backend() == Backend::Sqlite {
            assert_eq!((whole.rows, whole.exact), (40, true));
        } else {
            // The statistics' figure, not a count: close, flagged as estimated.
            assert!(!whole.exact);
            assert!((20..=80).contains(&whole.rows), "{}", whole.rows);
        }
        // Small tables (below the threshold), filters and slices: counted.
        let small = Book::objects().count_estimate(&db, 1000).await.unwrap();
        assert_eq!((small.rows, small.exact), (40, true));
        let filtered = Book::objects()
            .filter(Condition::field_icontains("title", "book 1").unwrap())
            .count_estimate(&db, 0)
            .await
            .unwrap();
        assert_eq!((filtered.rows, filtered.exact), (11, true));
        let sliced = Book::objects()
            .limit(5)
            .count_estimate(&db, 0)
            .await
            .unwrap();
        assert_eq!((sliced.rows, sliced.exact), (5, true));
    })
    .await;
}

#[tokio::test]
async fn lookups_named_at_run_time() {
    each_backend(async |db| {
        create_table(&db, Book::META).await.unwrap();
        for (title, pages, subtitle) in [
            ("Rust in Action", 450, None),
            ("The Rust Book", 550, Some("2024 edition")),
            ("100% Django", 300, None),
        ] {
            let mut book = Book {
                id: Auto::new(),
                title: title.into(),
                pages,
                subtitle: subtitle.map(Into::into),
            };
            book.save(&db).await.unwrap();
        }
        let titles = async |condition: Condition<Book>| {
            Book::objects()
                .filter(condition)
                .order_by([Book::PAGES.asc()])
                .all(&db)
                .await
                .unwrap()
                .into_iter()
                .map(|b| b.title)
                .collect::<Vec<_>>()
        };
        let lookup = |field: &str, lookup: &str, value: Value| {
            Condition::<Book>::field_lookup(field, lookup, value).unwrap()
        };
        assert_eq!(
            titles(lookup("pages", "gt", Value::I32(300))).await,
            ["Rust in Action", "The Rust Book"]
        );
        assert_eq!(
            titles(lookup("pages", "lte", Value::I32(450))).await,
            ["100% Django", "Rust in Action"]
        );
        assert_eq!(
            titles(lookup("pages", "gte", Value::I32(550))).await,
            ["The Rust Book"]
        );
        assert_eq!(
            titles(lookup("pages", "lt", Value::I32(301))).await,
            ["100% Django"]
        );
        assert_eq!(
            titles(lookup("subtitle", "isnull", Value::Bool(false))).await,
            ["The Rust Book"]
        );
        assert_eq!(
            titles(lookup("title", "istartswith", Value::String("the".into()))).await,
            ["The Rust Book"]
        );
        assert_eq!(
            titles(lookup("title", "startswith", Value::String("the".into()))).await,
            Vec::<String>::new()
        );
        assert_eq!(
            titles(lookup("title", "endswith", Value::String("Action".into()))).await,
            ["Rust in Action"]
        );
        assert_eq!(
            titles(lookup("title", "contains", Value::String("0%".into()))).await,
            ["100% Django"]
        );
        assert_eq!(
            titles(lookup(
                "title",
                "iexact",
                Value::String("the rust book".into())
            ))
            .await,
            ["The Rust Book"]
        );

        // Mistakes are errors that say what is possible, never SQL.
        let err = Condition::<Book>::field_lookup("pages", "between", Value::I32(1)).unwrap_err();
        assert!(
            err.to_string().contains("unknown lookup `between`"),
            "{err}"
        );
        let err = Condition::<Book>::field_lookup("pages", "icontains", Value::String("1".into()))
            .unwrap_err();
        assert!(err.to_string().contains("not a text field"), "{err}");
        let err = Condition::<Book>::field_lookup("nope", "gt", Value::I32(1)).unwrap_err();
        assert!(err.to_string().contains("its fields are"), "{err}");
    })
    .await;
}
