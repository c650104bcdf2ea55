//! Error pages: 404/405/500 in DEBUG and production, JSON by Accept, panics,
//! timeouts, and user overrides.

mod common;

use std::time::Duration;

use axum::body::Body;
use estate::prelude::*;
use estate::test::TestServer;

use common::{debug_app, production_app};

#[derive(Debug)]
struct DatabaseDown;
impl std::fmt::Display for DatabaseDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection to db-internal.lan:5432 refused")
    }
}
impl std::error::Error for DatabaseDown {}

async fn failing() -> estate::Result<&'static str> {
    Err(DatabaseDown)?
}

async fn missing_question(Path(id): Path<i64>) -> estate::Result<&'static str> {
    Err(Error::not_found(format!("No question {id}.")))
}

/// Parameters the route cannot fill (it names `pk`, not `id`).
#[derive(serde::Deserialize)]
struct WrongParams {
    #[allow(dead_code)]
    id: i64,
}

async fn wrong_params(Path(_): Path<WrongParams>) -> &'static str {
    "never"
}

async fn panics() -> &'static str {
    panic!("secret panic detail")
}

fn routes(app: App) -> App {
    app.route("/", get(|| async { "home" }).name("home"))
        .route("/fail", get(failing))
        .route("/panic", get(panics))
        .route("/questions/{id}", get(missing_question).name("question"))
        .route("/form", post(|| async { "posted" }))
        .route("/wrong/{pk}", get(wrong_params))
}

#[tokio::test]
async fn a_panic_becomes_a_500_and_the_server_keeps_serving() {
    let server = TestServer::start(routes(production_app(|s| s))).await;
    for _ in 0..3 {
        let response = server.get("/panic").send().await;
        assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.text().contains("Internal Server Error"));
        assert!(
            !response.text().contains("secret panic detail"),
            "no leak outside DEBUG"
        );
        assert_eq!(server.get("/").send().await.text(), "home");
    }
    server.shutdown().await;

    let server = TestServer::start(routes(debug_app())).await;
    let response = server.get("/panic").send().await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response.text().contains("secret panic detail"),
        "DEBUG shows the panic"
    );
    server.shutdown().await;
}

/// A tower service whose synchronous `call` panics (not its future).
#[derive(Clone)]
struct PanicsOnCall;

impl tower::Service<axum::extract::Request> for PanicsOnCall {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Response, std::convert::Infallible>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: axum::extract::Request) -> Self::Future {
        panic!("layer exploded")
    }
}

#[tokio::test]
async fn a_panic_in_a_services_call_is_a_500_too() {
    let plain = axum::Router::new().route_service("/boom", PanicsOnCall);
    let server = TestServer::start(routes(production_app(|s| s)).merge(plain)).await;
    let response = server.get("/boom").send().await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!response.text().contains("layer exploded"));
    assert_eq!(server.get("/").send().await.text(), "home");
    server.shutdown().await;
}

#[tokio::test]
async fn production_error_pages_leak_nothing() {
    let server = TestServer::start(routes(production_app(|s| s))).await;

    let not_found = server.get("/nowhere").send().await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    assert_eq!(not_found.content_type(), Some("text/html; charset=utf-8"));
    assert!(not_found.text().contains("Not Found"));
    assert!(
        !not_found.text().contains("/questions/{id}"),
        "routes are not listed"
    );

    let failed = server.get("/fail").send().await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(failed.text().contains("Internal Server Error"));
    assert!(!failed.text().contains("db-internal"), "{}", failed.text());

    // A client error's own message is meant for the client.
    let missing = server.get("/questions/7").send().await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text().contains("No question 7."));

    // A parameter that cannot be the handler's type: no such page, as
    // with Django's `<int:id>`.
    let not_a_number = server.get("/questions/abc").send().await;
    assert_eq!(not_a_number.status, StatusCode::NOT_FOUND);
    assert!(
        not_a_number
            .text()
            .contains("Cannot parse `abc` to a `i64`"),
        "{}",
        not_a_number.text()
    );

    // The route's own mistake is not the client's: 500, whatever the value.
    let mistake = server.get("/wrong/7").send().await;
    assert_eq!(mistake.status, StatusCode::INTERNAL_SERVER_ERROR);

    let wrong_method = server.get("/form").send().await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.header("allow"), Some("POST"));
    assert!(wrong_method.text().contains("Method Not Allowed"));
    server.shutdown().await;
}

