//! Content Security Policy: the header from settings, a fresh nonce per
//! request that matches the one in the page, report-only, and a handler's
//! own policy winning.

mod common;

use estate::http::csp::CspNonce;
use estate::prelude::*;
use estate::templates::{Template, TemplateSource, context};
use estate::test::TestServer;

async fn page() -> Template {
    Template::render("page.html", context! {})
}

async fn optional() -> Template {
    Template::render("optional.html", context! {})
}

async fn own_policy() -> impl IntoResponse {
    ([("content-security-policy", "default-src 'none'")], "mine")
}

async fn nonce(nonce: CspNonce) -> String {
    nonce.to_string()
}

fn app(
    extra: impl FnOnce(estate::settings::SettingsLoader) -> estate::settings::SettingsLoader,
) -> App {
    common::debug_app_with(extra)
        .templates(TemplateSource::dir(format!(
            "{}/tests/templates_fixture/csp",
            env!("CARGO_MANIFEST_DIR")
        )))
        .route("/page", get(page))
        .route("/own", get(own_policy))
        .route("/optional", get(optional))
        .route("/nonce", get(nonce))
}

#[tokio::test]
async fn the_policy_carries_the_nonce_the_page_uses() {
    let policy = "default-src 'self'; script-src 'self' 'nonce-{nonce}'";
    let server = TestServer::start(app(|s| s.set("security.csp", policy))).await;
    let first = server.get("/page").send().await;
    let header = first.header("content-security-policy").unwrap().to_owned();
    let nonce = header
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap()
        .to_owned();
    assert_eq!(nonce.len(), 24, "128 bits, base64");
    // `{% if csp_nonce %}` sees it (the pattern the admin's script tag uses).
    let optional = server.get("/optional").send().await;
    let fresh = optional.header("content-security-policy").unwrap();
    let fresh = fresh
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert_eq!(
        optional.text(),
        format!("<script src=\"/app.js\" nonce=\"{fresh}\"></script>|{fresh}|")
    );
    assert!(
        first
            .text()
            .contains(&format!("<script nonce=\"{nonce}\">")),
        "{}",
        first.text()
    );
    let second = server.get("/page").send().await;
    assert!(
        !second
            .header("content-security-policy")
            .unwrap()
            .contains(&nonce),
        "fresh per request"
    );
    // Handlers get it too, and their own policy wins.
    let handler = server.get("/nonce").send().await;
    assert!(
        handler
            .header("content-security-policy")
            .unwrap()
            .contains(&handler.text())
    );
    assert_eq!(
        server
            .get("/own")
            .send()
            .await
            .header("content-security-policy"),
        Some("default-src 'none'")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn report_only_and_off_by_default() {
    let server = TestServer::start(app(|s| {
        s.set("security.csp_report_only", "default-src 'self'")
    }))
    .await;
    let page = server.get("/own").send().await;
    assert_eq!(
        page.header("content-security-policy-report-only"),
        Some("default-src 'self'")
    );
    server.shutdown().await;
    let server = TestServer::start(app(|s| s)).await;
    let page = server.get("/own").send().await;
    assert!(page.header("content-security-policy-report-only").is_none());
    // Without a nonce, `{% if csp_nonce %}` is false and it writes nothing.
    let optional = server.get("/optional").send().await;
    assert_eq!(
        optional.text(),
        "<script src=\"/app.js\"></script>||",
        "{}",
        optional.text()
    );
    // Without a nonce in the policy, csp_nonce() is a clear error.
    let page = server
        .get("/page")
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(page.status, http::StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        page.text().contains("csp_nonce() needs a nonce"),
        "{}",
        page.text()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn error_pages_work_under_a_strict_policy() {
    let policy = "default-src 'self'; style-src 'self' 'nonce-{nonce}'";
    let server = TestServer::start(app(|s| s.set("security.csp", policy))).await;
    let missing = server.get("/missing").send().await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let header = missing
        .header("content-security-policy")
        .unwrap()
        .to_owned();
    let nonce = header
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap()
        .to_owned();
    assert!(
        missing
            .text()
            .contains(&format!("<style nonce=\"{nonce}\">")),
        "the built-in page's inline style carries the nonce: {}",
        missing.text()
    );
    server.shutdown().await;
}
