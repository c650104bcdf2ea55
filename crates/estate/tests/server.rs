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

/// Sends `GET path` on a raw keep-alive connection and returns the body of
/// the answer (a short text answer, read until it is complete).
async fn get_on(stream: &mut TcpStream, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&response).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .expect("a content-length")
                .parse()
                .unwrap();
            if body.len() >= length {
                return body.to_owned();
            }
        }
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .expect("an answer within 5s")
            .unwrap();
        assert_ne!(read, 0, "closed early: {text}");
        response.extend_from_slice(&chunk[..read]);
    }
}

#[tokio::test]
async fn each_request_sees_the_address_of_its_own_connection() {
    let server = TestServer::start(production_app(|s| s).route(
        "/peer",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
    ))
    .await;
    let mut first = TcpStream::connect(server.addr()).await.unwrap();
    let mut second = TcpStream::connect(server.addr()).await.unwrap();
    for _ in 0..3 {
        // Interleaved, several on each keep-alive connection.
        assert_eq!(
            get_on(&mut first, "/peer").await,
            first.local_addr().unwrap().to_string()
        );
        assert_eq!(
            get_on(&mut second, "/peer").await,
            second.local_addr().unwrap().to_string()
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_handler_can_take_over_the_connection_with_an_upgrade() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // What a WebSocket handler does: answer 101, then talk raw bytes on the
    // connection hyper hands over. Here the protocol echoes one line back.
    let upgrade = |mut request: axum::extract::Request| async move {
        let Some(pending) = request
            .extensions_mut()
            .remove::<hyper::upgrade::OnUpgrade>()
        else {
            return (StatusCode::BAD_REQUEST, "no upgrade").into_response();
        };
        tokio::spawn(async move {
            let upgraded = pending.await.expect("the connection is handed over");
            let mut io = hyper_util::rt::TokioIo::new(upgraded);
            let mut line = [0u8; 5];
            io.read_exact(&mut line).await.unwrap();
            io.write_all(&line).await.unwrap();
        });
        axum::response::Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "upgrade")
            .header("upgrade", "echo")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let server = TestServer::start(production_app(|s| s).route("/echo", get(upgrade))).await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(
            b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: upgrade\r\n\
              Upgrade: echo\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream.write_all(b"hello").await.unwrap();
    let mut echoed = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echoed))
        .await
        .expect("an echo within 5s")
        .unwrap();
    assert_eq!(&echoed, b"hello");
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
