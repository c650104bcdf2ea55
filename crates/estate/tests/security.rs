//! The secure-by-default core, through real HTTP: security headers, allowed
//! hosts, body limits, slow clients, HTTPS settings, compression, request ids.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use estate::prelude::*;
use estate::test::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{debug_app, production_app};

async fn echo_len(body: axum::body::Bytes) -> String {
    format!("{} bytes", body.len())
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let server = TestServer::start(
        production_app(|s| s)
            .route("/", get(|| async { "ok" }))
            .route(
                "/framed",
                get(|| async { ([("x-frame-options", "SAMEORIGIN")], "may be framed") }),
            ),
    )
    .await;
    for path in ["/", "/missing"] {
        let response = server.get(path).send().await;
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(response.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(
            response.header("referrer-policy"),
            Some("same-origin"),
            "{path}"
        );
        assert_eq!(
            response.header("cross-origin-opener-policy"),
            Some("same-origin"),
            "{path}"
        );
        assert_eq!(
            response.header("strict-transport-security"),
            None,
            "HSTS is opt-in"
        );
    }
    // A handler's own choice wins (like Django's xframe_options_sameorigin).
    let framed = server.get("/framed").send().await;
    assert_eq!(framed.header("x-frame-options"), Some("SAMEORIGIN"));
    server.shutdown().await;
}

#[tokio::test]
async fn security_headers_can_be_turned_off_only_by_name() {
    let server = TestServer::start(
        debug_app()
            .without_security_headers()
            .route("/", get(|| async { "ok" })),
    )
    .await;
    let response = server.get("/").send().await;
    assert_eq!(response.header("x-frame-options"), None);
    assert_eq!(response.header("x-content-type-options"), None);
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_host_gets_400_without_reaching_the_handler() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = production_app(|s| s.set("allowed_hosts", vec!["127.0.0.1", ".example.com"])).route(
        "/",
        get(move || async move {
            counter.fetch_add(1, Ordering::SeqCst);
            "ok"
        }),
    );
    let server = TestServer::start(app).await;

    let refused = server.get("/").header("host", "evil.test").send().await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.text().contains("Bad Request (400)"),
        "{}",
        refused.text()
    );
    assert!(
        !refused.text().contains("ALLOWED_HOSTS"),
        "production must not explain"
    );

    let json = server
        .get("/")
        .header("host", "evil.test")
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(json.status, StatusCode::BAD_REQUEST);
    assert_eq!(json.content_type(), Some("application/problem+json"));
    assert_eq!(json.json()["status"], 400);

    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let allowed = server
        .get("/")
        .header("host", "www.example.com")
        .send()
        .await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn debug_host_error_names_the_fix_and_localhost_works() {
    let server = TestServer::start(debug_app().route("/", get(|| async { "ok" }))).await;
    let refused = server
        .get("/")
        .header("host", "example.org:8000")
        .send()
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused
            .text()
            .contains("You may need to add &quot;example.org&quot; to ALLOWED_HOSTS"),
        "{}",
        refused.text()
    );
    let local = server
        .get("/")
        .header("host", "localhost:8000")
        .send()
        .await;
    assert_eq!(local.status, StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn allow_any_host_is_an_explicit_opt_out() {
    let server = TestServer::start(
        production_app(|s| s)
            .allow_any_host()
            .route("/", get(|| async { "ok" })),
    )
    .await;
    let response = server.get("/").header("host", "anything.test").send().await;
    assert_eq!(response.status, StatusCode::OK);
    server.shutdown().await;
}

/// Reads from a raw connection until EOF or `limit`.
async fn read_all(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Ok(Ok(0)) => return (String::from_utf8_lossy(&buf).into_owned(), true),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(_)) => return (String::from_utf8_lossy(&buf).into_owned(), true),
            Err(_) => return (String::from_utf8_lossy(&buf).into_owned(), false),
        }
    }
}

#[tokio::test]
async fn oversized_body_gets_413_before_the_body_is_sent() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = production_app(|s| s.set("limits.max_body_size", "1MiB")).route(
        "/upload",
        post(move |body: axum::body::Bytes| async move {
            counter.fetch_add(1, Ordering::SeqCst);
            format!("{} bytes", body.len())
        }),
    );
    let server = TestServer::start(app).await;

    // Announce 50 MB and send none of it: the answer must come anyway.
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(
            b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50000000\r\n\
              Content-Type: application/octet-stream\r\n\r\n",
        )
        .await
        .unwrap();
    let (response, closed) = read_all(&mut stream, Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains("The request body is too large."),
        "{response}"
    );
    assert!(closed, "the connection is closed rather than reused");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the handler never ran");

    // Within the limit works.
    let ok = server.post("/upload").body(vec![b'x'; 1000]).send().await;
    assert_eq!(ok.text(), "1000 bytes");
    server.shutdown().await;
}

