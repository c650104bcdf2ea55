//! Templates: where they are found (the project overrides apps), escaping,
//! `url()`, the request context, errors that point at the line, reloading,
//! embedded copies, and Django's filters.

mod common;

use estate::prelude::*;
use estate::templates::{Template, TemplateSource, Templates, context};
use estate::test::TestServer;

use common::debug_app;

fn fixture(dir: &str) -> TemplateSource {
    TemplateSource::dir(format!(
        "{}/tests/templates_fixture/{dir}",
        env!("CARGO_MANIFEST_DIR")
    ))
}

async fn index(templates: Templates) -> estate::Result<Html<String>> {
    templates.render("polls/index.html", context! { name => "Ann" })
}

async fn detail(Path(id): Path<u32>) -> Template {
    Template::render(
        "polls/detail.html",
        context! { id, text => "<script>x</script>" },
    )
}

async fn created() -> (StatusCode, Template) {
    (
        StatusCode::CREATED,
        Template::render("polls/note.txt", context! { text => "<b>" }),
    )
}

async fn results() -> Template {
    Template::render("polls/results.html", context! { votes => vec![3, 5] })
}

async fn results_fragment() -> Template {
    Template::partial(
        "polls/results.html",
        "results",
        context! { votes => vec![4, 6] },
    )
}

async fn broken() -> Template {
    Template::render("polls/broken.html", context! {})
}

async fn filters(templates: Templates) -> estate::Result<String> {
    templates.render_to_string("polls/filters.html", context! {})
}

fn app() -> App {
    debug_app().templates(fixture("project")).app(
        AppModule::new("polls")
            .prefix("/polls")
            .templates(fixture("app"))
            .route("/", get(index).name("index"))
            .route("/{id}/", get(detail).name("detail"))
            .route("/created", get(created))
            .route("/broken", get(broken))
            .route("/results", get(results))
            .route("/results/fragment", get(results_fragment))
            .route("/filters", get(filters)),
    )
}

#[tokio::test]
async fn the_project_overrides_apps_and_values_are_escaped() {
    let server = TestServer::start(app()).await;
    let page = server.get("/polls/").send().await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text().contains("<main>project index for Ann</main>"),
        "{}",
        page.text()
    );

    let page = server.get("/polls/7/").send().await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    assert!(html.contains("<title>Poll 7</title>"), "{html}");
    assert!(
        html.contains("<p>&lt;script&gt;x&lt;/script&gt;</p>"),
        "{html}"
    );
    assert!(
        html.contains("<p><script>x</script></p>"),
        "|safe is explicit: {html}"
    );
    assert!(
        html.contains(r#"<a href="/polls/7/">self</a> at /polls/7/ debug=True"#),
        "{html}"
    );

    // A text template is not HTML-escaped; the handler's status stays.
    let note = server.get("/polls/created").send().await;
    assert_eq!(note.status, StatusCode::CREATED);
    assert_eq!(note.text(), "plain <b>");
    server.shutdown().await;
}

#[tokio::test]
async fn a_template_error_names_the_file_and_line_in_debug() {
    let server = TestServer::start(app()).await;
    let page = server
        .get("/polls/broken")
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    let html = page.text();
    assert!(
        html.contains("in template `polls/broken.html`, line 2"),
        "{html}"
    );
    assert!(html.contains("{{ 1 + }}"), "the offending source: {html}");
    server.shutdown().await;
}

#[tokio::test]
async fn django_filters() {
    let server = TestServer::start(app()).await;
    let out = server.get("/polls/filters").send().await.text();
    let parts: Vec<&str> = out.trim_end().split('|').collect();
    assert_eq!(
        parts,
        [
            "none",
            "nil",
            "Hello w…",
            "one two …",
            "s",
            "ies",
            "a&lt;b<br>c",
            r#"see <a href="https://example.com/x" rel="nofollow">https://example.com/x</a>."#,
            "1.5 KB",
            "oui",
            "3.14",
            "3",
            "hello-world",
            r#"<script id="data" type="application/json">{"a":"\u003C/script\u003E"}</script>"#,
            "Thu 26 Nov 2026, 14:05",
            "2:05 p.m.",
            "6 days, 2 hours",
        ]
    );
    server.shutdown().await;
}

