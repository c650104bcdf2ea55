//! CSRF protection, on by default: what passes, what gets 403 and why, the
//! token in templates and its cookie, exemptions and trusted origins.

mod common;

use estate::prelude::*;
use estate::templates::{Template, TemplateSource, context};
use estate::test::{TestResponse, TestServer};
use http::StatusCode;
use serde::Deserialize;

use common::{debug_app, production_app};

const SECRET: &str = "abcdefghijabcdefghijabcdefghij12";

#[derive(Deserialize)]
struct Note {
    title: String,
}

async fn save(Form(note): Form<Note>) -> String {
    format!("saved {}", note.title)
}

async fn form_page() -> Template {
    Template::render("form.html", context! {})
}

async fn webhook() -> &'static str {
    "hooked"
}

fn routes(app: App) -> App {
    app.templates(TemplateSource::dir(format!(
        "{}/tests/templates_fixture/csrf",
        env!("CARGO_MANIFEST_DIR")
    )))
    .route("/notes", post(save))
    .route("/form", get(form_page))
    .route("/hook", post(webhook).csrf_exempt())
}

fn reason(response: &TestResponse) -> String {
    response.text()
}

fn form_post(server: &TestServer, body: &str) -> estate::test::TestRequest {
    server
        .post("/notes")
        .without_csrf_token()
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
}

#[tokio::test]
async fn unsafe_requests_need_the_cookie_and_a_matching_token() {
    let server = TestServer::start(routes(debug_app())).await;

    let missing = form_post(&server, "title=a")
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(reason(&missing).contains("CSRF verification failed. Request aborted."));
    assert!(
        reason(&missing).contains("CSRF cookie not set."),
        "{}",
        missing.text()
    );

    let no_token = form_post(&server, "title=a")
        .header("cookie", &format!("csrftoken={SECRET}"))
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    assert!(
        reason(&no_token).contains("CSRF token missing."),
        "{}",
        no_token.text()
    );

    let wrong = form_post(
        &server,
        "title=a&csrfmiddlewaretoken=zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
    )
    .header("cookie", &format!("csrftoken={SECRET}"))
    .header("accept", "text/html")
    .send()
    .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(
        reason(&wrong).contains("CSRF token incorrect."),
        "{}",
        wrong.text()
    );

    // The right token in the form: the handler still gets the whole body.
    let ok = form_post(
        &server,
        &format!("title=hello&csrfmiddlewaretoken={SECRET}"),
    )
    .header("cookie", &format!("csrftoken={SECRET}"))
    .send()
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    assert_eq!(ok.text(), "saved hello");

    // Or in the header (for JavaScript).
    let header = server
        .post("/notes")
        .without_csrf_token()
        .header("cookie", &format!("csrftoken={SECRET}"))
        .header("x-csrftoken", SECRET)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("title=js")
        .send()
        .await;
    assert_eq!(header.text(), "saved js");

    // Multipart forms carry it as a field too.
    let body = format!(
        "--XB\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\n{SECRET}\r\n--XB--\r\n"
    );
    let multipart = server
        .post("/hook-free")
        .without_csrf_token()
        .header("cookie", &format!("csrftoken={SECRET}"))
        .header("content-type", "multipart/form-data; boundary=XB")
        .body(body)
        .send()
        .await;
    assert_eq!(
        multipart.status,
        StatusCode::NOT_FOUND,
        "checked, then routed"
    );

    // An exempt route takes anything.
    let hook = server.post("/hook").without_csrf_token().send().await;
    assert_eq!(hook.text(), "hooked");
    server.shutdown().await;
}

