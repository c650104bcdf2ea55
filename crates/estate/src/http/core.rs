//! The Estate core: the outermost service every request passes through.
//!
//! In one place, so the hot path stays short and allocation-light:
//!
//! 1. `ALLOWED_HOSTS` check → 400;
//! 2. HTTPS redirect (opt-in);
//! 3. body limit by `Content-Length` → 413 before a byte of the body is read;
//!    chunked bodies are wrapped so they stop at the limit; the health
//!    probes and `/metrics` are answered here, without routing;
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
use axum::extract::DefaultBodyLimit;
use axum::response::Response;
use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, CONNECTION, CONTENT_LENGTH, HOST, LOCATION};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body::Body as HttpBody;
use tower::{Layer, Service};
use tower_http::compression::{Compression, CompressionLayer};

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
    /// The security headers every response starts from (off only by
    /// `App::without_security_headers`), pre-built once.
    pub(crate) security_headers: Option<HeaderMap>,
    /// `Strict-Transport-Security`, sent on secure requests only.
    pub(crate) hsts: Option<HeaderValue>,
    /// The proxy header that marks a request as HTTPS.
    pub(crate) proxy_ssl_header: Option<(HeaderName, HeaderValue)>,
    pub(crate) ssl_redirect: bool,
    pub(crate) max_body_size: u64,
    /// Per-route body limits, matched by path only when a request has a body.
    /// Every route's flags (body limit, CSRF exemption), matched like axum.
    pub(crate) route_table: Option<matchit::Router<crate::routing::RouteFlags>>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) request_ids: Option<RequestIds>,
    pub(crate) access_log: bool,
    /// Per-request query recording and the N+1 response, when on.
    pub(crate) query_log: Option<(crate::settings::NPlusOne, usize)>,
    pub(crate) error_pages: ErrorPages,
    pub(crate) context: AppContext,
    /// CSRF protection (off only by `App::without_csrf_protection`).
    pub(crate) csrf: Option<super::csrf::CsrfConfig>,
    /// Content Security Policy, when configured.
    pub(crate) csp: Option<super::csp::CspConfig>,
    /// Whether requests keep their headers for context processors.
    pub(crate) capture_headers: bool,
    /// Whether responses are compressed (set by `EstateService::new`).
    pub(crate) compression: bool,
    /// Static files (their folders in DEBUG, the collected root otherwise),
    /// then uploaded media (DEBUG only).
    pub(crate) static_files: Vec<super::static_files::StaticConfig>,
    /// Health probes and metrics, answered before routing.
    pub(crate) ops: Option<super::ops::OpsEndpoints>,
    /// Request measurements, when metrics are on.
    pub(crate) metrics: Option<crate::metrics::Metrics>,
}

/// The whole app as one tower service: the core around the router. Serve it
/// with [`BuiltApp::serve`](crate::BuiltApp::serve) or any hyper/axum server.
#[derive(Clone)]
pub struct EstateService {
    config: Arc<CoreConfig>,
    routers: Routers,
}

/// The router, and the same router behind gzip compression when compression
/// is on. Requests without `Accept-Encoding` skip the compression layer
/// entirely: it would only wrap their body to pass it through.
#[derive(Clone)]
struct Routers {
    plain: Router,
    compressed: Option<Compression<Router>>,
}

impl EstateService {
    /// From now on the readiness probe answers 503 "shutting down" (the
    /// server calls this when a shutdown begins).
    pub(crate) fn begin_draining(&self) {
        if let Some(ops) = &self.config.ops {
            ops.begin_draining();
        }
    }

    /// Handles one request; what `Service::call` does, without needing
    /// `&mut self` (so the server need not clone the service per request).
    // Inlined into hyper's dispatcher, the response future is built where
    // hyper keeps it instead of being copied there (~150 instructions a
    // request, bench/README.md).
    #[inline(always)]
    pub fn handle<B>(&self, request: Request<B>) -> <Self as Service<Request<B>>>::Future
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        // Everything up to calling the router is synchronous; the future only
        // holds what is needed after it, so it stays small and cheap to move.
        let config = self.config.clone();
        let probe = config
            .metrics
            .as_ref()
            .map(crate::metrics::Metrics::request_started);
        let (summary, routed) = start(&config, &self.routers, request.map(Body::new));
        match routed {
            // The common path: the router's future, then the response, in a
            // future that allocates nothing of its own.
            Routed::Call { future, limited } if config.query_log.is_none() => {
                ResponseFuture(Flow::Routing(Routing {
                    router: GuardedRouter::new(future, &config),
                    config,
                    summary,
                    probe,
                    limited,
                }))
            }
            // The rest (a form's CSRF token, the page cache, static files,
            // the readiness probe, the query log) in a boxed future of its
            // own, so the one nearly every request moves stays small.
            routed => ResponseFuture(Flow::Other(Box::pin(respond_otherwise(
                config,
                self.routers.clone(),
                summary,
                probe,
                routed,
            )))),
        }
    }

    pub(crate) fn new(mut config: CoreConfig, router: Router, compression: bool) -> Self {
        config.compression = compression;
        // Turns each handler into a ready service once, as `axum::serve`
        // does: called as built, axum's router would clone the handler and
        // box it afresh for every request (two allocations and ~300
        // instructions).
        let router = router.with_state(());
        EstateService {
            config: Arc::new(config),
            routers: Routers {
                compressed: compression.then(|| CompressionLayer::new().layer(router.clone())),
                plain: router,
            },
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
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.handle(request)
    }
}

