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
