//! Multipart bodies and uploads: files in forms (small ones in memory,
//! large ones streamed to a temporary file), every limit answered with a
//! 400/413 that says which, media storage with safe unique names, and the
//! media URL served in DEBUG only.

mod common;

use estate::forms::{Form, FormData, MediaStorage, UploadedFile};
use estate::prelude::*;
use estate::test::TestServer;

/// Mixed case, as browsers send it: boundaries are case-sensitive.
const BOUNDARY: &str = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

/// A multipart body: (field name, file name for files, contents).
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, contents) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file_name {
            Some(file_name) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                     Content-Type: application/pdf\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(contents);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

#[derive(Form)]
struct DocumentForm {
    #[form(max_length = 50)]
    title: String,
    #[form(validator = "pdf_only")]
    document: UploadedFile,
    cover: Option<UploadedFile>,
}

fn pdf_only(file: &UploadedFile) -> Result<(), String> {
    if file.file_name.to_lowercase().ends_with(".pdf") {
        Ok(())
    } else {
        Err(format!("“{}” is not a PDF.", file.file_name))
    }
}

async fn upload(media: MediaStorage, data: FormData) -> estate::Result<Response> {
    let mut form = DocumentForm::bind(data);
    let Some(document) = form.validate() else {
        let errors = form.errors().to_string();
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, errors).into_response());
    };
    let temp_path = document
        .document
        .temp_path()
        .map(|p| p.display().to_string());
    #[cfg(unix)]
    let temp_mode = document.document.temp_path().map(|p| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    });
    #[cfg(not(unix))]
    let temp_mode: Option<u32> = None;
    let stored = media.save("documents", &document.document).await?;
    Ok(Json(serde_json::json!({
        "title": document.title,
        "stored": stored,
        "url": media.url(&stored),
        "size": document.document.size,
        "temp_path": temp_path,
        "temp_mode": temp_mode,
        "cover": document.cover.map(|c| c.file_name),
    }))
    .into_response())
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "estate-uploads-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn site(media_root: &std::path::Path, debug: bool) -> App {
    let root = media_root.display().to_string();
    let settings = |s: estate::settings::SettingsLoader| {
        s.set("media_root", root)
            .set("debug", debug)
            .set("limits.upload_memory_size", 1024)
            .set("limits.max_file_size", 100_000)
            .set("limits.max_files", 3)
            .set("limits.max_fields", 10)
            .set("limits.max_form_memory_size", 2000)
    };
    common::production_app(settings).route("/upload", post(upload).max_body_size(300_000))
}

async fn send(server: &TestServer, body: Vec<u8>) -> estate::test::TestResponse {
    server
        .post("/upload")
        .header("content-type", &content_type())
        .body(body)
        .send()
        .await
}