/// What is kept of the request to render an error page after the router has
/// consumed it. Cheap: reference-counted clones only, and full headers only
/// in DEBUG.
struct RequestSummary {
    started: Option<Instant>,
    secure: bool,
    method: Method,
    uri: Uri,
    accept: Option<HeaderValue>,
    content_type: Option<HeaderValue>,
    /// Boxed: DEBUG only, and the summary is moved with every request.
    all_headers: Option<Box<HeaderMap>>,
    request_id: Option<RequestId>,
    csrf: Option<super::csrf::CsrfState>,
    csp_nonce: Option<super::csp::CspNonce>,
    /// `Accept-Encoding`, kept when compression is on (template pages are
    /// rendered after the compression layer, so the core compresses them).
    accept_encoding: Option<HeaderValue>,
    /// A `.cache_page(..)` request that missed: its response is stored.
    /// Boxed, like the variant below: the summary lives in every request's
    /// future, and most requests have no page to cache.
    page: Option<Box<crate::cache::page::PageRequest>>,
}

/// The router's response future, boxed: it is large (it holds the request
/// until first polled), and every move of the response future would copy it.
type RouterFuture = Pin<Box<RouterCall>>;

/// The router's call, straight or through the compression layer.
enum RouterCall {
    Plain(axum::routing::future::RouteFuture<Infallible>),
    Compressed(
        tower_http::compression::ResponseFuture<
            axum::routing::future::RouteFuture<Infallible>,
            tower_http::compression::DefaultPredicate,
        >,
    ),
}

impl Future for RouterCall {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            RouterCall::Plain(future) => Pin::new(future).poll(cx),
            RouterCall::Compressed(future) => Pin::new(future)
                .poll(cx)
                .map(|result| result.map(|response| response.map(Body::new))),
        }
    }
}

/// The future of every response [`EstateService`] gives.
///
/// A plainly routed request (nearly all of them) is answered by a state
/// machine held inline, which allocates nothing of its own; the rest (an
/// early refusal, a form whose CSRF token is in the body, the page cache,
/// static files, the health probes) by a boxed `async` block.
pub struct ResponseFuture(Flow);

// The large variant is the point: the common path's state is held inline,
// not boxed (one allocation fewer per request).
#[allow(clippy::large_enum_variant)]
enum Flow {
    /// Waiting for the router; then checked and finished.
    Routing(Routing),
    /// Everything else.
    Other(Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>),
    /// The response was given.
    Done,
}

/// A routed request's state while its handler runs.
struct Routing {
    config: Arc<CoreConfig>,
    summary: RequestSummary,
    probe: Option<crate::metrics::RequestProbe>,
    router: GuardedRouter,
    /// A chunked body was wrapped in the size limit.
    limited: bool,
}

/// The router's future under the request timeout (→ 503), a panic in it
/// becoming a 500. Every routed request goes through one.
struct GuardedRouter {
    router: RouterFuture,
    deadline: Deadline,
}

/// The request timeout of a routed request.
enum Deadline {
    /// No timeout (`limits.request_timeout = 0`).
    Off,
    /// Counting from `started`; the timer is made only when the handler
    /// first waits. Most handlers answer in their first poll, and then no
    /// timer is filed in (and taken out of) the runtime's timer wheel.
    Unarmed {
        started: tokio::time::Instant,
        limit: Duration,
    },
    /// The timer, filed when the handler first waited.
    Armed {
        timer: Pin<Box<tokio::time::Sleep>>,
        limit: Duration,
    },
}

// The response future is polled through `&mut` (no pin projection), which
// needs every part to be `Unpin`; a change in axum or tower-http that broke
// that would stop the build here.
const _: fn() = || {
    fn unpin<T: Unpin>() {}
    unpin::<RouterCall>();
    unpin::<Routing>();
    unpin::<GuardedRouter>();
};

impl Future for ResponseFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let flow = &mut self.get_mut().0;
        let (routing, response) = match flow {
            Flow::Other(future) => return future.as_mut().poll(cx),
            Flow::Done => panic!("estate: a response future was polled after it completed"),
            Flow::Routing(routing) => match routing.router.poll(cx, &routing.summary) {
                Poll::Ready(response) => (routing, response),
                Poll::Pending => return Poll::Pending,
            },
        };
        if is_plain_rejection(&routing.config, &response, &routing.summary) {
            // Rare: the rejection's text is read from its body first.
            let Flow::Routing(Routing {
                config,
                summary,
                probe,
                limited,
                ..
            }) = std::mem::replace(flow, Flow::Done)
            else {
                unreachable!("matched above")
            };
            let mut rest = Box::pin(async move {
                let response = plain_rejection_to_report(response).await;
                Ok(finish_routed(&config, &summary, probe, response, limited))
            });
            let poll = rest.as_mut().poll(cx);
            if poll.is_pending() {
                *flow = Flow::Other(rest);
            }
            return poll;
        }
        // Finished in place: the state is not moved out, only dropped.
        let response = finish_routed(
            &routing.config,
            &routing.summary,
            routing.probe.take(),
            response,
            routing.limited,
        );
        *flow = Flow::Done;
        Poll::Ready(Ok(response))
    }
}