#[tokio::test]
async fn chunked_body_is_cut_off_at_the_limit() {
    let server = TestServer::start(
        production_app(|s| s.set("limits.max_body_size", 1000)).route("/upload", post(echo_len)),
    )
    .await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let mut request = b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\
                        Cookie: csrftoken=abcdefghijabcdefghijabcdefghij12\r\n\
                        X-CSRFToken: abcdefghijabcdefghijabcdefghij12\r\n\
                        Accept: application/json\r\n\r\n"
        .to_vec();
    for _ in 0..3 {
        request.extend_from_slice(b"258\r\n");
        request.extend_from_slice(&[b'y'; 600]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&request).await.unwrap();
    let (response, _) = read_all(&mut stream, Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("application/problem+json"), "{response}");
    server.shutdown().await;
}

#[tokio::test]
async fn routes_can_raise_or_lower_the_body_limit() {
    let server = TestServer::start(
        production_app(|s| s.set("limits.max_body_size", 1000))
            .route("/big", post(echo_len).max_body_size(5_000_000))
            .route("/tiny/{id}", post(echo_len).max_body_size(10))
            .route("/default", post(echo_len)),
    )
    .await;
    let big = server.post("/big").body(vec![b'x'; 3_000_000]).send().await;
    assert_eq!(big.status, StatusCode::OK);
    assert_eq!(big.text(), "3000000 bytes");
    let tiny = server.post("/tiny/3").body(vec![b'x'; 11]).send().await;
    assert_eq!(tiny.status, StatusCode::PAYLOAD_TOO_LARGE);
    let default = server.post("/default").body(vec![b'x'; 1001]).send().await;
    assert_eq!(default.status, StatusCode::PAYLOAD_TOO_LARGE);
    server.shutdown().await;
}

/// Sends a request head without its final blank line: the server must
/// close the connection (header-read timeout) without answering it.
async fn assert_a_head_that_never_ends_is_cut_off(stream: &mut TcpStream) {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (response, closed) = read_all(stream, Duration::from_secs(5)).await;
    assert!(closed, "the server closed the connection");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(!response.contains("200 OK"), "{response}");
}

#[tokio::test]
async fn slow_headers_get_the_connection_closed() {
    let server = TestServer::start(
        production_app(|s| s.set("limits.header_read_timeout", "300ms"))
            .route("/", get(|| async { "ok" })),
    )
    .await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    assert_a_head_that_never_ends_is_cut_off(&mut stream).await;

    // A prompt client on the same server is unaffected.
    assert_eq!(server.get("/").send().await.status, StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn each_request_on_a_keep_alive_connection_gets_the_header_timeout_afresh() {
    let server = TestServer::start(
        production_app(|s| s.set("limits.header_read_timeout", "300ms"))
            .route("/", get(|| async { "ok" })),
    )
    .await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    // Six prompt requests 100ms apart: the connection lives well past one
    // timeout, but each head comes within its own.
    let started = Instant::now();
    for n in 0..6 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut response = Vec::new();
        let mut chunk = [0u8; 1024];
        while !response.ends_with(b"\r\n\r\nok") {
            let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
                .await
                .expect("a response within 5s")
                .unwrap();
            assert_ne!(read, 0, "request {n}: the connection was closed");
            response.extend_from_slice(&chunk[..read]);
        }
        assert!(response.starts_with(b"HTTP/1.1 200 OK"), "request {n}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(started.elapsed() > Duration::from_millis(600));

    // Then a head that never ends is cut off on the same connection.
    assert_a_head_that_never_ends_is_cut_off(&mut stream).await;
    server.shutdown().await;
}

#[tokio::test]
async fn hsts_is_sent_on_https_requests_and_http_can_be_redirected() {
    let server = TestServer::start(
        production_app(|s| {
            s.set("security.hsts_seconds", 31_536_000)
                .set("security.hsts_include_subdomains", true)
                .set(
                    "security.secure_proxy_ssl_header",
                    "X-Forwarded-Proto: https",
                )
                .set("security.ssl_redirect", true)
        })
        .route("/page", get(|| async { "ok" })),
    )
    .await;
    let plain = server.get("/page?x=1").send().await;
    assert_eq!(plain.status, StatusCode::MOVED_PERMANENTLY);
    let expected = format!("https://{}/page?x=1", server.addr());
    assert_eq!(plain.header("location"), Some(expected.as_str()));
    assert_eq!(plain.header("strict-transport-security"), None);

    let secure = server
        .get("/page")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert_eq!(secure.status, StatusCode::OK);
    assert_eq!(
        secure.header("strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let big = "estate ".repeat(2000);
    let server =
        TestServer::start(debug_app().route("/big", get(move || async move { big }))).await;
    let gzipped = server
        .get("/big")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert!(gzipped.body.len() < 1000, "{} bytes", gzipped.body.len());
    let plain = server.get("/big").send().await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body.len(), 14_000);
    server.shutdown().await;

    let server = TestServer::start(
        debug_app()
            .without_compression()
            .route("/big", get(|| async { "estate ".repeat(2000) })),
    )
    .await;
    let response = server
        .get("/big")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(response.header("content-encoding"), None);
    server.shutdown().await;
}

#[tokio::test]
async fn request_ids_are_generated_or_kept_and_reach_the_handler() {
    let server = TestServer::start(
        debug_app().route("/", get(|id: RequestId| async move { id.to_string() })),
    )
    .await;
    let generated = server.get("/").send().await;
    let id = generated.header("x-request-id").unwrap().to_owned();
    assert_eq!(generated.text(), id);
    let kept = server.get("/").header("x-request-id", "lb-42").send().await;
    assert_eq!(kept.header("x-request-id"), Some("lb-42"));
    assert_eq!(kept.text(), "lb-42");
    server.shutdown().await;
}

/// Sends one raw request with `Connection: close` and returns the whole
/// answer, head and body.
async fn raw_exchange(server: &TestServer, request: &str) -> String {
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let (response, closed) = read_all(&mut stream, Duration::from_secs(5)).await;
    assert!(closed, "the server closes after the answer: {response}");
    response
}

/// The `content-length` lines of a raw response head.
fn content_lengths(response: &str) -> Vec<&str> {
    let head = response.split("\r\n\r\n").next().unwrap();
    head.lines()
        .filter(|line| line.to_ascii_lowercase().starts_with("content-length:"))
        .collect()
}

#[tokio::test]
async fn responses_state_their_length_once_whatever_headers_the_core_adds() {
    // The default stack adds five headers (four security headers and the
    // request id), more than a response's header map holds at first; the
    // core then moves the handler's headers into a larger, pre-built map.
    // The length must still be there, once, and right.
    let server = TestServer::start(
        production_app(|s| s)
            .route("/", get(|| async { "twelve bytes" }))
            .route(
                "/busy",
                get(|| async {
                    (
                        [("x-one", "1"), ("x-two", "2"), ("x-three", "3")],
                        "twelve bytes",
                    )
                }),
            )
            .route(
                "/streamed",
                get(|| async {
                    let chunks = futures_util::stream::iter(["twelve", " bytes"].map(|c| {
                        Ok::<_, std::io::Error>(axum::body::Bytes::from_static(c.as_bytes()))
                    }));
                    axum::body::Body::from_stream(chunks)
                }),
            ),
    )
    .await;
    for path in ["/", "/busy"] {
        let get = raw_exchange(
            &server,
            &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(get.starts_with("HTTP/1.1 200 OK"), "{get}");
        assert_eq!(content_lengths(&get), ["content-length: 12"], "{get}");
        assert!(get.ends_with("\r\n\r\ntwelve bytes"), "{get}");
        assert!(get.contains("x-request-id: "), "{get}");
        assert!(get.contains("x-frame-options: DENY"), "{get}");
        // HEAD keeps the GET's length, and sends no body.
        let head = raw_exchange(
            &server,
            &format!("HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        assert_eq!(content_lengths(&head), ["content-length: 12"], "{head}");
        assert!(head.ends_with("\r\n\r\n"), "{head}");
    }
    // A body of unknown length is sent chunked, with no length at all.
    let streamed = raw_exchange(
        &server,
        "GET /streamed HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(content_lengths(&streamed).is_empty(), "{streamed}");
    assert!(
        streamed.contains("transfer-encoding: chunked"),
        "{streamed}"
    );
    server.shutdown().await;
}
