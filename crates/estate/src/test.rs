//! Testing helpers: a real server on an ephemeral port with a small HTTP
//! client, and the switch that decides whether tests needing an outside
//! service (PostgreSQL, MySQL, Redis, a browser) run.
//!
//! ```
//! use estate::prelude::*;
//! use estate::test::TestServer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = App::new().debug(true).route("/", get(|| async { "hi" }));
//! let server = TestServer::start(app).await;
//! let response = server.get("/").send().await;
//! assert_eq!(response.status, StatusCode::OK);
//! assert_eq!(response.text(), "hi");
//! server.shutdown().await;
//! # }
//! ```

use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::App;
use crate::context::AppContext;
use crate::error::Result;

pub use estate_orm::query_log::{assert_num_queries, capture as capture_queries};
pub use estate_orm::testing::{
    BROWSER, MYSQL, POSTGRES, REDIS, REQUIRE_ALL, ServiceDecision, TestDatabase, decide,
    each_backend, service,
};

/// An app served on `127.0.0.1` at an ephemeral port, for tests.
pub struct TestServer {
    addr: SocketAddr,
    context: AppContext,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<()>>>,
}

impl TestServer {
    /// Builds and starts the app.
    ///
    /// # Panics
    /// If the app fails to build (the panic shows why).
    pub async fn start(app: App) -> TestServer {
        match Self::try_start(app).await {
            Ok(server) => server,
            Err(err) => panic!("the app failed to start: {err:?}"),
        }
    }

