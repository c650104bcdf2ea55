//! The health probes (`/healthz`, `/readyz`) and the Prometheus metrics
//! endpoint (`/metrics`, off by default).

mod common;

use estate::cli::CommandOutput;
use estate::db::{Database, Db, RawSql, params};
use estate::metrics::{MetricKind, Metrics};
use estate::prelude::*;
use estate::test::{TestServer, each_backend};

use common::{debug_app, debug_app_with, production_app};

#[tokio::test]
async fn every_app_answers_the_probes_without_sessions_or_csrf() {
    let server =
        TestServer::start(production_app(|s| s).route("/", get(|| async { "home" }))).await;
    let live = server.get("/healthz").send().await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(live.text(), "ok");
    assert_eq!(live.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(live.header("cache-control"), Some("no-store"));
    assert_eq!(live.set_cookie("csrftoken"), None);
    // No database configured: ready.
    let ready = server.get("/readyz").send().await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.text(), "ok");
    // HEAD works; other methods do not.
    assert_eq!(
        server.request(Method::HEAD, "/healthz").send().await.status,
        StatusCode::OK
    );
    let post = server.post("/healthz").without_csrf_token().send().await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    // The host check still applies.
    let foreign = server
        .get("/healthz")
        .header("host", "evil.example")
        .send()
        .await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    // Metrics are off by default.
    assert_eq!(
        server.get("/metrics").send().await.status,
        StatusCode::NOT_FOUND
    );
    server.shutdown().await;
}

