//! The one error type handlers and startup code return.
//!
//! [`Error`] carries an HTTP status, a message that is safe to show to the
//! client, and optionally the underlying cause. Any `std::error::Error` converts
//! into it with `?` and becomes a `500 Internal Server Error` whose cause is
//! only ever shown in DEBUG. Client mistakes are built with the named
//! constructors ([`Error::not_found`], [`Error::bad_request`], ...), whose
//! message *is* shown to the client.
//!
//! Returned from a handler, an `Error` is rendered by the Estate core as an
//! HTML page or a JSON problem document, whichever the client asked for (see
//! [`crate::http::error_pages`]).

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error with an HTTP status, a client-safe message and an optional cause.
///
/// Like `anyhow::Error`, it deliberately does not implement
/// `std::error::Error` itself, so that every error type converts into it with `?`.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    status: StatusCode,
    message: Cow<'static, str>,
    /// Whether `message` was written for the client (named constructors) or
    /// is a developer-facing text (`?` conversions, `Error::msg`).
    public: bool,
    source: Option<BoxError>,
}

impl Error {
    /// An error with the given status and a message shown to the client.
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            inner: Box::new(Inner {
                status,
                message: message.into(),
                public: true,
                source: None,
            }),
        }
    }

    /// `400 Bad Request`: the client sent something invalid; `message` says what.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// `403 Forbidden`: the client may not do this.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// `404 Not Found`: the thing asked for does not exist.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// `409 Conflict`: the request conflicts with the current state.
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// `503 Service Unavailable`: something the site needs (the database)
    /// cannot be reached right now; the client may retry later.
    pub fn service_unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// `500 Internal Server Error` caused by `source`. The cause is logged and
    /// shown in DEBUG only; the client sees a generic message.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Error::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").with_source(source)
    }

    /// A developer-facing error outside a request (startup, commands, settings):
    /// the message is the whole story and is printed as is.
    pub fn msg(message: impl Into<Cow<'static, str>>) -> Self {
        let mut err = Self::new(StatusCode::INTERNAL_SERVER_ERROR, message);
        err.inner.public = false;
        err
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// The HTTP status this error responds with.
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    /// The message. Shown to clients only if [`is_public`](Self::is_public)
    /// or in DEBUG.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// Whether the message was written for clients (the named constructors)
    /// rather than for developers (`?` on another error, [`Error::msg`]).
    pub fn is_public(&self) -> bool {
        self.inner.public
    }

    /// The cause, if any.
    pub fn source(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.inner.source.as_deref()
    }

    /// The message followed by every cause in the chain, outermost first.
    pub fn chain(&self) -> Vec<String> {
        let mut out = vec![self.inner.message.to_string()];
        let mut next: Option<&(dyn StdError + 'static)> = match &self.inner.source {
            Some(source) => Some(source.as_ref()),
            None => None,
        };
        while let Some(err) = next {
            let text = err.to_string();
            if out.last() != Some(&text) {
                out.push(text);
            }
            next = err.source();
        }
        out
    }

    /// Looks for a cause of type `E` anywhere in the chain.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        let mut next: Option<&(dyn StdError + 'static)> = match &self.inner.source {
            Some(source) => Some(source.as_ref()),
            None => None,
        };
        while let Some(err) = next {
            if let Some(found) = err.downcast_ref::<E>() {
                return Some(found);
            }
            next = err.source();
        }
        None
    }
}

impl<E> From<E> for Error
where
    E: StdError + Send + Sync + 'static,
{
    fn from(err: E) -> Self {
        // The database being unreachable is no bug of the site: a 503 the
        // client (or load balancer) may retry, not a 500.
        if (&err as &dyn std::any::Any)
            .downcast_ref::<estate_orm::DbError>()
            .is_some_and(estate_orm::DbError::is_unavailable)
        {
            return Error::service_unavailable(DATABASE_UNAVAILABLE).with_source(err);
        }
        // Developer errors that already explain themselves (settings, reverse,
        // startup) keep their text as the message; it is still only shown to
        // clients in DEBUG because the status is 500.
        Error::msg(err.to_string()).with_source(err)
    }
}