#[test]
fn debug_reloads_from_disk_and_release_keeps_what_it_loaded() {
    let dir = std::env::temp_dir().join(format!("estate-templates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("page.html");
    std::fs::write(&file, "first").unwrap();
    let reloading = Templates::from_sources(vec![TemplateSource::dir(&dir)], true);
    let cached = Templates::from_sources(vec![TemplateSource::dir(&dir)], false);
    assert_eq!(
        reloading.render_to_string("page.html", ()).unwrap(),
        "first"
    );
    assert_eq!(cached.render_to_string("page.html", ()).unwrap(), "first");
    std::fs::write(&file, "second").unwrap();
    assert_eq!(
        reloading.render_to_string("page.html", ()).unwrap(),
        "second"
    );
    assert_eq!(cached.render_to_string("page.html", ()).unwrap(), "first");
    // Names cannot leave the folder.
    let err = reloading.render_to_string("../page.html", ()).unwrap_err();
    assert!(
        err.to_string().contains("not found") || format!("{err:?}").contains("not found"),
        "{err:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn embedded_templates_need_no_folder() {
    static EMBEDDED: &[(&str, &str)] = &[("hello.html", "Hello {{ who }}!")];
    let source = TemplateSource {
        dir: "/nonexistent/templates".into(),
        embedded: EMBEDDED,
    };
    let templates = Templates::from_sources(vec![source], false);
    assert_eq!(
        templates
            .render_to_string("hello.html", context! { who => "<you>" })
            .unwrap(),
        "Hello &lt;you&gt;!"
    );
    // The macro embeds a real folder (empty in debug builds, like this one).
    let source = estate::templates!("tests/templates_fixture/project");
    assert!(source.dir.ends_with("tests/templates_fixture/project"));
    let embedded: &[(&str, &str)] = estate::macros::embed_dir!("tests/templates_fixture/project");
    let names: Vec<&str> = embedded.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["base.html", "polls/index.html"]);
}

#[tokio::test]
async fn a_partial_renders_only_its_block() {
    let server = TestServer::start(app()).await;
    let page = server.get("/polls/results").send().await.text();
    assert!(page.contains("<title>Site</title>"), "{page}");
    assert!(
        page.contains("<ul id=\"results\"><li>3</li><li>5</li></ul>"),
        "{page}"
    );
    let fragment = server.get("/polls/results/fragment").send().await;
    assert_eq!(fragment.status, StatusCode::OK);
    assert_eq!(fragment.text(), "<li>4</li><li>6</li>");

    let templates = Templates::from_sources(vec![fixture("project"), fixture("app")], false);
    let err = templates
        .render_block("polls/results.html", "missing", context! {})
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("has no block `missing`"),
        "{err:?}"
    );
    server.shutdown().await;
}

async fn processed_page() -> Template {
    Template::render(
        "page.html",
        context! { title => "from the handler", text => "<i>" },
    )
}

/// A layer adding a value on the way out, as auth will add `user`.
async fn add_user(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    estate::templates::ExtraContext::add(&mut response, "user", "ann");
    estate::templates::ExtraContext::add(&mut response, "title", "from the layer");
    response
}

#[tokio::test]
async fn context_processors_and_extra_context_reach_every_template() {
    let app = debug_app()
        .templates(fixture("processors"))
        .context_processor(|head| {
            context! {
                site => "Polls",
                agent => head.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or(""),
                section => "project",
                title => "from a processor",
            }
        })
        .app(
            AppModule::new("polls")
                .context_processor(|_| context! { section => "polls app" })
                .route("/page", get(processed_page)),
        )
        .layer(axum::middleware::from_fn(add_user));
    let server = TestServer::start(app).await;
    let page = server
        .get("/page")
        .header("user-agent", "<tester>")
        .send()
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert_eq!(
        page.text().trim(),
        "Polls|&lt;tester&gt;|polls app|ann|from the handler|/page|&lt;i&gt;",
        "later processors win over earlier ones, the handler over all"
    );
    server.shutdown().await;
}

async fn which() -> Template {
    Template::render("which.html", context! {})
}

#[tokio::test]
async fn templates_from_disk_prefers_the_folder_over_the_embedded_copy() {
    static EMBEDDED: &[(&str, &str)] = &[("which.html", "embedded")];
    let source = || TemplateSource {
        dir: format!(
            "{}/tests/templates_fixture/disk",
            env!("CARGO_MANIFEST_DIR")
        )
        .into(),
        embedded: EMBEDDED,
    };
    for (from_disk, expected) in [(false, "embedded"), (true, "from disk")] {
        let app = common::production_app(|s| s.set("templates_from_disk", from_disk))
            .templates(source())
            .route("/which", get(which));
        let server = TestServer::start(app).await;
        assert_eq!(server.get("/which").send().await.text().trim(), expected);
        server.shutdown().await;
    }
}

async fn long_page() -> Template {
    Template::render("long.html", context! { rows => 300 })
}

#[tokio::test]
async fn template_pages_are_compressed_like_other_responses() {
    let app = common::production_app(|s| s)
        .templates(fixture("disk"))
        .route("/long", get(long_page));
    let server = TestServer::start(app).await;
    let plain = server.get("/long").send().await;
    assert_eq!(plain.header("content-encoding"), None);
    let page = plain.text();
    assert!(page.len() > 2000, "{}", page.len());
    let gzipped = server
        .get("/long")
        .header("accept-encoding", "gzip, br")
        .send()
        .await;
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert_eq!(
        gzipped.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let mut unzipped = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(gzipped.body.as_ref()),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, page);
    server.shutdown().await;
}

#[test]
fn numbers_print_as_they_are_in_html_and_text() {
    static EMBEDDED: &[(&str, &str)] = &[
        (
            "numbers.html",
            "{{ zero }} {{ negative }} {{ big }} {{ huge }} {{ half }} {{ whole }} {{ yes }}",
        ),
        ("numbers.txt", "{{ negative }} {{ huge }} {{ whole }}"),
    ];
    let source = TemplateSource {
        dir: "/nonexistent/templates".into(),
        embedded: EMBEDDED,
    };
    let templates = Templates::from_sources(vec![source], false);
    let numbers = context! {
        zero => 0,
        negative => -42,
        big => i64::MAX,
        huge => u64::MAX,
        half => 2.5,
        whole => 3.0,
        yes => true,
    };
    assert_eq!(
        templates
            .render_to_string("numbers.html", numbers.clone())
            .unwrap(),
        "0 -42 9223372036854775807 18446744073709551615 2.5 3.0 True"
    );
    assert_eq!(
        templates.render_to_string("numbers.txt", numbers).unwrap(),
        "-42 18446744073709551615 3.0"
    );
}