#[tokio::test]
async fn probes_skip_the_https_redirect_and_their_paths_come_from_settings() {
    let app = production_app(|s| {
        s.set("security.ssl_redirect", true)
            .set("health.liveness_path", "/-/live")
            .set("health.readiness_path", "/-/ready")
    });
    let server = TestServer::start(app).await;
    assert_eq!(server.get("/-/live").send().await.text(), "ok");
    assert_eq!(server.get("/-/ready").send().await.text(), "ok");
    // The old paths are ordinary (redirected) requests now.
    assert_eq!(
        server.get("/healthz").send().await.status,
        StatusCode::MOVED_PERMANENTLY
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_probes_can_be_turned_off_or_replaced_by_a_route() {
    let server = TestServer::start(debug_app().without_health_endpoints()).await;
    assert_eq!(
        server.get("/healthz").send().await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.get("/readyz").send().await.status,
        StatusCode::NOT_FOUND
    );
    server.shutdown().await;

    let app = debug_app().route("/healthz", get(|| async { "mine" }));
    let server = TestServer::start(app).await;
    assert_eq!(server.get("/healthz").send().await.text(), "mine");
    assert_eq!(server.get("/readyz").send().await.text(), "ok");
    server.shutdown().await;
}

#[tokio::test]
async fn the_probes_show_in_the_route_listing() {
    let out = CommandOutput::capture();
    let app = debug_app_with(|s| s.set("metrics.enabled", true)).route("/", get(|| async { "" }));
    app.run_with_args(["site", "routes"], out.clone())
        .await
        .unwrap();
    let listing = out.captured();
    for line in [
        "/healthz",
        "(estate: liveness probe)",
        "/readyz",
        "(estate: readiness probe)",
        "/metrics",
        "(estate: Prometheus metrics)",
    ] {
        assert!(listing.contains(line), "missing {line:?} in:\n{listing}");
    }
}

#[tokio::test]
async fn readiness_asks_the_database_on_every_backend() {
    each_backend(async |db| {
        let server = TestServer::start(debug_app().database(db.clone())).await;
        let ready = server.get("/readyz").send().await;
        assert_eq!(ready.status, StatusCode::OK);
        assert_eq!(ready.text(), "ok");
        // A closed pool cannot answer: 503 with a short reason.
        db.close().await;
        let ready = server.get("/readyz").send().await;
        assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ready.text(), "database unavailable: cannot connect");
        // Liveness does not care.
        assert_eq!(server.get("/healthz").send().await.status, StatusCode::OK);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_handler_whose_database_is_gone_answers_503_in_html_and_json() {
    async fn count(db: Db) -> estate::Result<&'static str> {
        db.fetch_one("SELECT 1", params![]).await?;
        Ok("1")
    }
    each_backend(async |db| {
        let app = production_app(|s| s)
            .database(db.clone())
            .route("/count", get(count));
        let server = TestServer::start(app).await;
        assert_eq!(server.get("/count").send().await.text(), "1");
        db.close().await;
        let page = server
            .get("/count")
            .header("accept", "text/html")
            .send()
            .await;
        assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            page.text().contains("temporarily unavailable"),
            "{}",
            page.text()
        );
        let json = server
            .get("/count")
            .header("accept", "application/json")
            .send()
            .await;
        assert_eq!(json.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json.json()["status"], 503);
        server.shutdown().await;
    })
    .await;
}

fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_method_and_status() {
    let app = production_app(|s| s.set("metrics.enabled", true))
        .route("/", get(|| async { "home" }).post(|| async { "posted" }))
        .app(AppModule::new("tasks").on_startup(|startup| async move {
            let metrics = startup.get::<Metrics>().expect("metrics are on");
            metrics.gauge_fn("estate_tasks_queued", "Tasks waiting to run.", || 3.0);
            metrics.family_fn(
                "estate_tasks",
                "Tasks by state.",
                MetricKind::Gauge,
                |samples| {
                    samples.add(&[("state", "running")], 1.0);
                    samples.add(&[("state", "failed")], 0.0);
                },
            );
            Ok(startup)
        }));
    let server = TestServer::start(app).await;
    for _ in 0..3 {
        assert_eq!(server.get("/").send().await.status, StatusCode::OK);
    }
    assert_eq!(server.post("/").send().await.status, StatusCode::OK);
    assert_eq!(
        server.get("/nowhere").send().await.status,
        StatusCode::NOT_FOUND
    );
    // A made-up method counts as OTHER, never as its own label.
    server
        .request(Method::from_bytes(b"BREW").unwrap(), "/")
        .send()
        .await;

    let scrape = server.get("/metrics").send().await;
    assert_eq!(scrape.status, StatusCode::OK);
    assert_eq!(
        scrape.content_type(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = scrape.text();
    let count = |labels: &str| sample(&text, &format!("estate_http_requests_total{{{labels}}}"));
    assert_eq!(count("method=\"GET\",status=\"200\""), Some(3.0), "{text}");
    assert_eq!(count("method=\"POST\",status=\"200\""), Some(1.0), "{text}");
    assert_eq!(count("method=\"GET\",status=\"404\""), Some(1.0), "{text}");
    assert_eq!(
        count("method=\"OTHER\",status=\"405\""),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains("BREW"), "{text}");
    assert!(!text.contains("/nowhere"), "paths are no labels: {text}");
    assert!(text.contains("# TYPE estate_http_request_duration_seconds histogram"));
    // Six requests before this scrape, all quicker than ten seconds.
    let bucket = |le: &str| {
        sample(
            &text,
            &format!("estate_http_request_duration_seconds_bucket{{le=\"{le}\"}}"),
        )
    };
    assert_eq!(bucket("10"), Some(6.0), "{text}");
    assert_eq!(bucket("+Inf"), Some(6.0), "{text}");
    assert!(bucket("0.005").unwrap() <= bucket("0.1").unwrap());
    assert_eq!(
        sample(&text, "estate_http_request_duration_seconds_count"),
        Some(6.0)
    );
    assert!(sample(&text, "estate_http_request_duration_seconds_sum").unwrap() > 0.0);
    // The scrape itself is in flight.
    assert_eq!(sample(&text, "estate_http_requests_in_flight"), Some(1.0));
    // Metrics the apps added.
    assert_eq!(sample(&text, "estate_tasks_queued"), Some(3.0));
    assert_eq!(sample(&text, "estate_tasks{state=\"running\"}"), Some(1.0));
    assert!(text.contains("# TYPE estate_tasks gauge\n"));

    // The next scrape counts the previous one.
    let text = server.get("/metrics").send().await.text();
    assert_eq!(
        sample(&text, "estate_http_request_duration_seconds_count"),
        Some(7.0),
        "{text}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_show_the_database_pool() {
    each_backend(async |db: Database| {
        let app = debug_app_with(|s| s.set("metrics.enabled", true)).database(db.clone());
        let server = TestServer::start(app).await;
        assert_eq!(server.get("/readyz").send().await.status, StatusCode::OK);
        let text = server.get("/metrics").send().await.text();
        let size = sample(&text, "estate_db_pool_connections").expect("pool size");
        let idle = sample(&text, "estate_db_pool_idle_connections").expect("idle");
        let max = sample(&text, "estate_db_pool_max_connections").expect("max");
        assert!(size >= 1.0 && idle <= size && size <= max, "{text}");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn metrics_can_need_a_token_and_an_allowed_address() {
    let app = production_app(|s| {
        s.set("metrics.enabled", true)
            .set("metrics.path", "/-/metrics")
            .set("metrics.token", "s3cret-scraper-token")
    });
    let server = TestServer::start(app).await;
    let anonymous = server.get("/-/metrics").send().await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
    let wrong = server
        .get("/-/metrics")
        .header("authorization", "Bearer guess")
        .send()
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let scrape = server
        .get("/-/metrics")
        .header("authorization", "Bearer s3cret-scraper-token")
        .send()
        .await;
    assert_eq!(scrape.status, StatusCode::OK);
    assert!(scrape.text().contains("estate_http_requests_total"));
    server.shutdown().await;

    let elsewhere = production_app(|s| {
        s.set("metrics.enabled", true)
            .set("metrics.allowed_ips", vec!["10.0.0.0/8"])
    });
    let server = TestServer::start(elsewhere).await;
    assert_eq!(
        server.get("/metrics").send().await.status,
        StatusCode::FORBIDDEN
    );
    server.shutdown().await;
    let local = production_app(|s| {
        s.set("metrics.enabled", true)
            .set("metrics.allowed_ips", vec!["127.0.0.0/8", "::1"])
    });
    let server = TestServer::start(local).await;
    assert_eq!(server.get("/metrics").send().await.status, StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn check_deploy_warns_about_open_metrics() {
    async fn deploy_check(app: App) -> String {
        let out = CommandOutput::capture();
        app.run_with_args(["site", "check", "--deploy"], out.clone())
            .await
            .unwrap();
        out.captured()
    }
    let open = deploy_check(production_app(|s| s.set("metrics.enabled", true))).await;
    assert!(open.contains("estate.W002"), "{open}");
    let guarded = deploy_check(production_app(|s| {
        s.set("metrics.enabled", true)
            .set("metrics.token", "s3cret-scraper-token")
    }))
    .await;
    assert!(!guarded.contains("estate.W002"), "{guarded}");
}

#[tokio::test]
async fn bad_settings_name_the_key() {
    let err = estate::settings::SettingsLoader::new()
        .set("debug", true)
        .set("metrics.allowed_ips", vec!["localhost"])
        .load()
        .unwrap_err()
        .to_string();
    assert!(err.contains("metrics.allowed_ips"), "{err}");
    let err = estate::settings::SettingsLoader::new()
        .set("debug", true)
        .set("health.readiness_path", "readyz")
        .load()
        .unwrap_err()
        .to_string();
    assert!(err.contains("health.readiness_path"), "{err}");
    let err = estate::settings::SettingsLoader::new()
        .set("debug", true)
        .set("metrics.enabeld", true)
        .load()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("metrics.enabled"),
        "suggests the right key: {err}"
    );
    let settings = estate::settings::SettingsLoader::new()
        .set("debug", true)
        .env([
            ("ESTATE_DATABASE__ACQUIRE_TIMEOUT", "500ms"),
            ("ESTATE_METRICS__ENABLED", "true"),
        ])
        .load()
        .unwrap();
    assert_eq!(
        settings.database.acquire_timeout,
        std::time::Duration::from_millis(500)
    );
    assert!(settings.metrics.enabled);
}
