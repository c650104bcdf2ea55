//! Named routes, reverse, nested apps and namespaces, mounted axum routers
//! and tower layers — through real HTTP.

mod common;

use axum::response::Response;
use estate::prelude::*;
use estate::test::TestServer;
use tower::util::MapResponseLayer;

use common::debug_app;

async fn detail(Path(id): Path<i64>) -> String {
    format!("question {id}")
}

async fn links(urls: Urls) -> estate::Result<String> {
    let detail = urls.reverse("polls:detail", (7,))?;
    let vote = urls.reverse_kwargs("polls:results:vote", [("id", 7), ("choice", 2)])?;
    let home = urls.reverse("home", ())?;
    Ok(format!("{home} {detail} {vote}"))
}

fn polls() -> AppModule {
    let results = Routes::new().namespace("results").route(
        "/{id}/vote/{choice}",
        post(|| async { "voted" }).name("vote"),
    );
    AppModule::new("polls")
        .prefix("/polls")
        .route("/", get(|| async { "polls index" }).name("index"))
        .route("/{id}/", get(detail).name("detail"))
        .route("/links", get(links).name("links"))
        .nest("/results", results)
}

#[tokio::test]
async fn named_routes_reverse_inside_handlers_across_namespaces() {
    let app = debug_app()
        .route("/", get(|| async { "home" }).name("home"))
        .app(polls());
    let server = TestServer::start(app).await;

    let response = server.get("/polls/links").send().await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.text(), "/ /polls/7/ /polls/results/7/vote/2");

    // The reversed paths really lead to the routes.
    assert_eq!(server.get("/polls/7/").send().await.text(), "question 7");
    assert_eq!(
        server.post("/polls/results/7/vote/2").send().await.text(),
        "voted"
    );
    assert_eq!(server.get("/polls/").send().await.text(), "polls index");
    server.shutdown().await;
}

#[tokio::test]
async fn reversing_an_unknown_name_is_an_error_naming_the_route() {
    async fn broken(urls: Urls) -> estate::Result<String> {
        Ok(urls.reverse("polls:detial", (1,))?)
    }
    let server = TestServer::start(debug_app().app(polls()).route("/broken", get(broken))).await;
    let urls = server.context().urls();
    let err = urls.reverse("polls:detial", (1,)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "reverse: no route is named `polls:detial`; did you mean `polls:detail`?"
    );
    let err = urls.reverse("polls:detail", ()).unwrap_err();
    assert!(
        err.to_string().contains(
            "route `polls:detail` (/polls/{id}/) takes 1 argument (id), but 0 were given"
        ),
        "{err}"
    );

    // In a handler, the error becomes a 500 whose DEBUG page names the route.
    let response = server.get("/broken").send().await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response.text().contains("no route is named `polls:detial`"),
        "{}",
        response.text()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn duplicate_route_names_and_duplicate_apps_fail_startup() {
    let app = debug_app()
        .route("/a", get(|| async { "" }).name("same"))
        .route("/b", get(|| async { "" }).name("same"));
    let err = common::startup_error(app).await;
    assert!(
        err.contains("two routes are named `same`: /a and /b"),
        "{err}"
    );

    let app = debug_app()
        .app(AppModule::new("polls"))
        .app(AppModule::new("polls"));
    let err = common::startup_error(app).await;
    assert!(err.contains("the app `polls` is installed twice"), "{err}");
}

#[tokio::test]
async fn a_plain_axum_router_mounts_unchanged() {
    let plain = axum::Router::new()
        .route("/ping", axum::routing::get(|| async { "pong" }))
        .route(
            "/echo/{word}",
            axum::routing::get(|Path(w): Path<String>| async move { w }),
        );
    let server = TestServer::start(debug_app().merge(plain.clone()).nest("/legacy", plain)).await;
    assert_eq!(server.get("/ping").send().await.text(), "pong");
    assert_eq!(server.get("/legacy/ping").send().await.text(), "pong");
    let echoed = server.get("/legacy/echo/hi").send().await;
    assert_eq!(echoed.text(), "hi");
    // Mounted routes still get the Estate core: security headers and ids.
    assert_eq!(echoed.header("x-frame-options"), Some("DENY"));
    assert!(echoed.header("x-request-id").is_some());
    server.shutdown().await;
}

fn tag(value: &'static str) -> MapResponseLayer<impl Fn(Response) -> Response + Clone> {
    MapResponseLayer::new(move |mut response: Response| {
        response
            .headers_mut()
            .insert("x-layer", http::HeaderValue::from_static(value));
        response
    })
}

#[tokio::test]
async fn tower_layers_apply_where_they_are_added() {
    let tagged_app = AppModule::new("tagged")
        .prefix("/tagged")
        .route("/", get(|| async { "t" }))
        .layer(tag("app"));
    let server = TestServer::start(
        debug_app()
            .route("/plain", get(|| async { "p" }))
            .route("/single", get(|| async { "s" }).layer(tag("route")))
            .app(tagged_app)
            .layer(MapResponseLayer::new(|mut response: Response| {
                response
                    .headers_mut()
                    .insert("x-everywhere", http::HeaderValue::from_static("yes"));
                response
            })),
    )
    .await;
    let plain = server.get("/plain").send().await;
    assert_eq!(plain.header("x-layer"), None);
    assert_eq!(plain.header("x-everywhere"), Some("yes"));
    assert_eq!(
        server.get("/single").send().await.header("x-layer"),
        Some("route")
    );
    assert_eq!(
        server.get("/tagged/").send().await.header("x-layer"),
        Some("app")
    );
    // App-wide layers wrap the 404 fallback too.
    assert_eq!(
        server.get("/missing").send().await.header("x-everywhere"),
        Some("yes")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn routes_command_lists_method_path_name_and_handler() {
    let out = estate::cli::CommandOutput::capture();
    debug_app()
        .route("/", get(|| async { "home" }).name("home"))
        .app(polls())
        .merge(axum::Router::new().route("/ping", axum::routing::get(|| async { "pong" })))
        .run_with_args(["site", "routes"], out.clone())
        .await
        .unwrap();
    let text = out.captured();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("METHOD"), "{text}");
    let detail = lines
        .iter()
        .find(|l| l.contains("/polls/{id}/"))
        .expect("detail listed");
    assert!(detail.starts_with("GET"), "{detail}");
    assert!(detail.contains("polls:detail"), "{detail}");
    assert!(detail.contains("routing::detail"), "{detail}");
    assert!(
        text.contains("POST    /polls/results/{id}/vote/{choice}  polls:results:vote"),
        "{text}"
    );
    assert!(text.contains("(mounted axum router)"), "{text}");
}
