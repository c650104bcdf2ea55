//! The server: graceful shutdown, grace period, client addresses.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use estate::prelude::*;
use estate::test::TestServer;
use tokio::net::TcpStream;

use common::production_app;

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(600)).await;
    "finished"
}

async fn wait_until_refused(addr: SocketAddr) -> bool {
    for _ in 0..50 {
        if TcpStream::connect(addr).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn graceful_shutdown_lets_the_request_in_flight_finish() {
    let mut server = TestServer::start(production_app(|s| s).route("/slow", get(slow))).await;
    let in_flight = tokio::spawn(server.get("/slow").send());
    tokio::time::sleep(Duration::from_millis(150)).await;

    server.begin_shutdown();
    assert!(
        wait_until_refused(server.addr()).await,
        "no new connections after shutdown begins"
    );

    let response = in_flight.await.unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.text(), "finished");
    server.wait().await;
}

/// With `server.shutdown_delay`, a stopping server first fails its
/// readiness probe while still serving, so a load balancer moves traffic
/// away before the listener closes.
#[tokio::test]
async fn readiness_fails_during_the_shutdown_delay_while_requests_are_served() {
    let mut server = TestServer::start(
        production_app(|s| s.set("server.shutdown_delay", "800ms"))
            .route("/", get(|| async { "home" })),
    )
    .await;
    assert_eq!(server.get("/readyz").send().await.text(), "ok");

    let started = Instant::now();
    server.begin_shutdown();
    let mut ready = server.get("/readyz").send().await;
    for _ in 0..20 {
        if ready.status != StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        ready = server.get("/readyz").send().await;
    }
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.text(), "shutting down");
    // Still serving, on new connections, until the delay is over.
    let page = server.get("/").send().await;
    assert_eq!((page.status, page.text()), (StatusCode::OK, "home".into()));
    assert_eq!(server.get("/healthz").send().await.status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(800));

    assert!(
        wait_until_refused(server.addr()).await,
        "no new connections after the delay"
    );
    assert!(started.elapsed() >= Duration::from_millis(800));
    server.wait().await;
}

#[tokio::test]
async fn requests_past_the_grace_period_are_cut_off() {
    let mut server = TestServer::start(
        production_app(|s| s.set("server.shutdown_grace", "200ms")).route(
            "/stuck",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "never"
            }),
        ),
    )
    .await;
    let addr = server.addr();
    let stuck = tokio::spawn(async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let request = http::Request::get("/stuck")
            .header("host", "127.0.0.1")
            .body(String::new())
            .unwrap();
        sender.send_request(request).await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    server.begin_shutdown();
    server.wait().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    let outcome = tokio::time::timeout(Duration::from_secs(5), stuck)
        .await
        .unwrap()
        .unwrap();
    assert!(outcome.is_err(), "the stuck request gets no response");
}

#[tokio::test]
async fn handlers_see_the_client_address() {
    let server = TestServer::start(production_app(|s| s).route(
        "/ip",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
    ))
    .await;
    assert_eq!(server.get("/ip").send().await.text(), "127.0.0.1");
    server.shutdown().await;
}

#[tokio::test]
async fn production_refuses_to_serve_with_no_allowed_hosts() {
    let app = estate::App::with_settings(
        estate::settings::SettingsLoader::new()
            .set("secret_key", common::SECRET)
            .load()
            .unwrap(),
    );
    let err = TestServer::try_start(app).await.err().expect("refused");
    assert!(
        err.to_string()
            .contains("allowed_hosts is empty and DEBUG is off"),
        "{err}"
    );
}