/// The client-facing message of a request that failed because the
/// database could not be reached.
const DATABASE_UNAVAILABLE: &str =
    "The service is temporarily unavailable. Please try again in a moment.";

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.chain().join(": "))
    }
}

impl fmt::Debug for Error {
    // `main() -> estate::Result<()>` prints errors with Debug: make that the
    // readable report a developer wants, not a struct dump.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chain = self.chain();
        f.write_str(&chain[0])?;
        if chain.len() > 1 {
            f.write_str("\n\nCaused by:")?;
            for (i, cause) in chain[1..].iter().enumerate() {
                write!(f, "\n    {i}: {cause}")?;
            }
        }
        Ok(())
    }
}

/// What the Estate core needs to render an error page for a response produced
/// by an [`Error`]: attached to the response's extensions.
#[derive(Clone, Debug)]
pub struct ErrorReport {
    /// The response status.
    pub status: StatusCode,
    /// The message.
    pub message: String,
    /// Whether `message` may be shown to clients outside DEBUG.
    pub public: bool,
    /// Message and causes, outermost first. Shown in DEBUG only.
    pub chain: Vec<String>,
}

impl ErrorReport {
    /// A report for a status with a client-safe message and no causes.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let message = message.into();
        ErrorReport {
            status,
            chain: vec![message.clone()],
            message,
            public: true,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        // `Error::internal(db_error)` and errors wrapping a database error:
        // an unreachable database is a 503 however it travelled.
        if self.status() == StatusCode::INTERNAL_SERVER_ERROR
            && self
                .downcast_ref::<estate_orm::DbError>()
                .is_some_and(estate_orm::DbError::is_unavailable)
        {
            let mut unavailable = self;
            unavailable.inner.status = StatusCode::SERVICE_UNAVAILABLE;
            unavailable.inner.message = DATABASE_UNAVAILABLE.into();
            unavailable.inner.public = true;
            return unavailable.into_response();
        }
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(target: "estate::request", status = status.as_u16(), error = %self, "request failed");
        }
        let report = ErrorReport {
            status,
            message: self.message().to_owned(),
            public: self.is_public(),
            chain: self.chain(),
        };
        report.into_response()
    }
}

impl IntoResponse for ErrorReport {
    /// A plain-text fallback body; inside an Estate app the core replaces it
    /// with an HTML or JSON page (it knows the request's `Accept` and DEBUG).
    fn into_response(self) -> Response {
        let body = if !self.public {
            self.status
                .canonical_reason()
                .unwrap_or("Server Error")
                .to_owned()
        } else {
            self.message.clone()
        };
        let mut response = (self.status, body).into_response();
        response.extensions_mut().insert(Arc::new(self));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Root;
    impl fmt::Display for Root {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("disk on fire")
        }
    }
    impl StdError for Root {}

    #[test]
    fn question_mark_turns_any_error_into_a_500_with_its_cause() {
        fn fails() -> Result<()> {
            Err(Root)?;
            Ok(())
        }
        let err = fails().unwrap_err();
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(err.downcast_ref::<Root>().is_some());
        assert_eq!(err.chain(), vec!["disk on fire".to_owned()]);
    }

    #[test]
    fn internal_errors_hide_the_cause_from_the_message() {
        let err = Error::internal(Root);
        assert_eq!(err.message(), "Internal Server Error");
        assert_eq!(err.chain(), vec!["Internal Server Error", "disk on fire"]);
        assert_eq!(
            format!("{err:?}"),
            "Internal Server Error\n\nCaused by:\n    0: disk on fire"
        );
    }

    #[test]
    fn client_errors_keep_their_message() {
        let err = Error::not_found("No question 7");
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
        assert_eq!(err.to_string(), "No question 7");
    }
}
