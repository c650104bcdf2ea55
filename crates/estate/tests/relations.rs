//! Foreign keys on every backend: pointing, loading (explicitly or with
//! select_related), and every on_delete rule, carried out by the ORM.

use estate::db::{Database, ErrorKind};
use estate::orm::{ForeignKey, create_table};
use estate::prelude::*;
use estate::test::each_backend;

#[derive(Model, Debug, Clone, PartialEq)]
struct Author {
    id: Auto<i64>,
    #[model(max_length = 50)]
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(ordering = "title")]
struct Book {
    id: Auto<i64>,
    #[model(max_length = 50)]
    title: String,
    #[model(on_delete = Cascade, related_name = "books")]
    author: ForeignKey<Author>,
    #[model(on_delete = SetNull)]
    editor: Option<ForeignKey<Author>>,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Review {
    id: Auto<i64>,
    #[model(on_delete = Cascade)]
    book: ForeignKey<Book>,
    stars: i32,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Sale {
    id: Auto<i64>,
    #[model(on_delete = Protect)]
    book: ForeignKey<Book>,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Contract {
    id: Auto<i64>,
    #[model(on_delete = Restrict)]
    author: ForeignKey<Author>,
    #[model(on_delete = Cascade)]
    book: ForeignKey<Book>,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Award {
    id: Auto<i64>,
    #[model(on_delete = SetDefault, default = 0)]
    author_code: ForeignKey<Code>,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Code {
    #[model(primary_key)]
    id: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Category {
    id: Auto<i64>,
    #[model(max_length = 50)]
    name: String,
    #[model(on_delete = Cascade)]
    parent: Option<ForeignKey<Category>>,
}

async fn schema(db: &Database) {
    for meta in [
        Author::META,
        Book::META,
        Review::META,
        Sale::META,
        Contract::META,
    ] {
        create_table(db, meta).await.unwrap();
    }
}

async fn author(db: &Database, name: &str) -> Author {
    let mut a = Author {
        id: Auto::new(),
        name: name.into(),
    };
    a.save(db).await.unwrap();
    a
}

async fn book(db: &Database, title: &str, by: &Author, editor: Option<&Author>) -> Book {
    let mut b = Book {
        id: Auto::new(),
        title: title.into(),
        author: ForeignKey::to(by).unwrap(),
        editor: editor.map(|e| ForeignKey::to(e).unwrap()),
    };
    b.save(db).await.unwrap();
    b
}

#[tokio::test]
async fn foreign_keys_store_keys_and_load_on_request() {
    each_backend(async |db| {
        schema(&db).await;
        let ann = author(&db, "Ann").await;
        let bob = author(&db, "Bob").await;
        book(&db, "B-side", &ann, Some(&bob)).await;
        book(&db, "A-side", &bob, None).await;

        // Plain loading: keys only, nothing loaded implicitly.
        let books = Book::objects().all(&db).await.unwrap();
        assert_eq!(books[0].title, "A-side");
        assert_eq!(*books[0].author.id(), bob.id.get().unwrap());
        assert!(books[0].author.get().is_none());
        // An explicit fetch is one query.
        assert_eq!(books[1].author.fetch(&db).await.unwrap(), ann);

        // select_related: one JOIN, both relations loaded, NULL stays None.
        let books = Book::objects()
            .select_related(Book::AUTHOR)
            .select_related(Book::EDITOR)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(books[0].author.get(), Some(&bob));
        assert!(books[0].editor.is_none());
        assert_eq!(books[1].author.get(), Some(&ann));
        assert_eq!(books[1].editor.as_ref().unwrap().get(), Some(&bob));
        let first = Book::objects()
            .select_related(Book::AUTHOR)
            .first(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.author.get().unwrap().name, "Bob");

        // Lookups on the key column, by key or by instance.
        let by_ann = Book::objects()
            .filter(Book::AUTHOR.eq(ann.id.get().unwrap()))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(by_ann, 1);
        let by_bob = Book::objects()
            .filter(Book::AUTHOR.eq(&bob))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(by_bob.len(), 1);
        let edited = Book::objects()
            .filter(Book::EDITOR.isnull(false))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(edited, 1);

        // The database refuses a key that points nowhere.
        let mut orphan = Book {
            id: Auto::new(),
            title: "Orphan".into(),
            author: ForeignKey::new(9999),
            editor: None,
        };
        let err = orphan.save(&db).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ForeignKeyViolation, "{err}");
        let unsaved = Author {
            id: Auto::new(),
            name: "Nobody".into(),
        };
        assert!(ForeignKey::to(&unsaved).is_err());
    })
    .await;
}

#[tokio::test]
async fn cascade_and_set_null_run_in_one_transaction() {
    each_backend(async |db| {
        schema(&db).await;
        let ann = author(&db, "Ann").await;
        let bob = author(&db, "Bob").await;
        let b1 = book(&db, "One", &ann, Some(&bob)).await;
        let b2 = book(&db, "Two", &ann, None).await;
        let b3 = book(&db, "Three", &bob, Some(&ann)).await;
        for (b, stars) in [(&b1, 5), (&b1, 4), (&b2, 3), (&b3, 2)] {
            let mut r = Review {
                id: Auto::new(),
                book: ForeignKey::to(b).unwrap(),
                stars,
            };
            r.save(&db).await.unwrap();
        }

        let result = ann.delete(&db).await.unwrap();
        assert_eq!(
            result.total,
            1 + 2 + 3,
            "Ann, her two books, their three reviews"
        );
        assert_eq!(result.per_model["Author"], 1);
        assert_eq!(result.per_model["Book"], 2);
        assert_eq!(result.per_model["Review"], 3);
        // Bob's book survives, and its editor (Ann) was set to NULL.
        let left = Book::objects().all(&db).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].title, "Three");
        assert!(left[0].editor.is_none());
        assert_eq!(Review::objects().count(&db).await.unwrap(), 1);

        // A queryset delete cascades the same way.
        let result = Book::objects().delete(&db).await.unwrap();
        assert_eq!((result.total, result.per_model["Review"]), (2, 1));
    })
    .await;
}

#[tokio::test]
async fn protect_refuses_and_leaves_everything_in_place() {
    each_backend(async |db| {
        schema(&db).await;
        let ann = author(&db, "Ann").await;
        let b = book(&db, "Sold", &ann, None).await;
        let mut r = Review {
            id: Auto::new(),
            book: ForeignKey::to(&b).unwrap(),
            stars: 5,
        };
        r.save(&db).await.unwrap();
        let mut sale = Sale {
            id: Auto::new(),
            book: ForeignKey::to(&b).unwrap(),
        };
        sale.save(&db).await.unwrap();

        // Deleting Ann would cascade to the book, which a sale protects.
        let err = ann.delete(&db).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protected);
        assert_eq!(
            err.to_string(),
            "cannot delete Book: 1 Sale row points at it through Sale.book (on_delete = Protect)"
        );
        assert_eq!(Author::objects().count(&db).await.unwrap(), 1);
        assert_eq!(Book::objects().count(&db).await.unwrap(), 1);
        assert_eq!(Review::objects().count(&db).await.unwrap(), 1);

        sale.delete(&db).await.unwrap();
        assert_eq!(ann.delete(&db).await.unwrap().total, 3);
    })
    .await;
}

#[tokio::test]
async fn restrict_allows_only_what_the_same_delete_removes() {
    each_backend(async |db| {
        schema(&db).await;
        let ann = author(&db, "Ann").await;
        let bob = author(&db, "Bob").await;
        let anns_book = book(&db, "Ann's", &ann, None).await;
        let bobs_book = book(&db, "Bob's", &bob, None).await;
        // A contract with Ann about Ann's book: deleting Ann cascades to the
        // book, which cascades to the contract, so Restrict allows it.
        let mut c1 = Contract {
            id: Auto::new(),
            author: ForeignKey::to(&ann).unwrap(),
            book: ForeignKey::to(&anns_book).unwrap(),
        };
        c1.save(&db).await.unwrap();
        // A contract with Bob about Ann's... no: with Ann about Bob's book.
        let mut c2 = Contract {
            id: Auto::new(),
            author: ForeignKey::to(&ann).unwrap(),
            book: ForeignKey::to(&bobs_book).unwrap(),
        };
        c2.save(&db).await.unwrap();
        let err = ann.delete(&db).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protected);
        assert!(err.to_string().contains("(on_delete = Restrict)"), "{err}");
        assert_eq!(
            Contract::objects().count(&db).await.unwrap(),
            2,
            "nothing deleted"
        );

        c2.delete(&db).await.unwrap();
        let result = ann.delete(&db).await.unwrap();
        assert_eq!(result.per_model["Contract"], 1);
    })
    .await;
}

#[tokio::test]
async fn set_default_and_self_referencing_cascades() {
    each_backend(async |db| {
        create_table(&db, Code::META).await.unwrap();
        create_table(&db, Award::META).await.unwrap();
        for id in [0, 7] {
            Code { id }.save(&db).await.unwrap();
        }
        let mut award = Award {
            id: Auto::new(),
            author_code: ForeignKey::new(7),
        };
        award.save(&db).await.unwrap();
        Code { id: 7 }.delete(&db).await.unwrap();
        award.refresh(&db).await.unwrap();
        assert_eq!(*award.author_code.id(), 0, "set to the declared default");

        create_table(&db, Category::META).await.unwrap();
        let mut root = Category {
            id: Auto::new(),
            name: "root".into(),
            parent: None,
        };
        root.save(&db).await.unwrap();
        let mut child = Category {
            id: Auto::new(),
            name: "child".into(),
            parent: Some(ForeignKey::to(&root).unwrap()),
        };
        child.save(&db).await.unwrap();
        let mut grandchild = Category {
            id: Auto::new(),
            name: "grandchild".into(),
            parent: Some(ForeignKey::to(&child).unwrap()),
        };
        grandchild.save(&db).await.unwrap();
        let mut other = Category {
            id: Auto::new(),
            name: "other".into(),
            parent: None,
        };
        other.save(&db).await.unwrap();
        let result = root.delete(&db).await.unwrap();
        assert_eq!(result.total, 3);
        let left = Category::objects().all(&db).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].name, "other");
    })
    .await;
}