impl GuardedRouter {
    /// Starts the request timeout (if one is set) now.
    fn new(router: RouterFuture, config: &CoreConfig) -> Self {
        let deadline = match config.request_timeout {
            Some(limit) => Deadline::Unarmed {
                started: tokio::time::Instant::now(),
                limit,
            },
            None => Deadline::Off,
        };
        GuardedRouter { router, deadline }
    }

    /// The router's response, a 500 for a panic, or a 503 once the
    /// deadline has passed.
    fn poll(&mut self, cx: &mut Context<'_>, summary: &RequestSummary) -> Poll<Response> {
        let router = &mut self.router;
        match std::panic::catch_unwind(AssertUnwindSafe(|| router.as_mut().poll(cx))) {
            Ok(Poll::Ready(Ok(response))) => return Poll::Ready(response),
            Ok(Poll::Ready(Err(never))) => match never {},
            Err(panic) => return Poll::Ready(panic_response(panic.as_ref(), summary)),
            Ok(Poll::Pending) => {}
        }
        if let Deadline::Unarmed { started, limit } = self.deadline {
            self.deadline = Deadline::Armed {
                timer: Box::pin(tokio::time::sleep_until(started + limit)),
                limit,
            };
        }
        match &mut self.deadline {
            Deadline::Armed { timer, limit } => match timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(timed_out(*limit, summary)),
                Poll::Pending => Poll::Pending,
            },
            _ => Poll::Pending,
        }
    }
}

/// The router's response, checked and finished.
fn finish_routed(
    config: &CoreConfig,
    summary: &RequestSummary,
    probe: Option<crate::metrics::RequestProbe>,
    response: Response,
    limited: bool,
) -> Response {
    let response = finish(config, body_overflow(config, response, limited), summary);
    if let Some(probe) = probe {
        probe.finish(&summary.method, response.status());
    }
    response
}

/// Where a request stands after the synchronous checks.
enum Routed {
    /// Stopped by a check, with this response.
    Stop(Response),
    /// Handed to the router; `limited` when a chunked body was wrapped in
    /// the size limit.
    Call { future: RouterFuture, limited: bool },
    /// The CSRF token may be in the form body: read it before routing.
    CsrfBody {
        request: Request<Body>,
        limited: bool,
    },
    /// The readiness probe (the database is asked).
    Ready,
    /// A `.cache_page(..)` route: look in the cache before routing.
    Page {
        request: Request<Body>,
        limited: bool,
        page: Box<crate::cache::page::PageRequest>,
    },
    /// A static or media file: which folder set, and the path after its URL.
    Static {
        index: usize,
        relative: String,
        headers: HeaderMap,
    },
}

fn start(
    config: &CoreConfig,
    routers: &Routers,
    mut request: Request<Body>,
) -> (RequestSummary, Routed) {
    let picked = PickedHeaders::of(request.headers());
    let mut summary = RequestSummary {
        started: config.access_log.then(Instant::now),
        secure: request_is_secure(config, request.headers(), request.uri()),
        method: request.method().clone(),
        uri: request.uri().clone(),
        accept: picked.accept.cloned(),
        content_type: picked.content_type.cloned(),
        // For the DEBUG error page, and for context processors.
        all_headers: (config.debug || config.capture_headers)
            .then(|| Box::new(request.headers().clone())),
        request_id: config
            .request_ids
            .as_ref()
            .map(|ids| ids.for_request(picked.request_id)),
        csrf: None,
        csp_nonce: None,
        accept_encoding: if config.compression {
            picked.accept_encoding.cloned()
        } else {
            None
        },
        page: None,
    };
    let checked = Checked {
        host: config.hosts.check_host(request.uri(), picked.host),
        declared_length: picked
            .content_length
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok()),
        has_cookie: picked.cookie,
    };
    let static_hit = config
        .static_files
        .iter()
        .enumerate()
        .find_map(|(index, files)| {
            files
                .wants(request.method(), request.uri().path())
                .map(|relative| (index, relative))
        });
    let preflight = preflight(config, &mut request, &checked);
    if let (Preflight::Pass { .. }, Some(ops)) = (&preflight, &config.ops)
        && let Some(endpoint) = ops.claims(request.uri().path())
    {
        let routed = match ops.answer(endpoint, &request) {
            super::ops::OpsAnswer::Now(response) => Routed::Stop(response),
            super::ops::OpsAnswer::Readiness => Routed::Ready,
        };
        return (summary, routed);
    }
    let routed = match (preflight, static_hit) {
        (Preflight::Stop(response), _) => Routed::Stop(response),
        (Preflight::Pass { .. }, Some((index, relative))) => Routed::Static {
            index,
            relative,
            headers: request.headers().clone(),
        },
        (Preflight::Pass { limited }, None) => {
            if config
                .csp
                .as_ref()
                .is_some_and(super::csp::CspConfig::wants_nonce)
            {
                summary.csp_nonce = Some(super::csp::CspNonce::fresh());
            }
            let verdict = match &config.csrf {
                None => super::csrf::Verdict::Pass,
                Some(csrf) => {
                    let state = if checked.has_cookie {
                        super::csrf::CsrfState::from_headers(request.headers())
                    } else {
                        super::csrf::CsrfState::without_cookie()
                    };
                    // Safe methods pass whatever the route says: look it up
                    // only for the others.
                    let exempt = !super::csrf::is_safe(request.method()) && {
                        let flags = route_flags(config, request.uri().path());
                        flags.csrf_exempt
                            || (flags.csrf_exempt_bearer && super::csrf::has_bearer_token(&request))
                    };
                    let verdict =
                        super::csrf::check_headers(csrf, &request, &state, summary.secure, exempt);
                    summary.csrf = Some(state);
                    verdict
                }
            };
            request.extensions_mut().insert(super::RequestCore {
                context: config.context.clone(),
                secure: super::RequestIsSecure(summary.secure),
                request_id: summary.request_id.clone(),
                csrf: summary.csrf.clone(),
                csp_nonce: summary.csp_nonce.clone(),
            });
            match verdict {
                super::csrf::Verdict::Pass => match page_request(config, &request, &summary) {
                    Some(page) => Routed::Page {
                        request,
                        limited,
                        page,
                    },
                    None => call_router(routers, request, limited, &summary),
                },
                super::csrf::Verdict::Reject(reason) => Routed::Stop(csrf_failure(reason)),
                super::csrf::Verdict::ReadBody => Routed::CsrfBody { request, limited },
            }
        }
    };
    (summary, routed)
}