#[tokio::test]
async fn files_are_stored_under_safe_unique_names_and_served_in_debug() {
    let media = scratch("media");
    let server = TestServer::start(site(&media, true)).await;
    let small = b"%PDF-1.4 small".to_vec();
    let response = send(
        &server,
        multipart(&[
            ("title", None, b"Report"),
            ("document", Some("C:\\fakepath\\my report.pdf"), &small),
            ("cover", Some(""), b""),
        ]),
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(json["title"], "Report");
    assert_eq!(json["stored"], "documents/my_report.pdf");
    assert_eq!(json["url"], "/media/documents/my_report.pdf");
    assert_eq!(
        json["temp_path"],
        serde_json::Value::Null,
        "small files stay in memory"
    );
    assert_eq!(
        json["cover"],
        serde_json::Value::Null,
        "an empty file input is no file"
    );
    assert_eq!(
        std::fs::read(media.join("documents/my_report.pdf")).unwrap(),
        small
    );

    // The same name again: a random suffix, the first file untouched.
    let large: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let response = send(
        &server,
        multipart(&[
            ("title", None, b"Again"),
            ("document", Some("my report.pdf"), &large),
            ("cover", Some("../../etc/cover.pdf"), b"cover"),
        ]),
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    let stored = json["stored"].as_str().unwrap();
    assert!(
        stored.starts_with("documents/my_report_") && stored.ends_with(".pdf"),
        "{stored}"
    );
    let temp_path = json["temp_path"]
        .as_str()
        .expect("past upload_memory_size: a temporary file");
    assert!(
        !std::path::Path::new(temp_path).exists(),
        "the temporary file is removed after the request"
    );
    assert_eq!(json["cover"], "cover.pdf", "the browser's path is dropped");
    assert_eq!(std::fs::read(media.join(stored)).unwrap(), large);
    assert_eq!(
        std::fs::read(media.join("documents/my_report.pdf")).unwrap(),
        small
    );
    // DEBUG serves the media folder, and nothing outside it.
    let served = server.get(json["url"].as_str().unwrap()).send().await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body.as_ref(), large.as_slice());
    assert_eq!(served.header("content-type"), Some("application/pdf"));
    for path in [
        "/media/../secret",
        "/media/%2e%2e/secret",
        "/media/documents/missing.pdf",
    ] {
        assert_eq!(
            server.get(path).send().await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    server.shutdown().await;

    // Production leaves media to the web server.
    let server = TestServer::start(site(&media, false)).await;
    assert_eq!(
        server
            .get("/media/documents/my_report.pdf")
            .send()
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    server.shutdown().await;
}

#[tokio::test]
async fn every_limit_gets_a_clear_error() {
    let media = scratch("limits");
    let server = TestServer::start(site(&media, false)).await;
    let pdf = b"%PDF".as_slice();

    // One file over limits.max_file_size.
    let huge = vec![b'x'; 150_000];
    let response = send(
        &server,
        multipart(&[("title", None, b"T"), ("document", Some("big.pdf"), &huge)]),
    )
    .await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        response
            .text()
            .contains("The file “big.pdf” is larger than 97.7 KiB (limits.max_file_size)"),
        "{}",
        response.text()
    );

    // A body over the route's limit.
    let too_big = vec![b'x'; 400_000];
    let response = send(&server, multipart(&[("document", Some("a.pdf"), &too_big)])).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);

    // Too many files, too many fields, too much field data.
    let files: Vec<(&str, Option<&str>, &[u8])> =
        (0..4).map(|_| ("document", Some("a.pdf"), pdf)).collect();
    let response = send(&server, multipart(&files)).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .contains("more than 3 files (limits.max_files)"),
        "{}",
        response.text()
    );
    let fields: Vec<(&str, Option<&str>, &[u8])> =
        (0..11).map(|_| ("title", None, b"t".as_slice())).collect();
    let response = send(&server, multipart(&fields)).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .contains("more than 10 fields (limits.max_fields)"),
        "{}",
        response.text()
    );
    let long = vec![b'a'; 2500];
    let response = send(&server, multipart(&[("title", None, &long)])).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        response.text().contains("limits.max_form_memory_size"),
        "{}",
        response.text()
    );

    // A urlencoded body with too many fields.
    let many: Vec<(&str, &str)> = (0..11).map(|_| ("title", "t")).collect();
    let response = server.post("/upload").form(&many).send().await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);

    // Malformed multipart, and a multipart type without a boundary.
    let response = server
        .post("/upload")
        .header("content-type", &content_type())
        .body("--not-the-boundary\r\n")
        .send()
        .await;
    assert_eq!(
        response.status,
        StatusCode::BAD_REQUEST,
        "{}",
        response.text()
    );
    assert!(
        response.text().contains("multipart form body is malformed"),
        "{}",
        response.text()
    );
    let response = server
        .post("/upload")
        .header("content-type", "multipart/form-data")
        .body("x")
        .send()
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(
        response.text().contains("no boundary"),
        "{}",
        response.text()
    );

    // Form validation: a validator, a missing file, the enctype forgotten.
    let response = send(
        &server,
        multipart(&[
            ("title", None, b"T"),
            ("document", Some("notes.txt"), b"text"),
        ]),
    )
    .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .contains("document: “notes.txt” is not a PDF."),
        "{}",
        response.text()
    );
    let response = send(&server, multipart(&[("title", None, b"T")])).await;
    assert!(
        response
            .text()
            .contains("document: This field is required."),
        "{}",
        response.text()
    );
    let response = send(
        &server,
        multipart(&[("title", None, b"T"), ("document", Some("empty.pdf"), b"")]),
    )
    .await;
    assert!(
        response
            .text()
            .contains("document: The submitted file is empty."),
        "{}",
        response.text()
    );
    let response = server
        .post("/upload")
        .form(&[("title", "T"), ("document", "report.pdf")])
        .send()
        .await;
    assert!(
        response
            .text()
            .contains("No file was submitted. Check the encoding type on the form."),
        "{}",
        response.text()
    );
    assert_eq!(
        std::fs::read_dir(&media).unwrap().count(),
        0,
        "nothing stored"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn media_storage_without_media_root_says_which_setting() {
    let app = common::debug_app().route("/upload", post(upload));
    let server = TestServer::start(app).await;
    let response = send(
        &server,
        multipart(&[("title", None, b"T"), ("document", Some("a.pdf"), b"%PDF")]),
    )
    .await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response.text().contains("media_root"),
        "{}",
        response.text()
    );
    server.shutdown().await;
}

