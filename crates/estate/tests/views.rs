//! Generic views (`ListView`, `DetailView`, `CreateView`, `UpdateView`,
//! `DeleteView`) on every backend: the pages they render, rows written and
//! deleted, 404s for unknown rows and pages, errors kept on the form, a
//! protected row refused, and the programming mistakes named at startup.

mod common;

use estate::orm::{ForeignKey, create_table};
use estate::prelude::*;
use estate::templates::{TemplateSource, context};
use estate::test::{TestServer, each_backend};
use estate::views::{CreateView, DeleteView, DetailView, ListView, UpdateView};
use serde::Serialize;

#[derive(Model, Debug, Clone, Serialize)]
#[model(table = "notes_author", ordering = "name")]
struct Author {
    id: Auto<i64>,
    #[model(max_length = 50)]
    name: String,
}

#[derive(Model, Debug, Clone, Serialize)]
#[model(table = "notes_note", ordering = "title")]
struct Note {
    id: Auto<i64>,
    #[model(max_length = 50, unique)]
    title: String,
    #[model(max_length = 50, unique)]
    slug: String,
    body: String,
    published: bool,
    #[model(on_delete = Protect)]
    author: ForeignKey<Author>,
}

fn notes_app() -> AppModule {
    AppModule::new("notes")
        .model::<Author>()
        .model::<Note>()
        .templates(TemplateSource::dir(format!(
            "{}/tests/templates_fixture/views",
            env!("CARGO_MANIFEST_DIR")
        )))
        .prefix("/notes")
        .route("/", ListView::<Note>::new().paginate_by(2).name("index"))
        .route(
            "/published/",
            ListView::<Note>::new()
                .queryset(|| Note::objects().filter(Note::PUBLISHED.eq(true)))
                .template("notes/published.html")
                .context_object_name("notes")
                .name("published"),
        )
        .route("/{id}/", DetailView::<Note>::new().name("detail"))
        .route(
            "/by-slug/{slug}/",
            DetailView::<Note>::new()
                .queryset(|| Note::objects().filter(Note::PUBLISHED.eq(true)))
                .lookup_field("slug")
                .name("by_slug"),
        )
        .route(
            "/{id}/with-author/",
            DetailView::<Note>::new()
                .template("notes/with_author.html")
                .context_with(|note: Note, db: estate::db::Db| async move {
                    let author = Author::objects()
                        .get(&*db, Author::ID.eq(*note.author.id()))
                        .await?;
                    let others = Note::objects()
                        .filter(
                            Note::AUTHOR.eq(*note.author.id())
                                & Note::ID.ne(note.id.get().unwrap()),
                        )
                        .all(&*db)
                        .await?;
                    Ok(context! { author, others })
                }),
        )
        .route(
            "/{id}/not-a-map/",
            DetailView::<Note>::new().context_with(|_note: Note, _db: estate::db::Db| async move {
                Ok(estate::templates::ContextValue::from(3))
            }),
        )
        .route("/plain/{id}/", get(plain_title))
        .route(
            "/new/",
            CreateView::<Note>::new()
                .fields(&["title", "slug", "body", "published", "author"])
                .success_url("/notes/{id}/")
                .name("new"),
        )
        .route(
            "/{id}/edit/",
            UpdateView::<Note>::new()
                .fields(&["title", "body"])
                .success_url_with(|note, urls| Ok(urls.reverse("notes:by_slug", (&note.slug,))?))
                .name("edit"),
        )
        .route(
            "/{id}/delete/",
            DeleteView::<Note>::new()
                .success_url("/notes/")
                .name("delete"),
        )
        .route(
            "/authors/{id}/delete/",
            DeleteView::<Author>::new()
                .success_url("/notes/")
                .name("delete_author"),
        )
}

/// A plain handler with Django's shortcut.
async fn plain_title(db: estate::db::Db, Path(id): Path<i64>) -> estate::Result<String> {
    let note = estate::shortcuts::get_object_or_404(&*db, Note::ID.eq(id)).await?;
    Ok(note.title)
}