    /// Builds and starts the app, returning startup errors.
    pub async fn try_start(app: App) -> Result<TestServer> {
        let built = app.build().await?;
        built.ready_to_serve()?;
        let context = built.context().clone();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(built.serve(listener, async move {
            let _ = stopped.await;
        }));
        Ok(TestServer {
            addr,
            context,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An absolute URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The running app's context.
    pub fn context(&self) -> &AppContext {
        &self.context
    }

    /// A request with any method.
    pub fn request(&self, method: Method, path: &str) -> TestRequest {
        TestRequest {
            addr: self.addr,
            method,
            path: path.to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            csrf: true,
            cookies: Vec::new(),
            jar: None,
        }
    }

    /// A client that keeps cookies between requests, like a browser (and
    /// Django's test `Client`): what responses set is sent back, what they
    /// delete is forgotten.
    pub fn client(&self) -> TestClient {
        TestClient {
            addr: self.addr,
            jar: CookieJar::default(),
        }
    }

    /// A `GET` request.
    pub fn get(&self, path: &str) -> TestRequest {
        self.request(Method::GET, path)
    }

    /// A `POST` request.
    pub fn post(&self, path: &str) -> TestRequest {
        self.request(Method::POST, path)
    }

    /// Starts a graceful shutdown without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down gracefully and waits until the server has stopped.
    pub async fn shutdown(mut self) {
        self.begin_shutdown();
        self.wait().await;
    }

    /// Waits for a shutdown begun with [`begin_shutdown`](Self::begin_shutdown).
    pub async fn wait(&mut self) {
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => panic!("the server failed: {err:?}"),
                Err(err) => panic!("the server task failed: {err}"),
            }
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.begin_shutdown();
    }
}

/// A request being built; [`send`](Self::send) it.
#[derive(Debug)]
pub struct TestRequest {
    addr: SocketAddr,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    csrf: bool,
    cookies: Vec<(String, String)>,
    jar: Option<CookieJar>,
}

/// Cookies kept by a [`TestClient`].
type CookieJar = std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, String>>>;

/// Requests to a [`TestServer`] that keep cookies; from [`TestServer::client`].
#[derive(Debug, Clone)]
pub struct TestClient {
    addr: SocketAddr,
    jar: CookieJar,
}

impl TestClient {
    /// A request with the kept cookies; the response's cookies are kept.
    pub fn request(&self, method: Method, path: &str) -> TestRequest {
        TestRequest {
            addr: self.addr,
            method,
            path: path.to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            csrf: true,
            cookies: Vec::new(),
            jar: Some(self.jar.clone()),
        }
    }

    /// A `GET` request.
    pub fn get(&self, path: &str) -> TestRequest {
        self.request(Method::GET, path)
    }

    /// A `POST` request.
    pub fn post(&self, path: &str) -> TestRequest {
        self.request(Method::POST, path)
    }

    /// The value of a kept cookie.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Sets (or with `None` forgets) a kept cookie.
    pub fn set_cookie(&self, name: &str, value: Option<&str>) {
        let mut jar = self
            .jar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match value {
            Some(value) => jar.insert(name.to_owned(), value.to_owned()),
            None => jar.remove(name),
        };
    }
}

/// The CSRF secret the test client sends with unsafe requests.
const TEST_CSRF_SECRET: &str = "testclienttestclienttestclient00";

impl TestRequest {
    /// Sends no CSRF cookie and token, to test the protection itself. (By
    /// default, like Django's test client, unsafe requests carry a valid
    /// pair, unless a `Cookie` header is set by hand.)
    pub fn without_csrf_token(mut self) -> Self {
        self.csrf = false;
        self
    }

    /// Sends a cookie (like a browser that got it from a `Set-Cookie`);
    /// the CSRF pair is still added to unsafe requests.
    pub fn cookie(mut self, name: &str, value: &str) -> Self {
        self.cookies.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets a header (replacing any earlier one of that name).
    ///
    /// # Panics
    /// On an invalid name or value.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("valid header name"),
            HeaderValue::from_str(value).expect("valid header value"),
        );
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a form body (`application/x-www-form-urlencoded`), like
    /// Django's `client.post(path, data)`.
    pub fn form(self, fields: &[(&str, &str)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.header("content-type", "application/json")
            .body(value.to_string())
    }

    /// Sends the request on a new connection and reads the whole response.
    ///
    /// # Panics
    /// If the connection fails.
    pub async fn send(self) -> TestResponse {
        let stream = TcpStream::connect(self.addr)
            .await
            .expect("connect to the test server");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("HTTP handshake with the test server");
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(self.method)
            .uri(&self.path)
            .body(Full::new(self.body))
            .expect("valid request");
        *request.headers_mut() = self.headers;
        let unsafe_method = !matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        );
        let mut cookies: Vec<(String, String)> = match &self.jar {
            Some(jar) => jar
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .filter(|(name, _)| !self.cookies.iter().any(|(n, _)| n == *name))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
            None => Vec::new(),
        };
        cookies.extend(self.cookies);
        if self.csrf && unsafe_method && !request.headers().contains_key(http::header::COOKIE) {
            // The pair the test client always sends, unless a kept CSRF
            // cookie (set by the site) takes its place.
            match cookies.iter().find(|(name, _)| name == "csrftoken") {
                Some((_, secret)) => {
                    let token = HeaderValue::from_str(secret).expect("valid cookie value");
                    request.headers_mut().entry("x-csrftoken").or_insert(token);
                }
                None => cookies.push(("csrftoken".to_owned(), TEST_CSRF_SECRET.to_owned())),
            }
            request
                .headers_mut()
                .entry("x-csrftoken")
                .or_insert(HeaderValue::from_static(TEST_CSRF_SECRET));
        }
        if !cookies.is_empty() {
            let line: Vec<String> = cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            request.headers_mut().append(
                http::header::COOKIE,
                HeaderValue::from_str(&line.join("; ")).expect("valid cookie values"),
            );
        }
        if !request.headers().contains_key(HOST) {
            let host =
                HeaderValue::from_str(&self.addr.to_string()).expect("an address is a valid host");
            request.headers_mut().insert(HOST, host);
        }
        let response = sender
            .send_request(request)
            .await
            .expect("a response from the test server");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("the response body").to_bytes();
        if let Some(jar) = &self.jar {
            keep_cookies(jar, &parts.headers);
        }
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// Stores a response's cookies in `jar` (removing those it expires).
fn keep_cookies(jar: &CookieJar, headers: &HeaderMap) {
    let mut jar = jar
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for header in headers.get_all(http::header::SET_COOKIE) {
        let Ok(header) = header.to_str() else {
            continue;
        };
        let mut attributes = header.split(';');
        let Some((name, value)) = attributes.next().and_then(|pair| pair.split_once('=')) else {
            continue;
        };
        let expired = attributes.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
        if expired || value.is_empty() {
            jar.remove(name.trim());
        } else {
            jar.insert(name.trim().to_owned(), value.trim().to_owned());
        }
    }
}

/// A whole response.
#[derive(Debug)]
pub struct TestResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl TestResponse {
    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Panics
    /// If the body is not JSON (the panic shows the body).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("the body is not JSON ({err}): {}", self.text()))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Content-Type`, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.header(CONTENT_TYPE.as_str())
    }

    /// The whole `Set-Cookie` header that sets cookie `name`, attributes
    /// included.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.split_once('=').is_some_and(|(n, _)| n.trim() == name))
    }

    /// The value this response gives cookie `name` (empty when it removes
    /// the cookie).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        let header = self.set_cookie(name)?;
        let (_, rest) = header.split_once('=')?;
        Some(rest.split(';').next().unwrap_or_default())
    }
}