#[test]
fn relation_metadata() {
    let author = Book::META.field("author").unwrap();
    assert_eq!(author.column, "author_id");
    let relation = author.relation.unwrap();
    assert_eq!((relation.target)().name, "Author");
    assert_eq!(relation.on_delete, estate::orm::OnDelete::Cascade);
    assert_eq!(relation.related_name, Some("books"));
    assert!(author.index, "foreign keys are indexed");
    assert!(Book::META.field("editor").unwrap().null);
    assert!(Book::META.field("title").unwrap().relation.is_none());
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Profile {
    id: Auto<i64>,
    #[model(on_delete = Cascade)]
    author: estate::orm::OneToOne<Author>,
    #[model(max_length = 100)]
    bio: String,
}

#[tokio::test]
async fn one_to_one_allows_one_row_per_target() {
    each_backend(async |db| {
        create_table(&db, Author::META).await.unwrap();
        create_table(&db, Profile::META).await.unwrap();
        let ann = author(&db, "Ann").await;
        let mut profile = Profile {
            id: Auto::new(),
            author: ForeignKey::to(&ann).unwrap(),
            bio: "Writes.".into(),
        };
        profile.save(&db).await.unwrap();
        let mut second = Profile {
            id: Auto::new(),
            author: ForeignKey::to(&ann).unwrap(),
            bio: "Again.".into(),
        };
        let err = second.save(&db).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err}");
        let loaded = Profile::objects()
            .select_related(Profile::AUTHOR)
            .first(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded.author.get(), Some(&ann));
        assert_eq!(ann.delete(&db).await.unwrap().per_model["Profile"], 1);
    })
    .await;
}

