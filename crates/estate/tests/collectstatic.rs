//! `collectstatic` and production static serving: hashed names, the
//! manifest, rewritten stylesheet references, gzip and brotli copies, and
//! the headers a browser caches by (immutable, ETag/304, Content-Encoding).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

use estate::cli::CommandOutput;
use estate::http::static_files::StaticSource;
use estate::prelude::*;
use estate::templates::{Template, TemplateSource, context};
use estate::test::TestServer;
use http::StatusCode;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "estate-collectstatic-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, contents: &[u8]) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// A JavaScript file big enough to be compressed.
fn big_script() -> Vec<u8> {
    "console.log('estate');\n".repeat(100).into_bytes()
}

const SITE_CSS: &str = r#"@import "base.css";
body { background: url("../img/logo.png"); }
.inline { background: url(data:image/png;base64,iVBORw0KGgo=); }
.absolute { background: url(/static/img/logo.png?v=1#top); }
.remote { background: url(https://cdn.invalid/x.png); }
.missing { background: url(missing.png); }
/* padding so the stylesheet is worth compressing ............................ */
/* ........................................................................... */
"#;

/// The project's folder and an app's folder (whose `css/site.css` the
/// project overrides).
fn folders() -> (StaticSource, StaticSource) {
    let project = scratch("project");
    write(&project, "css/site.css", SITE_CSS.as_bytes());
    write(
        &project,
        "css/base.css",
        b"h1 { src: url('../fonts/a.woff2?#iefix'); }",
    );
    write(&project, "img/logo.png", b"\x89PNG fake image bytes");
    write(&project, "fonts/a.woff2", b"wOF2 fake font");
    write(&project, "js/app.js", &big_script());
    let app = scratch("app");
    write(&app, "css/site.css", b"body { color: blue }");
    write(&app, "js/extra.js", b"console.log('app')");
    (StaticSource { dir: project }, StaticSource { dir: app })
}

async fn page() -> Template {
    Template::render("page.html", context! {})
}

fn site(root: &Path, debug: bool, (project, app): (StaticSource, StaticSource)) -> App {
    let root = root.display().to_string();
    common::production_app(|s| s.set("static_root", root).set("debug", debug))
        .static_files(project)
        .templates(TemplateSource::dir(format!(
            "{}/tests/templates_fixture/static",
            env!("CARGO_MANIFEST_DIR")
        )))
        .route("/page", get(page))
        .app(AppModule::new("polls").static_files(app))
}

async fn run(app: App, args: &[&str]) -> (estate::Result<()>, String) {
    let out = CommandOutput::capture();
    let mut argv = vec!["site"];
    argv.extend_from_slice(args);
    let result = app.run_with_args(argv, out.clone()).await;
    (result, out.captured())
}

fn manifest(root: &Path) -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(root.join("staticfiles.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["version"], "1");
    serde_json::from_value(value["paths"].clone()).unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn collectstatic_writes_hashed_names_a_manifest_and_compressed_copies() {
    let root = scratch("root");
    let (result, output) = run(site(&root, false, folders()), &["collectstatic"]).await;
    result.unwrap();
    assert!(
        output.contains("6 static files copied to") && output.contains("manifest staticfiles.json"),
        "{output}"
    );
    assert!(
        output.contains("warning: css/site.css: `missing.png` is not a collected static file"),
        "{output}"
    );

    let paths = manifest(&root);
    assert_eq!(
        paths.keys().collect::<Vec<_>>(),
        [
            "css/base.css",
            "css/site.css",
            "fonts/a.woff2",
            "img/logo.png",
            "js/app.js",
            "js/extra.js"
        ]
    );
    for (name, hashed) in &paths {
        let (stem, ext) = name.rsplit_once('.').unwrap();
        let hash = hashed
            .strip_prefix(&format!("{stem}."))
            .and_then(|rest| rest.strip_suffix(&format!(".{ext}")))
            .unwrap_or_else(|| panic!("{name} → {hashed}"));
        assert_eq!(hash.len(), 12, "{hashed}");
        assert!(
            root.join(name).is_file() && root.join(hashed).is_file(),
            "{name}"
        );
    }
    let file_name = |name: &str| paths[name].rsplit('/').next().unwrap().to_owned();

    // The project's stylesheet won, with its references rewritten.
    let css = std::fs::read_to_string(root.join(&paths["css/site.css"])).unwrap();
    assert!(
        css.contains(&format!(r#"@import "{}";"#, file_name("css/base.css"))),
        "{css}"
    );
    assert!(
        css.contains(&format!(r#"url("../img/{}")"#, file_name("img/logo.png"))),
        "{css}"
    );
    assert!(
        css.contains(&format!("url(/static/{}?v=1#top)", paths["img/logo.png"])),
        "{css}"
    );
    assert!(
        css.contains("url(data:image/png;base64,iVBORw0KGgo=)"),
        "{css}"
    );
    assert!(css.contains("url(https://cdn.invalid/x.png)"), "{css}");
    assert!(css.contains("url(missing.png)"), "{css}");
    let base = std::fs::read_to_string(root.join(&paths["css/base.css"])).unwrap();
    assert_eq!(
        base,
        format!(
            "h1 {{ src: url('../fonts/{}?#iefix'); }}",
            file_name("fonts/a.woff2")
        )
    );

    // Compressed copies of text files big enough to gain, for both names.
    for name in ["js/app.js", paths["js/app.js"].as_str()] {
        let gz = std::fs::read(root.join(format!("{name}.gz"))).unwrap();
        let br = std::fs::read(root.join(format!("{name}.br"))).unwrap();
        assert_eq!(gunzip(&gz), big_script());
        assert_eq!(unbrotli(&br), big_script());
        assert!(br.len() < big_script().len() / 5);
    }
    assert!(root.join("css/site.css.br").is_file());
    assert!(!root.join("js/extra.js.gz").exists(), "too small to gain");
    assert!(
        !root.join("img/logo.png.gz").exists(),
        "images are compressed already"
    );

    // Collecting again is stable: same hashes, nothing else.
    let (result, _) = run(site(&root, false, folders()), &["collectstatic"]).await;
    result.unwrap();
    assert_eq!(manifest(&root), paths);

    // A file that shrank below the compression threshold loses its old
    // compressed copies, so they are never served stale.
    let (project, app) = folders();
    write(&project.dir, "js/app.js", b"console.log('new');");
    let (result, _) = run(site(&root, false, (project, app)), &["collectstatic"]).await;
    result.unwrap();
    assert!(!root.join("js/app.js.gz").exists());
    assert!(!root.join("js/app.js.br").exists());
    assert_eq!(
        std::fs::read(root.join("js/app.js")).unwrap(),
        b"console.log('new');"
    );
}

#[tokio::test]
async fn production_serves_collected_files_with_caching_and_compression() {
    let scratch = scratch("serve");
    let root = scratch.join("root");
    let (result, _) = run(site(&root, false, folders()), &["collectstatic"]).await;
    result.unwrap();
    let paths = manifest(&root);
    let server = TestServer::start(site(&root, false, folders())).await;

    let hashed_js = format!("/static/{}", paths["js/app.js"]);
    let plain = server.get(&hashed_js).send().await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.body.as_ref(), big_script().as_slice());
    assert_eq!(
        plain.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    assert_eq!(plain.header("content-encoding"), None);

    let br = server
        .get(&hashed_js)
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await;
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(
        br.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(unbrotli(&br.body), big_script());
    let gz = server
        .get(&hashed_js)
        .header("accept-encoding", "gzip, br;q=0")
        .send()
        .await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&gz.body), big_script());
    assert_ne!(
        gz.header("etag"),
        br.header("etag"),
        "one ETag per encoding"
    );

    let etag = br.header("etag").unwrap().to_owned();
    let revalidated = server
        .get(&hashed_js)
        .header("accept-encoding", "br")
        .header("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert!(revalidated.body.is_empty());

    // The unhashed name may change at the next deploy: a short cache.
    let unhashed = server.get("/static/js/app.js").send().await;
    assert_eq!(unhashed.status, StatusCode::OK);
    assert_eq!(unhashed.header("cache-control"), Some("public, max-age=60"));

    // Templates link the hashed names.
    let html = server.get("/page").send().await.text();
    assert!(
        html.contains(&format!(
            r#"<link href="/static/{}">"#,
            paths["css/site.css"]
        )),
        "{html}"
    );

    // Still nothing outside the root, and no source folder is served.
    std::fs::write(scratch.join("secret.txt"), "top secret").unwrap();
    let outside = root.file_name().unwrap().to_string_lossy().into_owned();
    for path in [
        "/static/../secret.txt".to_owned(),
        "/static/%2e%2e/secret.txt".to_owned(),
        "/static/..%5csecret.txt".to_owned(),
        format!("/static/%2e%2e/{outside}/js/app.js"),
        "/static/js/missing.js".to_owned(),
    ] {
        let response = server.get(&path).send().await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn debug_templates_keep_the_plain_names() {
    let root = scratch("debug");
    let (result, _) = run(site(&root, false, folders()), &["collectstatic"]).await;
    result.unwrap();
    let server = TestServer::start(site(&root, true, folders())).await;
    let html = server.get("/page").send().await.text();
    assert!(
        html.contains(r#"<link href="/static/css/site.css">"#),
        "{html}"
    );
    let css = server.get("/static/css/site.css").send().await;
    assert_eq!(css.header("cache-control"), Some("no-cache"));
    server.shutdown().await;
}

#[tokio::test]
async fn clear_removes_old_files_first() {
    let root = scratch("clear");
    write(&root, "old/stale.css", b"old");
    let (result, output) = run(
        site(&root, false, folders()),
        &["collectstatic", "--clear", "--noinput"],
    )
    .await;
    result.unwrap();
    assert!(output.contains("Cleared"), "{output}");
    assert!(!root.join("old").exists());
    assert!(root.join("staticfiles.json").is_file());
}

#[tokio::test]
async fn collectstatic_refuses_bad_configuration() {
    // No static_root.
    let (project, app) = folders();
    let (result, _) = run(
        common::debug_app().static_files(project.clone()),
        &["collectstatic"],
    )
    .await;
    let message = result.unwrap_err().to_string();
    assert!(message.contains("static_root"), "{message}");
    assert!(message.contains("ESTATE_STATIC_ROOT"), "{message}");

    // A static_root inside a static folder would copy it into itself.
    let inside = project.dir.join("collected");
    let (result, _) = run(
        site(&inside, false, (project.clone(), app)),
        &["collectstatic"],
    )
    .await;
    let message = result.unwrap_err().to_string();
    assert!(message.contains("overlaps the static folder"), "{message}");
    assert!(!inside.exists(), "nothing was written");
}

#[tokio::test]
async fn deploy_checks_report_uncollected_static_files() {
    let (project, app) = folders();
    let (result, output) = run(
        common::production_app(|s| s).static_files(project.clone()),
        &["check", "--deploy"],
    )
    .await;
    result.unwrap();
    assert!(output.contains("staticfiles.W001"), "{output}");

    let root = scratch("check");
    let (_, output) = run(
        site(&root, false, (project.clone(), app.clone())),
        &["check", "--deploy"],
    )
    .await;
    assert!(output.contains("staticfiles.W002"), "{output}");
    assert!(output.contains("Run collectstatic"), "{output}");
    run(
        site(&root, false, (project.clone(), app.clone())),
        &["collectstatic"],
    )
    .await
    .0
    .unwrap();
    let (_, output) = run(site(&root, false, (project, app)), &["check", "--deploy"]).await;
    assert!(!output.contains("staticfiles."), "{output}");
}