/// The response for everything but a plainly routed request: after an early
/// stop, a form body or page-cache lookup, for a static file, the readiness
/// probe, or with the request's queries recorded.
async fn respond_otherwise(
    config: Arc<CoreConfig>,
    routers: Routers,
    mut summary: RequestSummary,
    probe: Option<crate::metrics::RequestProbe>,
    routed: Routed,
) -> Result<Response, Infallible> {
    // A form whose CSRF token is in its body, and a cached page's route,
    // are routed only now.
    let routed = route_later(&config, &routers, routed, &mut summary).await;
    let response = match routed {
        Routed::Stop(response) => response,
        Routed::CsrfBody { .. } | Routed::Page { .. } => unreachable!("handled above"),
        Routed::Ready => match &config.ops {
            Some(ops) => ops.ready().await,
            None => unreachable!("only routed with the endpoints on"),
        },
        Routed::Static {
            index,
            relative,
            headers,
        } => {
            super::static_files::serve(
                &config.static_files[index],
                &relative,
                &summary.method,
                &headers,
            )
            .await
        }
        Routed::Call { future, limited } => {
            let response = match config.query_log {
                None => await_router(&config, future, &summary).await,
                Some(rules) => {
                    let (response, queries) =
                        estate_orm::query_log::capture(await_router(&config, future, &summary))
                            .await;
                    review_queries(&config, rules, response, &queries, &summary)
                }
            };
            body_overflow(&config, response, limited)
        }
    };
    let response = finish(&config, response, &summary);
    // (The cache is looked up only for a page to store.)
    let response = match summary.page.as_deref() {
        Some(page) => match config.context.get::<crate::cache::Cache>() {
            Some(cache) => crate::cache::page::store(cache, page, response).await,
            None => response,
        },
        None => response,
    };
    if let Some(probe) = probe {
        probe.finish(&summary.method, response.status());
    }
    Ok(response)
}

/// Estate's 413 page when a chunked body hit the core's limit inside an
/// extractor (whose own 413 is plain text).
fn body_overflow(config: &CoreConfig, response: Response, limited: bool) -> Response {
    if limited
        && response.status() == StatusCode::PAYLOAD_TOO_LARGE
        && response.extensions().get::<Arc<ErrorReport>>().is_none()
    {
        report_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            too_large_message(config, None),
        )
    } else {
        response
    }
}

/// Routes a request that needs something awaited first: a form whose CSRF
/// token is in its body (read, checked, then routed), or a `.cache_page(..)`
/// route (answered from the cache, or routed with the page to store noted
/// in the summary). Anything else passes through as it is.
async fn route_later(
    config: &CoreConfig,
    routers: &Routers,
    routed: Routed,
    summary: &mut RequestSummary,
) -> Routed {
    match routed {
        Routed::CsrfBody { request, limited } => {
            let state = summary.csrf.clone().expect("set with the verdict");
            let limit =
                usize::try_from(body_limit(config, request.uri().path())).unwrap_or(usize::MAX);
            let read = super::csrf::check_body(request, &state, limit);
            // Reading the body counts against the request timeout.
            let checked = match config.request_timeout {
                Some(timeout) => tokio::time::timeout(timeout, read)
                    .await
                    .unwrap_or(Err(super::csrf::BodyError::TimedOut)),
                None => read.await,
            };
            match checked {
                Ok(request) => call_router(routers, request, limited, summary),
                Err(super::csrf::BodyError::TooLarge) => Routed::Stop(report_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    too_large_message(config, None),
                )),
                Err(super::csrf::BodyError::Unreadable) => Routed::Stop(report_response(
                    StatusCode::BAD_REQUEST,
                    "The request body could not be read.",
                )),
                Err(super::csrf::BodyError::TimedOut) => Routed::Stop(report_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The request took too long.",
                )),
                Err(super::csrf::BodyError::Rejected(reason)) => Routed::Stop(csrf_failure(reason)),
            }
        }
        Routed::Page {
            request,
            limited,
            page,
        } => match config.context.get::<crate::cache::Cache>() {
            Some(cache) => match crate::cache::page::fetch(cache, &page).await {
                Some(hit) => Routed::Stop(hit),
                None => {
                    summary.page = Some(page);
                    call_router(routers, request, limited, summary)
                }
            },
            None => call_router(routers, request, limited, summary),
        },
        routed => routed,
    }
}