#[tokio::test]
async fn lookups_follow_relations_both_ways() {
    each_backend(async |db| {
        schema(&db).await;
        let ann = author(&db, "Ann").await;
        let bob = author(&db, "Bob").await;
        let cy = author(&db, "Cy").await;
        let b_side = book(&db, "B-side", &ann, Some(&bob)).await;
        book(&db, "A-side", &bob, None).await;
        book(&db, "Another", &bob, None).await;
        let mut review = Review {
            id: Auto::new(),
            book: ForeignKey::to(&b_side).unwrap(),
            stars: 5,
        };
        review.save(&db).await.unwrap();

        // Forward: books whose author is called Ann.
        let titles = |books: Vec<Book>| books.into_iter().map(|b| b.title).collect::<Vec<_>>();
        let anns = Book::objects()
            .filter(Book::AUTHOR.matching(Author::NAME.eq("Ann")))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(titles(anns), ["B-side"]);
        // Chained through two relations.
        let reviews = Review::objects()
            .filter(Review::BOOK.matching(Book::AUTHOR.matching(Author::NAME.eq("Ann"))))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(reviews, 1);
        // Excluding on a nullable relation keeps the rows where it is NULL.
        let not_edited_by_bob = Book::objects()
            .exclude(Book::EDITOR.matching(Author::NAME.eq("Bob")))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(titles(not_edited_by_bob), ["A-side", "Another"]);

        // Reverse: authors with a book starting with "A" — Bob once, though
        // he has two.
        let names = |authors: Vec<Author>| authors.into_iter().map(|a| a.name).collect::<Vec<_>>();
        let a_writers = Author::objects()
            .filter(Book::AUTHOR.any(Book::TITLE.startswith("A")))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(names(a_writers), ["Bob"]);
        // Excluding a reverse relation whose column is mostly NULL still
        // works (NULLs are left out of the subquery).
        let non_editors = Author::objects()
            .exclude(Book::EDITOR.any(Book::TITLE.contains("")))
            .order_by([Author::NAME.asc()])
            .all(&db)
            .await
            .unwrap();
        assert_eq!(names(non_editors), ["Ann", "Cy"]);

        // A subquery built from another QuerySet, sliced too.
        let first_title = Book::objects().order_by([Book::TITLE.asc()]).limit(1);
        let writer_of_first = Author::objects()
            .filter(Author::ID.in_query(Book::AUTHOR, &first_title))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(names(writer_of_first), ["Bob"]);

        // Reverse accessors: generic, and named by related_name.
        assert_eq!(bob.related(Book::AUTHOR).count(&db).await.unwrap(), 2);
        assert_eq!(ann.books().count(&db).await.unwrap(), 1);
        assert_eq!(cy.books().count(&db).await.unwrap(), 0);
        let unsaved = Author {
            id: Auto::new(),
            name: "Nobody".into(),
        };
        assert_eq!(unsaved.books().count(&db).await.unwrap(), 0);

        // The same lookups drive update and delete.
        let renamed = Book::objects()
            .filter(Book::AUTHOR.matching(Author::NAME.eq("Bob")))
            .update(&db, [Book::TITLE.set("by Bob")])
            .await
            .unwrap();
        assert_eq!(renamed, 2);
        let deleted = Author::objects()
            .filter(Book::AUTHOR.any(Book::TITLE.eq("by Bob")))
            .delete(&db)
            .await
            .unwrap();
        assert_eq!(deleted.per_model["Author"], 1);
        assert_eq!(deleted.per_model["Book"], 2);
        assert_eq!(Book::objects().count(&db).await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn lookups_on_a_model_pointing_at_itself() {
    each_backend(async |db| {
        create_table(&db, Category::META).await.unwrap();
        let mut root = Category {
            id: Auto::new(),
            name: "root".into(),
            parent: None,
        };
        root.save(&db).await.unwrap();
        for name in ["a", "b"] {
            let mut child = Category {
                id: Auto::new(),
                name: name.into(),
                parent: Some(ForeignKey::to(&root).unwrap()),
            };
            child.save(&db).await.unwrap();
        }
        let children = Category::objects()
            .filter(Category::PARENT.matching(Category::NAME.eq("root")))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(children, 2);
        let parents = Category::objects()
            .filter(Category::PARENT.any(Category::NAME.eq("a")))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(parents.len(), 1);
        assert_eq!(parents[0].name, "root");
        // An update whose subquery reads the table being updated.
        let updated = Category::objects()
            .filter(Category::PARENT.matching(Category::NAME.eq("root")))
            .update(&db, [Category::NAME.set("child")])
            .await
            .unwrap();
        assert_eq!(updated, 2);
    })
    .await;
}

#[tokio::test]
async fn annotate_counts_and_sums_the_rows_pointing_at_each_row() {
    use estate::orm::{Count, Max, Sum};
    each_backend(async |db| {
        schema(&db).await;
        let ann = author(&db, "Ann").await;
        let bob = author(&db, "Bob").await;
        let cy = author(&db, "Cy").await;
        let one = book(&db, "One", &ann, None).await;
        let two = book(&db, "Two", &ann, Some(&bob)).await;
        book(&db, "Three", &bob, None).await;
        for (b, stars) in [(&one, 5), (&one, 3), (&two, 4)] {
            let mut review = Review {
                id: Auto::new(),
                book: ForeignKey::to(b).unwrap(),
                stars,
            };
            review.save(&db).await.unwrap();
        }

        let authors = Author::objects()
            .order_by([Author::NAME.asc()])
            .annotate(
                Book::AUTHOR,
                (
                    Count::all(),
                    Count::all().filter(Book::TITLE.startswith("T")),
                    Max::of(Book::TITLE),
                ),
            )
            .all(&db)
            .await
            .unwrap();
        let summary: Vec<(&str, i64, i64, Option<&str>)> = authors
            .iter()
            .map(|(a, (books, t_books, last))| (a.name.as_str(), *books, *t_books, last.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                ("Ann", 2, 1, Some("Two")),
                ("Bob", 1, 1, Some("Three")),
                ("Cy", 0, 0, None)
            ]
        );
        let _ = cy;

        // Filters and slices of the outer query stay as they are; a
        // nullable relation counts only the rows that point.
        let edited = Author::objects()
            .filter(Author::NAME.ne("Ann"))
            .order_by([Author::NAME.asc()])
            .limit(1)
            .annotate(Book::EDITOR, (Count::all(),))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(edited.len(), 1);
        assert_eq!((edited[0].0.name.as_str(), edited[0].1.0), ("Bob", 1));

        let books = Book::objects()
            .select_related(Book::AUTHOR)
            .annotate(Review::BOOK, (Sum::of(Review::STARS), Count::all()))
            .all(&db)
            .await
            .unwrap();
        let stars: Vec<(&str, &str, Option<i64>, i64)> = books
            .iter()
            .map(|(b, (sum, n))| {
                (
                    b.title.as_str(),
                    b.author.get().unwrap().name.as_str(),
                    *sum,
                    *n,
                )
            })
            .collect();
        assert_eq!(
            stars,
            [
                ("One", "Ann", Some(8), 2),
                ("Three", "Bob", None, 0),
                ("Two", "Ann", Some(4), 1)
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn annotate_a_model_pointing_at_itself() {
    use estate::orm::Count;
    each_backend(async |db| {
        create_table(&db, Category::META).await.unwrap();
        let mut root = Category {
            id: Auto::new(),
            name: "root".into(),
            parent: None,
        };
        root.save(&db).await.unwrap();
        for name in ["a", "b"] {
            let mut child = Category {
                id: Auto::new(),
                name: name.into(),
                parent: Some(ForeignKey::to(&root).unwrap()),
            };
            child.save(&db).await.unwrap();
        }
        let counted = Category::objects()
            .order_by([Category::NAME.desc()])
            .annotate(
                Category::PARENT,
                (Count::all(), Count::all().filter(Category::NAME.eq("a"))),
            )
            .all(&db)
            .await
            .unwrap();
        let children: Vec<(&str, (i64, i64))> =
            counted.iter().map(|(c, n)| (c.name.as_str(), *n)).collect();
        assert_eq!(children, [("root", (2, 1)), ("b", (0, 0)), ("a", (0, 0))]);
    })
    .await;
}

#[tokio::test]
async fn with_related_loads_the_rows_pointing_at_each_row_in_one_query() {
    use estate::test::assert_num_queries;
    each_backend(async |db| {
        schema(&db).await;
        let ann = author(&db, "Ann").await;
        let bob = author(&db, "Bob").await;
        author(&db, "Cy").await;
        book(&db, "Beta", &ann, None).await;
        book(&db, "Alpha", &ann, Some(&bob)).await;
        book(&db, "Gamma", &bob, None).await;

        let authors = assert_num_queries(
            2,
            Author::objects()
                .order_by([Author::NAME.asc()])
                .with_related(Book::AUTHOR)
                .all(&db),
        )
        .await
        .unwrap();
        let shelf: Vec<(&str, Vec<&str>)> = authors
            .iter()
            .map(|(a, books)| {
                (
                    a.name.as_str(),
                    books.iter().map(|b| b.title.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            shelf,
            [
                ("Ann", vec!["Alpha", "Beta"]),
                ("Bob", vec!["Gamma"]),
                ("Cy", vec![])
            ]
        );

        // Which children, in what order; a nullable relation works too.
        let authors = Author::objects()
            .order_by([Author::NAME.asc()])
            .with_related(Book::AUTHOR)
            .children(
                Book::objects()
                    .exclude(Book::TITLE.eq("Alpha"))
                    .order_by([Book::TITLE.desc()]),
            )
            .all(&db)
            .await
            .unwrap();
        assert_eq!(authors[0].1.len(), 1);
        assert_eq!(authors[0].1[0].title, "Beta");
        let editors = Author::objects()
            .filter(Author::NAME.eq("Bob"))
            .with_related(Book::EDITOR)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(editors[0].1.len(), 1);
        assert_eq!(editors[0].1[0].title, "Alpha");
    })
    .await;
}

#[tokio::test]
async fn annotations_filter_and_order_the_rows() {
    use estate::orm::{Count, Sum};
    each_backend(async |db| {
        schema(&db).await;
        let ann = author(&db, "Ann").await;
        let bob = author(&db, "Bob").await;
        author(&db, "Cy").await;
        let one = book(&db, "One", &ann, None).await;
        book(&db, "Two", &ann, None).await;
        let three = book(&db, "Three", &bob, None).await;
        for (b, stars) in [(&one, 2), (&three, 5), (&three, 4)] {
            let mut review = Review {
                id: Auto::new(),
                book: ForeignKey::to(b).unwrap(),
                stars,
            };
            review.save(&db).await.unwrap();
        }
        let names = |rows: Vec<(Author, (i64,))>| {
            rows.into_iter()
                .map(|(a, (n,))| (a.name, n))
                .collect::<Vec<_>>()
        };

        // Most books first; a count of nothing is 0 and sorts as 0.
        let by_books = Author::objects()
            .annotate(Book::AUTHOR, (Count::all(),))
            .order_by_annotations(|(books,)| [books.desc(), Author::NAME.asc()])
            .all(&db)
            .await
            .unwrap();
        assert_eq!(
            names(by_books),
            [("Ann".into(), 2), ("Bob".into(), 1), ("Cy".into(), 0)]
        );
        let fewest = Author::objects()
            .annotate(Book::AUTHOR, (Count::all(),))
            .order_by_annotations(|(books,)| [books.asc()])
            .all(&db)
            .await
            .unwrap();
        assert_eq!(fewest[0].0.name, "Cy");

        // HAVING: authors with fewer than two books, zero included.
        let few = Author::objects()
            .annotate(Book::AUTHOR, (Count::all(),))
            .filter_annotations(|(books,)| books.lt(2))
            .order_by_annotations(|(books,)| [books.desc()])
            .all(&db)
            .await
            .unwrap();
        assert_eq!(names(few), [("Bob".into(), 1), ("Cy".into(), 0)]);

        // Sums: books whose reviews add up to more than 5 stars.
        let starred = Book::objects()
            .annotate(Review::BOOK, (Sum::of(Review::STARS), Count::all()))
            .filter_annotations(|(stars, reviews)| stars.gt(5) & reviews.gte(2))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(starred.len(), 1);
        assert_eq!(starred[0].0.title, "Three");
        assert_eq!(starred[0].1, (Some(9), 2));
    })
    .await;
}

#[tokio::test]
async fn subquery_edge_cases_null_columns_slices_and_locks() {
    use estate::orm::{Count, ForUpdate};
    each_backend(async |db| {
        schema(&db).await;
        let ann = author(&db, "Ann").await;
        let bob = author(&db, "Bob").await;
        // Books in key order: no editor, edited by Bob, no editor, by Ann.
        book(&db, "A", &ann, None).await;
        book(&db, "B", &ann, Some(&bob)).await;
        book(&db, "C", &bob, None).await;
        book(&db, "D", &bob, Some(&ann)).await;

        // The slice is taken before NULLs are left out: the first two books
        // have one editor between them.
        let first_two = Book::objects().order_by([Book::ID.asc()]).limit(2);
        let editors = Author::objects()
            .filter(Author::ID.in_query(Book::EDITOR, &first_two))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(editors.len(), 1);
        assert_eq!(editors[0].name, "Bob");

        // `!in_query` on a nullable column keeps the rows where it is NULL.
        let not_bob = Book::objects()
            .exclude(Book::EDITOR.in_query(
                Author::ID,
                &Author::objects().filter(Author::NAME.eq("Bob")),
            ))
            .values(Book::TITLE)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(not_bob, ["A", "C", "D"]);

        // Locking with annotate: PostgreSQL locks only the main rows.
        let locked = db
            .atomic(async |tx| {
                Author::objects()
                    .select_for_update(ForUpdate::Wait)
                    .annotate(Book::AUTHOR, (Count::all(),))
                    .all(tx)
                    .await
            })
            .await
            .unwrap();
        assert_eq!(locked.len(), 2);
        // ... and never outside a transaction, whatever the result shape.
        let err = Author::objects()
            .select_for_update(ForUpdate::Wait)
            .values(Author::NAME)
            .all(&db)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("outside a transaction"), "{err}");

        // A filtered count of 0 ties with "no rows at all".
        let cy = author(&db, "Cy").await;
        let _ = cy;
        let by_d = Author::objects()
            .annotate(Book::AUTHOR, (Count::all().filter(Book::TITLE.eq("D")),))
            .order_by_annotations(|(d,)| [d.asc(), Author::NAME.asc()])
            .all(&db)
            .await
            .unwrap();
        let order: Vec<(&str, i64)> = by_d.iter().map(|(a, (n,))| (a.name.as_str(), *n)).collect();
        assert_eq!(order, [("Ann", 0), ("Cy", 0), ("Bob", 1)]);

        // Updating through a subquery on the same table (MySQL needs the
        // keys selected first).
        let renamed = Book::objects()
            .filter(Book::ID.in_query(Book::ID, &Book::objects().filter(Book::TITLE.lt("C"))))
            .update(&db, [Book::TITLE.set("early")])
            .await
            .unwrap();
        assert_eq!(renamed, 2);
    })
    .await;
}
