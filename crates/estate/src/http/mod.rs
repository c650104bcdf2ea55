//! The secure-by-default HTTP core: host checks, limits, timeouts, security
//! headers, request ids, error pages.

pub mod collectstatic;
pub(crate) mod cookies;
pub(crate) mod core;
pub mod csp;
pub mod csrf;
pub mod error_pages;
pub(crate) mod hosts;
pub(crate) mod ops;
mod request_core;
mod request_id;
pub(crate) mod security_headers;
pub mod static_files;

pub use self::core::{EstateService, ResponseFuture};
pub use error_pages::{ErrorContext, ErrorPageFn, ErrorPages};
pub(crate) use request_core::RequestCore;
pub(crate) use request_id::RequestIds;
pub use request_id::{REQUEST_ID_HEADER, RequestId};

/// Whether the request came over HTTPS (directly, or through a proxy that
/// says so in `security.secure_proxy_ssl_header`). An axum extractor; in a
/// tower layer, [`RequestIsSecure::from_extensions`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestIsSecure(pub bool);

impl RequestIsSecure {
    /// The request's flag, from its extensions (`None` outside an Estate app).
    pub fn from_extensions(extensions: &http::Extensions) -> Option<RequestIsSecure> {
        RequestCore::of(extensions).map(|core| core.secure)
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestIsSecure {
    type Rejection = crate::Error;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        RequestIsSecure::from_extensions(&parts.extensions)
            .ok_or_else(|| crate::Error::msg("the request did not come through an Estate app"))
    }
}