async fn start(db: &estate::orm::Database) -> (TestServer, i64) {
    create_table(db, Author::META).await.unwrap();
    create_table(db, Note::META).await.unwrap();
    let mut ann = Author {
        id: Auto::new(),
        name: "Ann".into(),
    };
    ann.save(db).await.unwrap();
    let ann = ann.id.get().unwrap();
    for (title, published) in [("Apples", true), ("Bananas", false), ("Cherries", true)] {
        let mut note = Note {
            id: Auto::new(),
            title: title.into(),
            slug: title.to_lowercase(),
            body: format!("All about {title}"),
            published,
            author: ForeignKey::new(ann),
        };
        note.save(db).await.unwrap();
    }
    let app = common::debug_app().database(db.clone()).app(notes_app());
    (TestServer::start(app).await, ann)
}

async fn id_of(db: &estate::orm::Database, title: &str) -> i64 {
    Note::objects()
        .get(db, Note::TITLE.eq(title))
        .await
        .unwrap()
        .id
        .get()
        .unwrap()
}

#[tokio::test]
async fn lists_and_details_render_djangos_templates_and_contexts() {
    each_backend(async |db| {
        let (server, _) = start(&db).await;
        let apples = id_of(&db, "Apples").await;

        let first = server.get("/notes/").send().await;
        assert_eq!(first.status, StatusCode::OK);
        let html = first.text();
        assert!(
            html.contains(&format!("<li><a href=\"/notes/{apples}/\">Apples</a></li>")),
            "{html}"
        );
        assert!(
            html.contains("Bananas") && !html.contains("Cherries"),
            "{html}"
        );
        assert!(html.contains("Page 1 of 2 (2 here)"), "{html}");
        assert!(
            html.contains(r#"<a href="?page=2" rel="next">Next</a>"#),
            "{html}"
        );
        let second = server.get("/notes/?page=2").send().await.text();
        assert!(
            second.contains("Cherries") && !second.contains("Apples"),
            "{second}"
        );
        for bad in ["3", "0", "x"] {
            let page = server.get(&format!("/notes/?page={bad}")).send().await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "page={bad}");
        }

        // Its own queryset, template and context name.
        let published = server.get("/notes/published/").send().await.text();
        assert_eq!(published.trim(), "Apples;Cherries;");

        // One note by key, or by slug within the published ones.
        let detail = server.get(&format!("/notes/{apples}/")).send().await;
        assert_eq!(detail.status, StatusCode::OK);
        assert_eq!(
            detail.text().trim(),
            "<h1>Apples</h1><p>All about Apples</p>"
        );
        let by_slug = server.get("/notes/by-slug/cherries/").send().await;
        assert_eq!(by_slug.status, StatusCode::OK);
        assert!(by_slug.text().contains("<h1>Cherries</h1>"));
        // The shortcut: the row, or a 404 in Django's words.
        let plain = server.get(&format!("/notes/plain/{apples}/")).send().await;
        assert_eq!(plain.text(), "Apples");
        let gone = server.get("/notes/plain/999999/").send().await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        assert!(
            gone.text().contains("No Note matches the given query."),
            "{}",
            gone.text()
        );

        // More context from the object and the database.
        let extra = server
            .get(&format!("/notes/{apples}/with-author/"))
            .send()
            .await;
        assert_eq!(extra.status, StatusCode::OK);
        assert_eq!(extra.text().trim(), "Apples by Ann, who wrote 2 more");
        let wrong = server
            .get(&format!("/notes/{apples}/not-a-map/"))
            .send()
            .await;
        assert_eq!(wrong.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            wrong
                .text()
                .contains("DetailView&lt;Note&gt;::context_with must give a map"),
            "{}",
            wrong.text()
        );
        for missing in [
            "/notes/999999/",
            "/notes/not-a-number/",
            "/notes/by-slug/bananas/",
            "/notes/by-slug/nothing/",
        ] {
            let page = server.get(missing).send().await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{missing}");
            assert!(page.text().contains("No note found"), "{missing}");
        }
    })
    .await;
}

