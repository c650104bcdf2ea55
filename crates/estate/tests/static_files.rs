//! Static files in development: the project's folder before the apps',
//! revalidation with ETags, `static()` in templates, and paths that try to
//! leave the folder.

mod common;

use estate::prelude::*;
use estate::templates::{Template, TemplateSource, context};
use estate::test::TestServer;
use http::StatusCode;

fn folder(name: &str) -> estate::http::static_files::StaticSource {
    estate::http::static_files::StaticSource {
        dir: format!("{}/tests/static_fixture/{name}", env!("CARGO_MANIFEST_DIR")).into(),
    }
}

async fn page() -> Template {
    Template::render("page.html", context! {})
}

fn app(debug: bool) -> App {
    let app = if debug {
        common::debug_app()
    } else {
        common::production_app(|s| s)
    };
    app.static_files(folder("project"))
        .templates(TemplateSource::dir(format!(
            "{}/tests/templates_fixture/static",
            env!("CARGO_MANIFEST_DIR")
        )))
        .route("/page", get(page))
        .app(AppModule::new("polls").static_files(folder("app")))
}

#[tokio::test]
async fn debug_serves_the_folders_the_project_first() {
    let server = TestServer::start(app(true)).await;
    let css = server.get("/static/css/site.css").send().await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.text(), "body{color:red}\n", "the project's file wins");
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(css.header("cache-control"), Some("no-cache"));
    let etag = css.header("etag").unwrap().to_owned();
    let again = server
        .get("/static/css/site.css")
        .header("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.text().is_empty());
    let js = server.get("/static/js/app.js").send().await;
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        server.get("/static/missing.css").send().await.status,
        StatusCode::NOT_FOUND
    );

    // Nothing outside the folders, however the path is written.
    for path in [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/css/%2e%2e/%2e%2e/secret.txt",
        "/static/..%5csecret.txt",
        "/static/%2F..%2Fsecret.txt",
        "/static/css/..%2F..%2Fsecret.txt",
    ] {
        let response = server.get(path).send().await;
        assert_ne!(response.status, StatusCode::OK, "{path}");
        assert!(!response.text().contains("top secret"), "{path}");
    }

    // static() in templates, with the path encoded.
    let html = server.get("/page").send().await.text();
    assert!(
        html.contains(r#"<link href="/static/css/site.css">"#),
        "{html}"
    );
    assert!(html.contains(r#"src="/static/js/my%20app.js""#), "{html}");
    server.shutdown().await;
}

#[tokio::test]
async fn production_does_not_serve_the_folders() {
    let server = TestServer::start(app(false)).await;
    let css = server.get("/static/css/site.css").send().await;
    assert_eq!(css.status, StatusCode::NOT_FOUND);
    server.shutdown().await;
}
