//! The endpoints the core answers itself, before routing (so no session,
//! CSRF or app layer runs): the health probes and the Prometheus metrics.
//! The host check still applies.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, StatusCode};

use crate::error::ErrorReport;
use crate::metrics::{IpNetwork, Metrics};
use crate::settings::SecretKey;

/// The built-in endpoints in use, fixed at startup.
pub(crate) struct OpsEndpoints {
    pub(crate) liveness: Option<String>,
    pub(crate) readiness: Option<String>,
    pub(crate) readiness_timeout: Duration,
    /// Set when the server begins shutting down: the readiness probe fails
    /// from then on, so load balancers stop sending new requests.
    pub(crate) draining: AtomicBool,
    pub(crate) database: Option<estate_orm::Database>,
    pub(crate) metrics: Option<MetricsEndpoint>,
}

/// `/metrics` and who may read it.
pub(crate) struct MetricsEndpoint {
    pub(crate) path: String,
    pub(crate) metrics: Metrics,
    pub(crate) token: Option<SecretKey>,
    pub(crate) allowed: Vec<IpNetwork>,
}

/// Which built-in endpoint a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Liveness,
    Readiness,
    Metrics,
}

/// What the core does with a request for a built-in endpoint.
pub(crate) enum OpsAnswer {
    /// Answered already.
    Now(Response),
    /// The readiness probe: ask the database.
    Readiness,
}

impl OpsEndpoints {
    /// The endpoint at `path`, if any (a few string comparisons).
    pub(crate) fn claims(&self, path: &str) -> Option<Endpoint> {
        if self.liveness.as_deref() == Some(path) {
            Some(Endpoint::Liveness)
        } else if self.readiness.as_deref() == Some(path) {
            Some(Endpoint::Readiness)
        } else if self.metrics.as_ref().is_some_and(|m| m.path == path) {
            Some(Endpoint::Metrics)
        } else {
            None
        }
    }

    /// The paths served, with what they are, for the route listing.
    pub(crate) fn listing(&self) -> Vec<(String, &'static str)> {
        let mut out = Vec::new();
        if let Some(path) = &self.liveness {
            out.push((path.clone(), "(estate: liveness probe)"));
        }
        if let Some(path) = &self.readiness {
            out.push((path.clone(), "(estate: readiness probe)"));
        }
        if let Some(metrics) = &self.metrics {
            out.push((metrics.path.clone(), "(estate: Prometheus metrics)"));
        }
        out
    }

    /// Answers what needs no waiting; the readiness probe is left to
    /// [`ready`](Self::ready).
    pub(crate) fn answer(&self, endpoint: Endpoint, request: &Request<Body>) -> OpsAnswer {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            let mut response = ErrorReport::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "The method {} is not allowed for this resource.",
                    request.method()
                ),
            )
            .into_response();
            response
                .headers_mut()
                .insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return OpsAnswer::Now(response);
        }
        match endpoint {
            Endpoint::Liveness => OpsAnswer::Now(plain(StatusCode::OK, "ok")),
            Endpoint::Readiness => OpsAnswer::Readiness,
            Endpoint::Metrics => OpsAnswer::Now(match &self.metrics {
                Some(metrics) => metrics.answer(request),
                None => plain(StatusCode::NOT_FOUND, "not found"),
            }),
        }
    }

    /// Marks the process as shutting down (see [`ready`](Self::ready)).
    pub(crate) fn begin_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// The readiness probe: 503 once shutdown has begun, else `SELECT 1`
    /// within the timeout.
    pub(crate) async fn ready(&self) -> Response {
        use estate_orm::RawSql as _;
        if self.draining.load(Ordering::Relaxed) {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
        }
        let Some(db) = &self.database else {
            return plain(StatusCode::OK, "ok");
        };
        let timeout = self.readiness_timeout;
        let problem = match tokio::time::timeout(
            timeout,
            db.fetch_one("SELECT 1", estate_orm::params![]),
        )
        .await
        {
            Ok(Ok(_)) => return plain(StatusCode::OK, "ok"),
            Ok(Err(err)) => {
                tracing::warn!(target: "estate::health", error = %err, "readiness probe: the database failed");
                match err.kind() {
                    estate_orm::ErrorKind::Connection => "database unavailable: cannot connect",
                    estate_orm::ErrorKind::PoolTimeout => {
                        "database unavailable: no connection in time"
                    }
                    _ => "database unavailable: the query failed",
                }
            }
            Err(_) => {
                tracing::warn!(
                    target: "estate::health",
                    timeout_ms = timeout.as_millis() as u64,
                    "readiness probe: the database did not answer in time"
                );
                "database unavailable: no answer in time"
            }
        };
        plain(StatusCode::SERVICE_UNAVAILABLE, problem)
    }
}

impl MetricsEndpoint {
    fn answer(&self, request: &Request<Body>) -> Response {
        if !self.allowed.is_empty() {
            let peer = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip());
            if !peer.is_some_and(|ip| self.allowed.iter().any(|net| net.contains(ip))) {
                return ErrorReport::new(
                    StatusCode::FORBIDDEN,
                    "This address may not read the metrics.",
                )
                .into_response();
            }
        }
        if let Some(token) = &self.token {
            let given = request
                .headers()
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim);
            let valid = given.is_some_and(|given| {
                crate::crypto::constant_time_eq(given.as_bytes(), token.expose().as_bytes())
            });
            if !valid {
                let mut response = ErrorReport::new(
                    StatusCode::UNAUTHORIZED,
                    "The metrics need a valid bearer token.",
                )
                .into_response();
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            }
        }
        let mut response = Response::new(Body::from(self.metrics.render()));
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// A short plain-text answer for probes, never cached.
fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