#[test]
fn file_fields_render_with_accept_and_the_form_says_multipart() {
    use estate::templates::{TemplateSource, Templates, context};
    let templates = Templates::from_sources(
        vec![
            TemplateSource::dir(format!(
                "{}/tests/templates_fixture/forms",
                env!("CARGO_MANIFEST_DIR")
            )),
            TemplateSource::builtin(),
        ],
        false,
    );
    let mut form = DocumentForm::unbound();
    if let Some(field) = form.field_mut("document") {
        *field = field.clone().allowed_extensions(&["pdf", ".PNG"]);
    }
    let html = templates
        .render_to_string("upload.html", context! { form })
        .unwrap();
    assert!(
        html.contains(r#"<form enctype="multipart/form-data">"#),
        "{html}"
    );
    assert!(
        html.contains(
            r#"<input type="file" name="document" id="id_document" required accept=".pdf,.png">"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="file" name="cover" id="id_cover">"#),
        "{html}"
    );
}

#[tokio::test]
async fn a_form_token_before_the_file_passes_csrf_without_a_header() {
    // An HTML form posts its token as the first field, no X-CSRFToken
    // header: the core reads up to the token and hands the rest on.
    let media = scratch("csrf");
    let server = TestServer::start(site(&media, false)).await;
    let secret = "abcdefghijklmnopqrstuvwxyz012345";
    let big: Vec<u8> = (0..60_000u32).map(|i| (i % 200) as u8).collect();
    let body = multipart(&[
        ("csrfmiddlewaretoken", None, secret.as_bytes()),
        ("title", None, b"T"),
        ("document", Some("big.pdf"), &big),
    ]);
    let response = server
        .post("/upload")
        .without_csrf_token()
        .header("cookie", &format!("csrftoken={secret}"))
        .header("content-type", &content_type())
        .body(body)
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        json["size"], 60_000,
        "the whole file arrived after the token"
    );

    // A wrong token is refused.
    let response = server
        .post("/upload")
        .without_csrf_token()
        .header("cookie", &format!("csrftoken={secret}"))
        .header("content-type", &content_type())
        .body(multipart(&[
            (
                "csrfmiddlewaretoken",
                None,
                b"zbcdefghijklmnopqrstuvwxyz012345",
            ),
            ("document", Some("a.pdf"), b"%PDF"),
        ]))
        .send()
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    server.shutdown().await;
}

#[test]
fn media_and_static_must_stay_apart() {
    let load = |pairs: &[(&str, &str)]| {
        let mut loader = common::production();
        for (key, value) in pairs {
            loader = loader.set(key, *value);
        }
        loader.load().map(drop).map_err(|e| e.to_string())
    };
    let err = load(&[("media_url", "/static/media/")]).unwrap_err();
    assert!(err.contains("media_url"), "{err}");
    let err = load(&[
        ("static_root", "/srv/site"),
        ("media_root", "/srv/site/media"),
    ])
    .unwrap_err();
    assert!(
        err.contains("media_root") && err.contains("collectstatic --clear"),
        "{err}"
    );
    load(&[("static_root", "/srv/static"), ("media_root", "/srv/media")]).unwrap();
}

#[tokio::test]
async fn get_forms_are_held_to_the_field_limit() {
    async fn search(data: FormData) -> String {
        data.get("q").unwrap_or("").to_owned()
    }
    let app =
        common::production_app(|s| s.set("limits.max_fields", 3)).route("/search", get(search));
    let server = TestServer::start(app).await;
    assert_eq!(server.get("/search?q=a").send().await.text(), "a");
    let response = server.get("/search?q=1&q=2&q=3&q=4").send().await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[derive(Model, Debug, Clone)]
#[model(table = "uploads_doc")]
struct Doc {
    id: Auto<i64>,
    #[model(max_length = 40)]
    title: String,
    attachment: estate::orm::MediaFile,
    cover: Option<estate::orm::MediaFile>,
}

#[tokio::test]
async fn a_model_form_stores_uploads_in_the_media_storage() {
    use estate::forms::ModelForm;
    use estate::test::each_backend;
    each_backend(async |db| {
        estate::orm::create_table(&db, Doc::META).await.unwrap();
        let media_root = scratch("modelform");
        let media = MediaStorage::new(&media_root, "/media/");
        let templates = estate::templates::Templates::from_sources(
            vec![
                estate::templates::TemplateSource::dir(format!(
                    "{}/tests/templates_fixture/forms",
                    env!("CARGO_MANIFEST_DIR")
                )),
                estate::templates::TemplateSource::builtin(),
            ],
            false,
        );

        // The file is required on create.
        let mut form = ModelForm::<Doc>::new()
            .media(media.clone())
            .bind(FormData::new().with("title", "Report"));
        assert!(form.save(&db).await.unwrap().is_none());
        assert_eq!(form.errors().get("attachment"), ["This field is required."]);

        let pdf = UploadedFile::from_bytes("annual report.pdf", "application/pdf", "%PDF-1");
        let mut form = ModelForm::<Doc>::new()
            .media(media.clone())
            .upload_to("attachment", "reports")
            .bind(FormData::new().with("title", "Report").with_file("attachment", pdf));
        let doc = form.save(&db).await.unwrap().expect("saved");
        assert_eq!(doc.attachment.name(), "reports/annual_report.pdf");
        assert_eq!(doc.cover, None);
        assert_eq!(
            std::fs::read(media_root.join("reports/annual_report.pdf")).unwrap(),
            b"%PDF-1"
        );
        let row = Doc::objects().get(&db, Doc::ID.eq(doc.id.get().unwrap())).await.unwrap();
        assert_eq!(row.attachment.name(), "reports/annual_report.pdf");

        // Editing: the current file is shown and kept when none is sent.
        let form = ModelForm::<Doc>::new().media(media.clone()).instance(row.clone());
        let html = templates
            .render_to_string("plain.html", estate::templates::context! { form })
            .unwrap();
        assert!(
            html.contains(r#"<span class="current-file">Currently: reports/annual_report.pdf</span> <input type="file" name="attachment" id="id_attachment">"#),
            "{html}"
        );
        let mut edit = ModelForm::<Doc>::new()
            .media(media.clone())
            .instance(row.clone())
            .bind(FormData::new().with("title", "Report 2"));
        let kept = edit.save(&db).await.unwrap().expect("saved");
        assert_eq!(kept.attachment.name(), "reports/annual_report.pdf");
        assert_eq!(kept.title, "Report 2");

        // A new file replaces it; a cover is stored in the table's folder.
        let mut edit = ModelForm::<Doc>::new()
            .media(media.clone())
            .instance(kept)
            .bind(
                FormData::new()
                    .with("title", "Report 3")
                    .with_file("attachment", UploadedFile::from_bytes("v2.pdf", "application/pdf", "%PDF-2"))
                    .with_file("cover", UploadedFile::from_bytes("cover.png", "image/png", "PNG")),
            );
        let replaced = edit.save(&db).await.unwrap().expect("saved");
        assert_eq!(replaced.attachment.name(), "uploads_doc/v2.pdf");
        assert_eq!(replaced.cover.as_ref().map(|c| c.name()), Some("uploads_doc/cover.png"));

        // Without a storage, a sent file is a clear programming error.
        let mut no_media = ModelForm::<Doc>::new().bind(
            FormData::new()
                .with("title", "T")
                .with_file("attachment", UploadedFile::from_bytes("a.pdf", "application/pdf", "x")),
        );
        let err = no_media.save(&db).await.unwrap_err().to_string();
        assert!(err.contains(".media(storage)"), "{err}");
    })
    .await;
}

/// The admin stores uploads in the site's media storage; without
/// `media_root` a system check says what to set.
#[tokio::test]
async fn the_admin_stores_uploads_in_the_media_storage() {
    use estate::test::each_backend;
    each_backend(async |db| {
        let media_root = scratch("admin");
        let root_text = media_root.display().to_string();
        let site = |db: &estate::db::Database, media: Option<String>| {
            common::debug_app_with(move |s| match media {
                Some(root) => s.set("media_root", root),
                None => s,
            })
            .database(db.clone())
            .app(estate::sessions::app())
            .app(estate::auth::app())
            .app(AppModule::new("uploads").model::<Doc>())
            .app(
                estate::admin::site()
                    .register(
                        estate::admin::ModelAdmin::<Doc>::new()
                            .list_display(&["title", "attachment"]),
                    )
                    .app(),
            )
        };
        let error = common::startup_error(site(&db, None)).await;
        assert!(
            error.contains("admin.E001") && error.contains("Doc has file fields"),
            "{error}"
        );
        site(&db, Some(root_text.clone()))
            .run_with_args(["site", "migrate"], estate::cli::CommandOutput::capture())
            .await
            .unwrap();
        estate::orm::create_table(&db, Doc::META).await.unwrap();
        let server = TestServer::start(site(&db, Some(root_text.clone()))).await;
        let auth = server
            .context()
            .get::<estate::auth::Auth>()
            .unwrap()
            .clone();
        estate::auth::create_superuser(&auth, &db, "root", "", Some("correct horse battery"))
            .await
            .unwrap();
        let browser = server.client();
        browser
            .post("/admin/login/")
            .form(&[("username", "root"), ("password", "correct horse battery")])
            .send()
            .await;
        let form = browser.get("/admin/uploads/doc/add/").send().await.text();
        assert!(form.contains(r#"enctype="multipart/form-data""#), "{form}");
        let added = browser
            .post("/admin/uploads/doc/add/")
            .header("content-type", &content_type())
            .body(multipart(&[
                ("title", None, b"Report"),
                ("attachment", Some("report.pdf"), b"%PDF-1"),
            ]))
            .send()
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
        let doc = Doc::objects().first(&db).await.unwrap().unwrap();
        assert_eq!(
            std::fs::read(media_root.join(doc.attachment.name())).unwrap(),
            b"%PDF-1"
        );
        server.shutdown().await;
    })
    .await;
}