#[tokio::test]
async fn cross_site_origins_are_refused_unless_trusted() {
    let server = TestServer::start(routes(debug_app())).await;
    let cross = server
        .post("/notes")
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .body("title=a")
        .send()
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(
        reason(&cross).contains(
            "Origin checking failed - https://evil.example does not match any trusted origins."
        ),
        "{}",
        cross.text()
    );
    let same = server
        .post("/notes")
        .header("origin", &format!("http://{}", server.addr()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("title=same")
        .send()
        .await;
    assert_eq!(same.text(), "saved same");
    server.shutdown().await;

    let trusting = common::debug_app_with(|s| {
        s.set(
            "security.csrf_trusted_origins",
            vec!["https://*.example.com"],
        )
    });
    let server = TestServer::start(routes(trusting)).await;
    let trusted = server
        .post("/notes")
        .header("origin", "https://admin.example.com")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("title=trusted")
        .send()
        .await;
    assert_eq!(trusted.text(), "saved trusted");
    server.shutdown().await;
}

#[tokio::test]
async fn a_rendered_form_sets_the_cookie_and_its_token_posts() {
    let server = TestServer::start(routes(debug_app())).await;
    let page = server.get("/form").send().await;
    let cookie = page
        .header("set-cookie")
        .expect("the page sets the CSRF cookie")
        .to_owned();
    assert!(cookie.starts_with("csrftoken="), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    let secret = cookie["csrftoken=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text();
    let token = html
        .split("name=\"csrfmiddlewaretoken\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a hidden token field")
        .to_owned();
    assert_eq!(token.len(), 64, "masked");
    assert!(
        !token.contains(&secret),
        "the secret itself never appears in the page"
    );
    let saved = form_post(
        &server,
        &format!("title=round+trip&csrfmiddlewaretoken={token}"),
    )
    .header("cookie", &format!("csrftoken={secret}"))
    .send()
    .await;
    assert_eq!(saved.text(), "saved round trip");
    // With the cookie already there, pages do not set it again.
    let again = server
        .get("/form")
        .header("cookie", &format!("csrftoken={secret}"))
        .send()
        .await;
    assert!(again.header("set-cookie").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn https_needs_a_same_site_referer_and_production_hides_the_reason() {
    let app = production_app(|s| {
        s.set(
            "security.secure_proxy_ssl_header",
            "X-Forwarded-Proto: https",
        )
    });
    let server = TestServer::start(routes(app)).await;
    let no_referer = server
        .post("/notes")
        .header("host", "127.0.0.1")
        .header("x-forwarded-proto", "https")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .body("title=a")
        .send()
        .await;
    assert_eq!(no_referer.status, StatusCode::FORBIDDEN);
    assert!(no_referer.text().contains("CSRF verification failed"));
    assert!(
        !no_referer.text().contains("Referer"),
        "no reason outside DEBUG"
    );
    let with_referer = server
        .post("/notes")
        .header("host", "127.0.0.1")
        .header("x-forwarded-proto", "https")
        .header("referer", "https://127.0.0.1/form")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("title=ok")
        .send()
        .await;
    assert_eq!(with_referer.text(), "saved ok");
    server.shutdown().await;

    let open = routes(debug_app()).without_csrf_protection();
    let server = TestServer::start(open).await;
    let anything = form_post(&server, "title=unprotected").send().await;
    assert_eq!(anything.text(), "saved unprotected");
    server.shutdown().await;
}

#[tokio::test]
async fn check_deploy_reports_csrf_turned_off() {
    let out = estate::cli::CommandOutput::capture();
    let app = production_app(|s| s).without_csrf_protection();
    let _ = app
        .run_with_args(["site", "check", "--deploy"], out.clone())
        .await;
    assert!(
        out.captured().contains("security.W003"),
        "{}",
        out.captured()
    );
}

async fn plain_page() -> Template {
    Template::render("plain.html", context! { value => "<i>" })
}

async fn j2_page() -> Template {
    Template::render("page.html.j2", context! { value => "<i>" })
}

async fn admin_hook() -> &'static str {
    "admin"
}

async fn upload(body: axum::body::Bytes) -> String {
    format!("{} bytes", body.len())
}

#[tokio::test]
async fn review_findings_stay_fixed() {
    let app = routes(debug_app())
        .route("/plain", get(plain_page))
        .route("/j2", get(j2_page))
        .route("/hooks/{name}", post(webhook).csrf_exempt())
        .route("/hooks/admin", post(admin_hook))
        .route("/upload", post(upload).max_body_size(10_000_000));
    let server = TestServer::start(app).await;

    // An exempt pattern does not exempt a more specific route.
    let admin = server
        .post("/hooks/admin")
        .without_csrf_token()
        .send()
        .await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN);
    let hook = server
        .post("/hooks/github")
        .without_csrf_token()
        .send()
        .await;
    assert_eq!(hook.text(), "hooked");

    // Only pages that show a token set the cookie, and they vary on it.
    let plain = server.get("/plain").send().await;
    assert!(plain.header("set-cookie").is_none());
    assert!(plain.text().contains("&lt;i&gt;"));
    let form = server.get("/form").send().await;
    assert!(form.header("set-cookie").is_some());
    assert_eq!(form.header("vary"), Some("Cookie"));

    // Escaping does not depend on a `.html` ending.
    assert!(server.get("/j2").send().await.text().contains("&lt;i&gt;"));

    // A big form upload to a route with a raised limit is read whole.
    let mut body = format!(
        "--XB\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\n{SECRET}\r\n--XB\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n"
    );
    body.push_str(&"x".repeat(3_000_000));
    body.push_str("\r\n--XB--\r\n");
    let size = body.len();
    let uploaded = server
        .post("/upload")
        .without_csrf_token()
        .header("cookie", &format!("csrftoken={SECRET}"))
        .header("content-type", "multipart/form-data; boundary=XB")
        .body(body)
        .send()
        .await;
    assert_eq!(uploaded.text(), format!("{size} bytes"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_slow_form_body_is_cut_off_by_the_request_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = routes(common::debug_app_with(|s| {
        s.set("limits.request_timeout", 1)
    }));
    let server = TestServer::start(app).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "POST /notes HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: csrftoken={SECRET}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ntitle=slo"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = vec![0u8; 512];
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read(&mut response),
    )
    .await
    .expect("an answer before the client gives up")
    .unwrap();
    let response = String::from_utf8_lossy(&response[..read]);
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    server.shutdown().await;
}