#[tokio::test]
async fn debug_error_pages_explain() {
    let server = TestServer::start(routes(debug_app())).await;

    let not_found = server.get("/nowhere").send().await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    let page = not_found.text();
    assert!(page.contains("Estate tried these routes"), "{page}");
    assert!(page.contains("/questions/{id}"), "{page}");
    assert!(page.contains("question"), "{page}");
    assert!(
        page.contains("The current path, <code>/nowhere</code>, didn't match"),
        "{page}"
    );
    // A handler's 404: the URL matched, and the page says so.
    let page = server.get("/questions/7").send().await.text();
    assert!(
        page.contains(
            "The current path, <code>/questions/7</code>, matched the route \
             <code>/questions/{id}</code> (<code>question</code>); its handler answered 404: \
             No question 7."
        ),
        "{page}"
    );

    let failed = server
        .get("/fail")
        .header("cookie", "sessionid=supersecret")
        .send()
        .await;
    let page = failed.text();
    assert!(
        page.contains("connection to db-internal.lan:5432 refused"),
        "{page}"
    );
    assert!(page.contains("Request headers"), "{page}");
    assert!(
        !page.contains("supersecret"),
        "cookies are masked even in DEBUG"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn json_clients_get_problem_documents() {
    let server = TestServer::start(routes(production_app(|s| s))).await;
    let json = |path: &'static str| server.get(path).header("accept", "application/json").send();

    let not_found = json("/nowhere").await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    assert_eq!(not_found.content_type(), Some("application/problem+json"));
    let body = not_found.json();
    assert_eq!(body["status"], 404);
    assert_eq!(body["title"], "Not Found");
    assert_eq!(body["instance"], "/nowhere");
    assert!(body.get("routes").is_none());
    assert!(body["request_id"].is_string());

    let failed = json("/fail").await.json();
    assert_eq!(failed["status"], 500);
    assert_eq!(failed["detail"], "Internal Server Error");
    assert!(failed.get("chain").is_none());

    let missing = json("/questions/3").await.json();
    assert_eq!(missing["detail"], "No question 3.");

    let wrong_method = server
        .request(http::Method::DELETE, "/form")
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.json()["status"], 405);
    server.shutdown().await;

    let server = TestServer::start(routes(debug_app())).await;
    let failed = server
        .get("/fail")
        .header("accept", "application/json")
        .send()
        .await
        .json();
    assert_eq!(
        failed["chain"][0],
        "connection to db-internal.lan:5432 refused"
    );
    let not_found = server
        .get("/nowhere")
        .header("accept", "application/json")
        .send()
        .await
        .json();
    assert!(
        not_found["routes"]
            .as_array()
            .unwrap()
            .contains(&"/questions/{id}".into())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn error_pages_can_be_replaced_per_status() {
    let app = routes(production_app(|s| s)).error_page(StatusCode::NOT_FOUND, |ctx| {
        let mut response = Response::new(Body::from(format!("Lost at {}", ctx.path)));
        *response.status_mut() = ctx.status;
        response
    });
    let server = TestServer::start(app).await;
    let response = server.get("/somewhere").send().await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(response.text(), "Lost at /somewhere");
    // Security headers still apply to custom pages.
    assert_eq!(response.header("x-frame-options"), Some("DENY"));
    server.shutdown().await;
}

#[tokio::test]
async fn slow_handlers_time_out_with_503() {
    let app = production_app(|s| s.set("limits.request_timeout", "200ms"))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        )
        .route("/fast", get(|| async { "fast" }));
    let server = TestServer::start(app).await;
    let response = server.get("/slow").send().await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.text().contains("took too long"));
    assert_eq!(server.get("/fast").send().await.text(), "fast");
    server.shutdown().await;
}

#[tokio::test]
async fn the_request_timeout_counts_from_the_start_not_from_the_handlers_first_wait() {
    // The core files its timer only when a handler first waits (most never
    // do); the deadline must still be the request's start plus the limit.
    let app = production_app(|s| s.set("limits.request_timeout", "300ms")).route(
        "/busy-then-wait",
        get(|| async {
            // 200 ms of work without yielding, then 200 ms of waiting: 400
            // ms in all, past the limit, though the wait alone is within it.
            std::thread::sleep(Duration::from_millis(200));
            tokio::time::sleep(Duration::from_millis(200)).await;
            "late"
        }),
    );
    let server = TestServer::start(app).await;
    let response = server.get("/busy-then-wait").send().await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.text().contains("took too long"));
    server.shutdown().await;
}