/// The queries a failed request ran, kept for the DEBUG error page.
#[derive(Clone)]
struct RequestQueries(Arc<Vec<estate_orm::query_log::QueryRecord>>);

/// Calls the router; a layer's synchronous `call` can panic too, not only
/// futures.
fn call_router(
    routers: &Routers,
    request: Request<Body>,
    limited: bool,
    summary: &RequestSummary,
) -> Routed {
    // (`accept_encoding` is kept exactly when compression is on.)
    let compress = summary.accept_encoding.is_some();
    match std::panic::catch_unwind(AssertUnwindSafe(|| route(routers, request, compress))) {
        Ok(future) => Routed::Call { future, limited },
        Err(panic) => Routed::Stop(panic_response(panic.as_ref(), summary)),
    }
}

/// The 403 of a failed CSRF check; the reason shows in DEBUG only.
fn csrf_failure(reason: String) -> Response {
    tracing::warn!(target: "estate::security", reason = %reason, "CSRF verification failed");
    axum::response::IntoResponse::into_response(ErrorReport {
        status: StatusCode::FORBIDDEN,
        message: "CSRF verification failed. Request aborted.".to_owned(),
        public: true,
        chain: vec![
            "CSRF verification failed. Request aborted.".to_owned(),
            format!("Reason given for failure: {reason}"),
        ],
    })
}

/// Reports a request's queries: an `x-query-count` header, and for N+1
/// patterns a warning naming the call site (or, if configured, a 500).
fn review_queries(
    config: &CoreConfig,
    (rule, threshold): (crate::settings::NPlusOne, usize),
    mut response: Response,
    queries: &[estate_orm::query_log::QueryRecord],
    summary: &RequestSummary,
) -> Response {
    use crate::settings::NPlusOne;
    if let Ok(count) = HeaderValue::from_str(&queries.len().to_string()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-query-count"), count);
    }
    if config.debug && response.status().is_server_error() && !queries.is_empty() {
        // For the DEBUG error page, rendered on the way out.
        response
            .extensions_mut()
            .insert(RequestQueries(Arc::new(queries.to_vec())));
    }
    if rule == NPlusOne::Off {
        return response;
    }
    let repeated = estate_orm::query_log::repeated(queries, threshold);
    for repeat in &repeated {
        tracing::warn!(
            target: "estate::db",
            method = %summary.method,
            path = summary.uri.path(),
            "{repeat}"
        );
    }
    if rule == NPlusOne::Error && config.debug && !repeated.is_empty() {
        let report = ErrorReport {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "Internal Server Error".to_owned(),
            public: true,
            chain: std::iter::once(
                "the request ran the same query many times (logging.n_plus_one = \"error\")"
                    .to_owned(),
            )
            .chain(repeated.iter().map(ToString::to_string))
            .collect(),
        };
        let mut response = axum::response::IntoResponse::into_response(report);
        response
            .extensions_mut()
            .insert(RequestQueries(Arc::new(queries.to_vec())));
        return response;
    }
    response
}

/// The outcome of the checks made before routing.
enum Preflight {
    /// Go on; `limited` when a chunked body was wrapped in the size limit.
    Pass { limited: bool },
    /// The request stops here with this response.
    Stop(Response),
}

/// The request headers the core reads before routing, found in one pass
/// over the map. A request carries a handful of headers, while each lookup
/// by name hashes the name and probes the map: one pass costs less than
/// the seven lookups it replaces. The first value of each wins, as with
/// `HeaderMap::get`.
#[derive(Default)]
struct PickedHeaders<'a> {
    host: Option<&'a HeaderValue>,
    accept: Option<&'a HeaderValue>,
    accept_encoding: Option<&'a HeaderValue>,
    content_type: Option<&'a HeaderValue>,
    content_length: Option<&'a HeaderValue>,
    request_id: Option<&'a HeaderValue>,
    /// Whether there is any `Cookie` header (read in full only then).
    cookie: bool,
}

