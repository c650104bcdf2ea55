//! Pagination on every backend: one COUNT and one page query, Django's
//! rules for bad page numbers, and the built-in links template.

use estate::orm::create_table;
use estate::pagination::{InvalidPage, Paginator};
use estate::prelude::*;
use estate::templates::{TemplateSource, Templates, context};
use estate::test::{assert_num_queries, each_backend};
use serde::Serialize;

#[derive(Model, Debug, Clone, Serialize)]
#[model(ordering = "id")]
struct Entry {
    id: Auto<i64>,
    n: i32,
}

#[tokio::test]
async fn pages_of_a_queryset() {
    each_backend(async |db| {
        create_table(&db, Entry::META).await.unwrap();
        Entry::objects()
            .bulk_create(
                &db,
                (1..=25).map(|n| Entry { id: Auto::new(), n }).collect(),
            )
            .await
            .unwrap();
        let paginator = Paginator::new(Entry::objects(), 10);
        let page = assert_num_queries(2, paginator.page(&db, Some("3")))
            .await
            .unwrap();
        let numbers: Vec<i32> = page.items.iter().map(|e| e.n).collect();
        assert_eq!(numbers, [21, 22, 23, 24, 25]);
        assert_eq!((page.number, page.num_pages, page.count), (3, 3, 25));
        assert_eq!((page.start_index, page.end_index), (21, 25));
        assert!(page.has_previous && !page.has_next);
        assert_eq!(page.previous_page_number, Some(2));
        let first = paginator.page(&db, None).await.unwrap();
        assert_eq!(first.items.len(), 10);
        assert_eq!(paginator.page(&db, Some("last")).await.unwrap().number, 3);

        // Bad numbers: 404 with a reason, or the nearest page.
        for (given, reason) in [
            ("abc", "not an integer"),
            ("0", "less than 1"),
            ("4", "contains no results"),
        ] {
            let err = paginator.page(&db, Some(given)).await.unwrap_err();
            assert_eq!(err.status(), http::StatusCode::NOT_FOUND);
            assert!(err.to_string().contains(reason), "{given}: {err}");
        }
        let lenient = Paginator::new(Entry::objects(), 10).on_invalid(InvalidPage::Nearest);
        assert_eq!(lenient.page(&db, Some("99")).await.unwrap().number, 3);
        assert_eq!(lenient.page(&db, Some("x")).await.unwrap().number, 1);

        // No rows: one empty first page.
        let empty = Paginator::new(Entry::objects().filter(Entry::N.gt(100)), 10)
            .page(&db, None)
            .await
            .unwrap();
        assert_eq!(
            (empty.number, empty.num_pages, empty.items.len()),
            (1, 1, 0)
        );

        // The built-in links template.
        let templates = Templates::from_sources(vec![TemplateSource::builtin()], false);
        let page = paginator.page(&db, Some("2")).await.unwrap();
        let html = templates
            .render_to_string("estate/pagination.html", context! { page })
            .unwrap();
        assert!(
            html.contains(r#"<a href="?page=1" rel="prev">Previous</a>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<span aria-current="page">2</span>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<a href="?page=3" rel="next">Next</a>"#),
            "{html}"
        );
    })
    .await;
}