#[tokio::test]
async fn create_update_and_delete_write_rows_then_redirect() {
    each_backend(async |db| {
        let (server, ann) = start(&db).await;

        // Create: the form, errors kept, then a row and a redirect to it.
        let form = server.get("/notes/new/").send().await.text();
        assert!(form.contains("<h1>New note</h1>"), "{form}");
        assert!(
            form.contains(&format!("<option value=\"{ann}\">Ann</option>")),
            "the foreign key lists the authors: {form}"
        );
        let refused = server
            .post("/notes/new/")
            .form(&[
                ("title", "Apples"),
                ("slug", "dates"),
                ("body", "Sweet"),
                ("author", &ann.to_string()),
            ])
            .send()
            .await;
        assert_eq!(refused.status, StatusCode::OK);
        let html = refused.text();
        assert!(
            html.contains("Note with this Title already exists."),
            "{html}"
        );
        assert!(html.contains(r#"value="dates""#), "{html}");
        assert_eq!(Note::objects().count(&db).await.unwrap(), 3);
        let created = server
            .post("/notes/new/")
            .form(&[
                ("title", "Dates"),
                ("slug", "dates"),
                ("body", "Sweet"),
                ("published", "on"),
                ("author", &ann.to_string()),
            ])
            .send()
            .await;
        assert_eq!(created.status, StatusCode::SEE_OTHER);
        let dates = id_of(&db, "Dates").await;
        assert_eq!(
            created.header("location"),
            Some(format!("/notes/{dates}/").as_str())
        );

        // Update: the row's values shown, saved, redirected by slug.
        let edit = server
            .get(&format!("/notes/{dates}/edit/"))
            .send()
            .await
            .text();
        assert!(edit.contains("<h1>Edit Dates</h1>"), "{edit}");
        assert!(edit.contains(r#"value="Dates""#), "{edit}");
        assert!(
            !edit.contains("name=\"slug\""),
            "only the listed fields: {edit}"
        );
        let saved = server
            .post(&format!("/notes/{dates}/edit/"))
            .form(&[("title", "Dried dates"), ("body", "Sweeter")])
            .send()
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER);
        assert_eq!(saved.header("location"), Some("/notes/by-slug/dates/"));
        let note = Note::objects().get(&db, Note::ID.eq(dates)).await.unwrap();
        assert_eq!(
            (note.title.as_str(), note.body.as_str()),
            ("Dried dates", "Sweeter")
        );
        assert_eq!(
            server.get("/notes/999999/edit/").send().await.status,
            StatusCode::NOT_FOUND
        );

        // Delete: a confirmation, then the row is gone.
        let confirm = server.get(&format!("/notes/{dates}/delete/")).send().await;
        assert!(confirm.text().contains("Delete \"Dried dates\"?"));
        assert_eq!(Note::objects().count(&db).await.unwrap(), 4);
        let deleted = server.post(&format!("/notes/{dates}/delete/")).send().await;
        assert_eq!(deleted.status, StatusCode::SEE_OTHER);
        assert_eq!(deleted.header("location"), Some("/notes/"));
        assert_eq!(Note::objects().count(&db).await.unwrap(), 3);
        assert_eq!(
            server
                .post(&format!("/notes/{dates}/delete/"))
                .send()
                .await
                .status,
            StatusCode::NOT_FOUND
        );

        // A protected row stays, and the answer says why.
        let protected = server
            .post(&format!("/notes/authors/{ann}/delete/"))
            .send()
            .await;
        assert_eq!(protected.status, StatusCode::CONFLICT);
        assert!(
            protected.text().contains("cannot be deleted"),
            "{}",
            protected.text()
        );
        assert_eq!(Author::objects().count(&db).await.unwrap(), 1);
    })
    .await;
}

#[test]
#[should_panic(expected = "CreateView<Note> needs .success_url(")]
fn a_form_view_without_success_url_is_refused() {
    let _ = CreateView::<Note>::new().fields(&["title"]).name("new");
}

#[test]
#[should_panic(expected = "UpdateView<Note> needs .fields(&[...]) or .form(")]
fn a_form_view_without_fields_is_refused() {
    let _ = UpdateView::<Note>::new().success_url("/").name("edit");
}

#[test]
#[should_panic(expected = "DetailView<Note>::lookup_field(\"slugg\"): Note has no field `slugg`")]
fn a_lookup_on_an_unknown_field_is_refused() {
    let _ = DetailView::<Note>::new().lookup_field("slugg");
}

#[tokio::test]
async fn a_model_no_app_installs_needs_a_template_name() {
    let app = common::debug_app()
        .database(
            estate::orm::Database::connect("sqlite::memory:")
                .await
                .unwrap(),
        )
        .route("/", ListView::<Note>::new());
    let server = TestServer::start(app).await;
    let page = server.get("/").send().await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        page.text()
            .contains("ListView&lt;Note&gt; has no template: no app installs Note"),
        "{}",
        page.text()
    );
}