impl<'a> PickedHeaders<'a> {
    fn of(headers: &'a HeaderMap) -> Self {
        let mut picked = PickedHeaders::default();
        for (name, value) in headers {
            let slot = if name == HOST {
                &mut picked.host
            } else if name == http::header::ACCEPT {
                &mut picked.accept
            } else if name == ACCEPT_ENCODING {
                &mut picked.accept_encoding
            } else if name == http::header::CONTENT_TYPE {
                &mut picked.content_type
            } else if name == CONTENT_LENGTH {
                &mut picked.content_length
            } else if name == http::header::COOKIE {
                picked.cookie = true;
                continue;
            } else if name == REQUEST_ID_HEADER {
                &mut picked.request_id
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        picked
    }
}

/// What was decided from the picked headers before the request is changed.
struct Checked {
    host: Result<(), super::hosts::HostError>,
    declared_length: Option<u64>,
    has_cookie: bool,
}

/// Host, HTTPS and body-size checks.
fn preflight(config: &CoreConfig, request: &mut Request<Body>, checked: &Checked) -> Preflight {
    // An absolute-form request (`POST http://site/path`) names its host in
    // the target, and HTTP says that wins over the Host header: make the
    // header say the same, so the host that was checked is the only one
    // any later code (links in emails, redirects, CSRF) can read.
    if let Some(authority) = request.uri().authority()
        && let Ok(value) = HeaderValue::from_str(authority.as_str())
    {
        request.headers_mut().insert(HOST, value);
    }
    if let Err(err) = &checked.host {
        tracing::warn!(target: "estate::security", error = ?err, "refused request for a host not in ALLOWED_HOSTS");
        return Preflight::Stop(report_response(
            StatusCode::BAD_REQUEST,
            err.message(config.debug),
        ));
    }
    if config.ssl_redirect
        && !request_is_secure(config, request.headers(), request.uri())
        && !is_probe(config, request.uri().path())
    {
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
    let declared = checked.declared_length;
    let has_body = declared.is_some_and(|len| len > 0) || !request.body().is_end_stream();
    if !has_body {
        return Preflight::Pass { limited: false };
    }
    // The core enforces body limits (per route too); axum's own 2 MB
    // extractor default would otherwise cut in first. A route's
    // `max_body_size` layer, inside, still sets its own.
    DefaultBodyLimit::disable().apply(request);
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

/// Health probes answer over plain HTTP too (load balancers probe that way).
fn is_probe(config: &CoreConfig, path: &str) -> bool {
    config
        .ops
        .as_ref()
        .and_then(|ops| ops.claims(path))
        .is_some_and(|endpoint| {
            matches!(
                endpoint,
                super::ops::Endpoint::Liveness | super::ops::Endpoint::Readiness
            )
        })
}

/// The page-cache identity of a GET or HEAD request to a `.cache_page(..)`
/// route, when the app has a cache.
fn page_request(
    config: &CoreConfig,
    request: &Request<Body>,
    summary: &RequestSummary,
) -> Option<Box<crate::cache::page::PageRequest>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return None;
    }
    let duration = route_flags(config, request.uri().path()).cache_page?;
    config.context.get::<crate::cache::Cache>()?;
    crate::cache::page::PageRequest::new(
        request.method(),
        request.uri(),
        request.headers(),
        summary.secure,
        duration,
    )
    .map(Box::new)
}

fn route_flags(config: &CoreConfig, path: &str) -> crate::routing::RouteFlags {
    config
        .route_table
        .as_ref()
        .and_then(|table| table.at(path).ok().map(|m| *m.value))
        .unwrap_or_default()
}

fn body_limit(config: &CoreConfig, path: &str) -> u64 {
    route_flags(config, path)
        .max_body_size
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

/// Calls the router (through compression when the client accepts it).
fn route(routers: &Routers, request: Request<Body>, accepts_encoding: bool) -> RouterFuture {
    Box::pin(match &routers.compressed {
        Some(compressed) if accepts_encoding => {
            RouterCall::Compressed(compressed.clone().call(request))
        }
        _ => RouterCall::Plain(routers.plain.clone().call(request)),
    })
}

/// Runs the router's future as [`GuardedRouter`] does (the timeout counted
/// from now), then turns a plain rejection into an error report: for the
/// requests [`ResponseFuture`] does not answer inline.
async fn await_router(
    config: &CoreConfig,
    routed: RouterFuture,
    summary: &RequestSummary,
) -> Response {
    let mut guarded = GuardedRouter::new(routed, config);
    let response = std::future::poll_fn(|cx| guarded.poll(cx, summary)).await;
    if is_plain_rejection(config, &response, summary) {
        Box::pin(plain_rejection_to_report(response)).await
    } else {
        response
    }
}

/// The 503 for a request that ran past the request timeout, logged.
fn timed_out(limit: Duration, summary: &RequestSummary) -> Response {
    tracing::error!(
        target: "estate::request",
        method = %summary.method,
        path = summary.uri.path(),
        request_id = summary.request_id.as_ref().map(tracing::field::display),
        timeout_ms = limit.as_millis() as u64,
        "request timed out"
    );
    report_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "The server took too long to respond to this request.",
    )
}

/// Whether a response is a plain-text error (what axum's extractors answer
/// when a body or query string does not parse) on a `.json_errors()` route:
/// those become error reports, so the client gets the route's problem JSON.
fn is_plain_rejection(config: &CoreConfig, response: &Response, summary: &RequestSummary) -> bool {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<Arc<ErrorReport>>().is_some()
    {
        return false;
    }
    let plain = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("text/plain"));
    plain && route_flags(config, summary.uri.path()).json_errors
}

/// The error report for a plain rejection (see [`is_plain_rejection`]); its
/// text is the message.
async fn plain_rejection_to_report(response: Response) -> Response {
    let status = response.status();
    let message = match axum::body::to_bytes(response.into_body(), 64 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_owned()
    } else {
        message
    };
    // A server error's own text may say too much: shown in DEBUG only.
    let mut report = ErrorReport::new(status, message);
    report.public = !status.is_server_error();
    axum::response::IntoResponse::into_response(report)
}

/// The 500 for a panic in a handler or layer, logged with the request.
fn panic_response(panic: &(dyn std::any::Any + Send), summary: &RequestSummary) -> Response {
    let message = panic_message(panic);
    tracing::error!(
        target: "estate::request",
        method = %summary.method,
        path = summary.uri.path(),
        request_id = summary.request_id.as_ref().map(tracing::field::display),
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

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
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
fn finish(config: &CoreConfig, mut response: Response, summary: &RequestSummary) -> Response {
    if let Some(pending) = response
        .extensions_mut()
        .remove::<crate::templates::PendingTemplate>()
    {
        response = render_template(config, response, &pending, summary);
    }
    if let Some(report) = response.extensions_mut().remove::<Arc<ErrorReport>>() {
        let queries = response.extensions_mut().remove::<RequestQueries>();
        let queries = queries.as_ref().map_or(&[][..], |q| q.0.as_slice());
        response = render_error(config, response, &report, summary, queries);
    }
    if let (Some(state), Some(csrf)) = (&summary.csrf, &config.csrf) {
        if let Some(cookie) = state.cookie_to_set(csrf.cookie_secure) {
            response
                .headers_mut()
                .append(http::header::SET_COOKIE, cookie);
        }
        if state.was_used() {
            // The page holds a per-visitor token: caches must key on the cookie.
            response
                .headers_mut()
                .append(http::header::VARY, HeaderValue::from_static("Cookie"));
        }
    }
    if let Some(csp) = &config.csp {
        for (name, value) in csp.headers(summary.csp_nonce.as_ref()) {
            // A handler's own policy wins.
            response.headers_mut().entry(name).or_insert(value);
        }
    }
    let headers = response.headers_mut();
    if let Some(defaults) = &config.security_headers {
        add_security_headers(headers, defaults, usize::from(summary.request_id.is_some()));
    }
    if summary.secure {
        if let Some(hsts) = &config.hsts {
            headers.insert(http::header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
    }
    if let Some(id) = &summary.request_id {
        headers.insert(REQUEST_ID_HEADER, id.header_value());
    }
    if let Some(started) = summary.started {
        tracing::info!(
            target: "estate::access",
            method = %summary.method,
            path = summary.uri.path(),
            status = response.status().as_u16(),
            duration_us = started.elapsed().as_micros() as u64,
            request_id = summary.request_id.as_ref().map(tracing::field::display),
            "request"
        );
    }
    response
}

/// Adds the security headers a handler did not set itself, leaving room for
/// `more` headers after them.
///
/// A response's header map grows by rehashing and reallocating, which costs
/// more than the inserts. A handler's map usually has room for its own few
/// headers and the four security headers (axum's first allocation holds
/// six): then they are inserted, the handler's own value of one winning.
/// When they would not fit, the response starts from the pre-built map
/// (room for twelve, the hashes already computed) and the handler's headers
/// move in; `extend` inserts the first value of each name, so the handler's
/// values still win.
fn add_security_headers(headers: &mut HeaderMap, defaults: &HeaderMap, more: usize) {
    if headers.len() + defaults.len() + more <= headers.capacity() {
        for (name, value) in defaults {
            headers.entry(name).or_insert_with(|| value.clone());
        }
    } else {
        let own = std::mem::replace(headers, defaults.clone());
        headers.extend(own);
    }
}

/// Renders a [`Template`](crate::templates::Template) response with the
/// request's context; keeps the handler's status and headers.
fn render_template(
    config: &CoreConfig,
    response: Response,
    pending: &crate::templates::PendingTemplate,
    summary: &RequestSummary,
) -> Response {
    let Some(templates) = config.context.get::<crate::templates::Templates>() else {
        return axum::response::IntoResponse::into_response(crate::error::Error::internal(
            "a Template response needs the app's template engine",
        ));
    };
    // The app's processors (later ones win), then values added on the way
    // out (middleware), in rising priority; the handler's win over all.
    let mut added: Vec<minijinja::Value> = Vec::new();
    if let Some(processors) = config.context.get::<crate::templates::ContextProcessors>() {
        let head = crate::templates::RequestHead {
            method: summary.method.clone(),
            uri: summary.uri.clone(),
            headers: summary.all_headers.as_deref().cloned().unwrap_or_default(),
        };
        added.extend(processors.0.iter().map(|p| p.run(&head)));
    }
    if let Some(extra) = response
        .extensions()
        .get::<crate::templates::ExtraContext>()
        .cloned()
    {
        added.push(extra.into_value());
    }
    match pending.render(
        templates,
        &summary.method,
        summary.uri.path(),
        config.debug,
        summary.csrf.clone(),
        summary.csp_nonce.clone(),
        added,
    ) {
        Ok(html) => {
            let (mut parts, _) = response.into_parts();
            // The placeholder body's length no longer applies.
            parts.headers.remove(http::header::CONTENT_LENGTH);
            if let Some(gzipped) = gzip_page(summary, &parts.headers, &html.0) {
                parts.headers.insert(
                    http::header::CONTENT_ENCODING,
                    HeaderValue::from_static("gzip"),
                );
                parts.headers.append(
                    http::header::VARY,
                    HeaderValue::from_static("Accept-Encoding"),
                );
                parts
                    .headers
                    .entry(http::header::CONTENT_TYPE)
                    .or_insert(HeaderValue::from_static("text/html; charset=utf-8"));
                return Response::from_parts(parts, Body::from(gzipped));
            }
            let page = axum::response::IntoResponse::into_response(html);
            let (page_parts, body) = page.into_parts();
            if let Some(content_type) = page_parts.headers.get(http::header::CONTENT_TYPE) {
                parts
                    .headers
                    .entry(http::header::CONTENT_TYPE)
                    .or_insert(content_type.clone());
            }
            Response::from_parts(parts, body)
        }
        Err(err) => axum::response::IntoResponse::into_response(err),
    }
}

/// A template page gzipped, when compression is on, the client takes gzip,
/// the handler set no encoding, and the page is big enough to gain.
fn gzip_page(summary: &RequestSummary, headers: &HeaderMap, page: &str) -> Option<Vec<u8>> {
    use std::io::Write as _;
    let accepted = summary
        .accept_encoding
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| super::static_files::accepts(v, "gzip"));
    if !accepted || page.len() < 1024 || headers.contains_key(http::header::CONTENT_ENCODING) {
        return None;
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(page.as_bytes()).ok()?;
    encoder.finish().ok()
}

fn render_error(
    config: &CoreConfig,
    original: Response,
    report: &ErrorReport,
    summary: &RequestSummary,
    queries: &[estate_orm::query_log::QueryRecord],
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
    let request_id = summary.request_id.as_ref().map(ToString::to_string);
    let context = ErrorContext {
        status,
        message,
        chain: if config.debug { &report.chain } else { empty },
        debug: config.debug,
        method: &summary.method,
        path: summary.uri.path(),
        request_id: request_id.as_deref(),
        wants_json: route_flags(config, summary.uri.path()).json_errors
            || wants_json(summary.accept.as_ref(), summary.content_type.as_ref()),
        routes: if config.debug {
            config.context.routes()
        } else {
            &[]
        },
        headers: summary.all_headers.as_deref().filter(|_| config.debug),
        queries,
        csp_nonce: summary.csp_nonce.as_ref().map(|n| &*n.0),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_headers_are_the_first_value_of_each_as_get_would_give() {
        let mut headers = HeaderMap::new();
        headers.append(HOST, HeaderValue::from_static("example.com"));
        headers.append(http::header::ACCEPT, HeaderValue::from_static("text/html"));
        headers.append(http::header::ACCEPT, HeaderValue::from_static("*/*"));
        headers.append(CONTENT_LENGTH, HeaderValue::from_static("12"));
        headers.append(REQUEST_ID_HEADER, HeaderValue::from_static("abc-1"));
        headers.append(
            HeaderName::from_static("x-unrelated"),
            HeaderValue::from_static("1"),
        );
        let picked = PickedHeaders::of(&headers);
        for (name, value) in [
            (HOST, picked.host),
            (http::header::ACCEPT, picked.accept),
            (CONTENT_LENGTH, picked.content_length),
            (REQUEST_ID_HEADER, picked.request_id),
            (ACCEPT_ENCODING, picked.accept_encoding),
            (http::header::CONTENT_TYPE, picked.content_type),
        ] {
            assert_eq!(value, headers.get(&name), "{name}");
        }
        assert!(!picked.cookie);
        headers.append(http::header::COOKIE, HeaderValue::from_static("a=1"));
        assert!(PickedHeaders::of(&headers).cookie);
    }

    #[test]
    fn security_headers_fill_in_what_the_handler_left_out_whether_or_not_they_fit() {
        let settings = crate::settings::SettingsLoader::new()
            .set("debug", true)
            .load()
            .unwrap();
        let defaults = super::super::security_headers::security_headers(&settings.security);
        let handler_map = |cookies: bool, extra: usize| {
            let mut headers = HeaderMap::new();
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain"),
            );
            headers.insert(
                http::header::X_FRAME_OPTIONS,
                HeaderValue::from_static("SAMEORIGIN"),
            );
            if cookies {
                headers.append(http::header::SET_COOKIE, HeaderValue::from_static("a=1"));
                headers.append(http::header::SET_COOKIE, HeaderValue::from_static("b=2"));
            }
            for i in 0..extra {
                headers.insert(
                    HeaderName::try_from(format!("x-extra-{i}")).unwrap(),
                    HeaderValue::from_static("1"),
                );
            }
            headers
        };
        // Room left in the handler's map (the headers are inserted), and
        // none (the handler's headers move into the pre-built map).
        for (cookies, extra, more, fits) in [
            (false, 0, 0, true),
            (true, 0, 1, false),
            (true, 6, 1, false),
        ] {
            let mut headers = handler_map(cookies, extra);
            assert_eq!(
                headers.len() + defaults.len() + more <= headers.capacity(),
                fits
            );
            add_security_headers(&mut headers, &defaults, more);
            assert_eq!(
                headers["x-frame-options"], "SAMEORIGIN",
                "the handler's value wins"
            );
            assert_eq!(headers["x-content-type-options"], "nosniff");
            assert_eq!(headers["referrer-policy"], "same-origin");
            assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
            assert_eq!(headers["content-type"], "text/plain");
            let cookie_values: Vec<_> = headers.get_all(http::header::SET_COOKIE).iter().collect();
            let expected: &[&str] = if cookies { &["a=1", "b=2"] } else { &[] };
            assert_eq!(
                cookie_values, expected,
                "every value of a repeated header is kept"
            );
            assert_eq!(headers.keys_len(), 5 + usize::from(cookies) + extra);
            assert_eq!(headers.len(), headers.keys_len() + usize::from(cookies));
        }
    }
}
