//! The Estate core: the outermost service every request passes through.
//!
//! In one place, so the hot path stays short and allocation-light:
//!
//! 1. `ALLOWED_HOSTS` check → 400;
//! 2. HTTPS redirect (opt-in);
//! 3. body limit by `Content-Length` → 413 before a byte of the body is read;
//!    chunked bodies are wrapped so they stop at the limit;
//! 4. request id and [`AppContext`] into the request's extensions;
//! 5. the router, under the request timeout (→ 503) with panics caught (→ 500);
//! 6. error pages for [`Error`](crate::Error) responses, rendered for the
//!    client (HTML or JSON) with DEBUG details when on;
//! 7. security headers (pre-built, added only when the handler set none);
//! 8. the access log line.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, LOCATION};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body::Body as HttpBody;
use tower::Service;

use super::error_pages::{ErrorContext, ErrorPages, wants_json};
use super::hosts::AllowedHosts;
use super::request_id::{REQUEST_ID_HEADER, RequestId, RequestIds};
use crate::context::AppContext;
use crate::error::ErrorReport;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything the core needs, fixed at startup.
pub(crate) struct CoreConfig {
    pub(crate) debug: bool,
    pub(crate) hosts: AllowedHosts,
    /// Security headers, pre-built once.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// `Strict-Transport-Security`, sent on secure requests only.
    pub(crate) hsts: Option<HeaderValue>,
    /// The proxy header that marks a request as HTTPS.
    pub(crate) proxy_ssl_header: Option<(HeaderName, HeaderValue)>,
    pub(crate) ssl_redirect: bool,
    pub(crate) max_body_size: u64,
    /// Per-route body limits, matched by path only when a request has a body.
    pub(crate) route_limits: Option<matchit::Router<u64>>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) request_ids: Option<RequestIds>,
    pub(crate) access_log: bool,
    pub(crate) error_pages: ErrorPages,
    pub(crate) context: AppContext,
}

/// The whole app as one tower service: the core around the router. Serve it
/// with [`BuiltApp::serve`](crate::BuiltApp::serve) or any hyper/axum server.
#[derive(Clone)]
pub struct EstateService {
    config: Arc<CoreConfig>,
    router: Router,
}

impl EstateService {
    pub(crate) fn new(config: CoreConfig, router: Router) -> Self {
        EstateService {
            config: Arc::new(config),
            router,
        }
    }
}

impl<B> Service<Request<B>> for EstateService
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let config = self.config.clone();
        let router = self.router.clone();
        Box::pin(async move { Ok(handle(config, router, request.map(Body::new)).await) })
    }
}

/// What is kept of the request to render an error page after the router has
/// consumed it. Cheap: reference-counted clones only, and full headers only
/// in DEBUG.
struct RequestSummary {
    method: Method,
    uri: Uri,
    accept: Option<HeaderValue>,
    content_type: Option<HeaderValue>,
    all_headers: Option<HeaderMap>,
    request_id: Option<RequestId>,
}

async fn handle(
    config: Arc<CoreConfig>,
    mut router: Router,
    mut request: Request<Body>,
) -> Response {
    let started = config.access_log.then(Instant::now);
    let secure = request_is_secure(&config, request.headers(), request.uri());
    let mut summary = RequestSummary {
        method: request.method().clone(),
        uri: request.uri().clone(),
        accept: request.headers().get(http::header::ACCEPT).cloned(),
        content_type: request.headers().get(http::header::CONTENT_TYPE).cloned(),
        all_headers: config.debug.then(|| request.headers().clone()),
        request_id: None,
    };
    if let Some(ids) = &config.request_ids {
        let id = ids.for_request(request.headers().get(REQUEST_ID_HEADER));
        request.extensions_mut().insert(id.clone());
        summary.request_id = Some(id);
    }

    let response = match preflight(&config, &mut request) {
        Preflight::Stop(response) => response,
        Preflight::Pass { limited } => {
            request.extensions_mut().insert(config.context.clone());
            let response = call_router(&config, &mut router, request, &summary).await;
            if limited
                && response.status() == StatusCode::PAYLOAD_TOO_LARGE
                && response.extensions().get::<Arc<ErrorReport>>().is_none()
            {
                // The chunked body hit our limit inside an extractor.
                report_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    too_large_message(&config, None),
                )
            } else {
                response
            }
        }
    };
    finish(&config, response, &summary, secure, started)
}

/// The outcome of the checks made before routing.
enum Preflight {
    /// Go on; `limited` when a chunked body was wrapped in the size limit.
    Pass { limited: bool },
    /// The request stops here with this response.
    Stop(Response),
}

/// Host, HTTPS and body-size checks.
fn preflight(config: &CoreConfig, request: &mut Request<Body>) -> Preflight {
    if let Err(err) = config.hosts.check(request) {
        tracing::warn!(target: "estate::security", error = ?err, "refused request for a host not in ALLOWED_HOSTS");
        return Preflight::Stop(report_response(
            StatusCode::BAD_REQUEST,
            err.message(config.debug),
        ));
    }
    if config.ssl_redirect && !request_is_secure(config, request.headers(), request.uri()) {
        let host = request
            .headers()
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let target = format!(
            "https://{host}{}",
            request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
        );
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
        if let Ok(location) = HeaderValue::from_str(&target) {
            response.headers_mut().insert(LOCATION, location);
        }
        return Preflight::Stop(response);
    }
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let has_body = declared.is_some_and(|len| len > 0) || !request.body().is_end_stream();
    if !has_body {
        return Preflight::Pass { limited: false };
    }
    let limit = body_limit(config, request.uri().path());
    match declared {
        Some(length) if length > limit => {
            let mut response = report_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                too_large_message(config, Some((length, limit))),
            );
            // The body was never read: do not let the connection be reused.
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            Preflight::Stop(response)
        }
        Some(_) => Preflight::Pass { limited: false },
        None => {
            let body = std::mem::take(request.body_mut());
            *request.body_mut() = Body::new(http_body_util::Limited::new(body, limit as usize));
            Preflight::Pass { limited: true }
        }
    }
}

fn body_limit(config: &CoreConfig, path: &str) -> u64 {
    config
        .route_limits
        .as_ref()
        .and_then(|limits| limits.at(path).ok().map(|m| *m.value))
        .unwrap_or(config.max_body_size)
}

fn too_large_message(config: &CoreConfig, sizes: Option<(u64, u64)>) -> String {
    match (config.debug, sizes) {
        (true, Some((length, limit))) => format!(
            "The request body ({length} bytes) exceeds the limit of {limit} bytes. Raise \
             limits.max_body_size, or the route's .max_body_size(...)."
        ),
        _ => "The request body is too large.".to_owned(),
    }
}

async fn call_router(
    config: &CoreConfig,
    router: &mut Router,
    request: Request<Body>,
    summary: &RequestSummary,
) -> Response {
    let future = AssertUnwindSafe(router.call(request)).catch_unwind();
    let outcome = match config.request_timeout {
        Some(limit) => match tokio::time::timeout(limit, future).await {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::error!(
                    target: "estate::request",
                    method = %summary.method,
                    path = summary.uri.path(),
                    request_id = summary.request_id.as_ref().map(RequestId::as_str),
                    timeout_ms = limit.as_millis() as u64,
                    "request timed out"
                );
                return report_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The server took too long to respond to this request.",
                );
            }
        },
        None => future.await,
    };
    match outcome {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            tracing::error!(
                target: "estate::request",
                method = %summary.method,
                path = summary.uri.path(),
                request_id = summary.request_id.as_ref().map(RequestId::as_str),
                panic = %message,
                "handler panicked"
            );
            let report = ErrorReport {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: "Internal Server Error".to_owned(),
                public: true,
                chain: vec!["the handler panicked".to_owned(), message],
            };
            axum::response::IntoResponse::into_response(report)
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(a panic with a non-text payload)".to_owned()
    }
}

/// A response the core renders as an error page on the way out.
fn report_response(status: StatusCode, message: impl Into<String>) -> Response {
    axum::response::IntoResponse::into_response(ErrorReport::new(status, message))
}

/// Error pages, security headers, request id, access log.
fn finish(
    config: &CoreConfig,
    mut response: Response,
    summary: &RequestSummary,
    secure: bool,
    started: Option<Instant>,
) -> Response {
    if let Some(report) = response.extensions_mut().remove::<Arc<ErrorReport>>() {
        response = render_error(config, response, &report, summary);
    }
    let headers = response.headers_mut();
    for (name, value) in &config.headers {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
    if secure {
        if let Some(hsts) = &config.hsts {
            headers.insert(http::header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
    }
    if let Some(id) = &summary.request_id {
        headers.insert(REQUEST_ID_HEADER, id.header_value().clone());
    }
    if let Some(started) = started {
        tracing::info!(
            target: "estate::access",
            method = %summary.method,
            path = summary.uri.path(),
            status = response.status().as_u16(),
            duration_us = started.elapsed().as_micros() as u64,
            request_id = summary.request_id.as_ref().map(RequestId::as_str),
            "request"
        );
    }
    response
}

fn render_error(
    config: &CoreConfig,
    original: Response,
    report: &ErrorReport,
    summary: &RequestSummary,
) -> Response {
    let status = original.status();
    let generic;
    let message = if !report.public && !config.debug {
        generic = status.canonical_reason().unwrap_or("Server Error");
        generic
    } else {
        report.message.as_str()
    };
    let empty: &[String] = &[];
    let context = ErrorContext {
        status,
        message,
        chain: if config.debug { &report.chain } else { empty },
        debug: config.debug,
        method: &summary.method,
        path: summary.uri.path(),
        request_id: summary.request_id.as_ref().map(RequestId::as_str),
        wants_json: wants_json(summary.accept.as_ref(), summary.content_type.as_ref()),
        routes: if config.debug {
            config.context.routes()
        } else {
            &[]
        },
        headers: summary.all_headers.as_ref(),
    };
    let mut page = config.error_pages.render(&context);
    // Keep headers that belong to the error (Allow, Retry-After,
    // WWW-Authenticate, Set-Cookie...) but not the old body's framing.
    let (parts, _old_body) = original.into_parts();
    for (name, value) in &parts.headers {
        let framing = matches!(
            name.as_str(),
            "content-type" | "content-length" | "content-encoding" | "transfer-encoding"
        );
        if !framing && !page.headers().contains_key(name) {
            page.headers_mut().append(name.clone(), value.clone());
        }
    }
    page
}

fn request_is_secure(config: &CoreConfig, headers: &HeaderMap, uri: &Uri) -> bool {
    if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
        return true;
    }
    match &config.proxy_ssl_header {
        Some((name, expected)) => headers.get(name) == Some(expected),
        None => false,
    }
}
