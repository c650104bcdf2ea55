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
mod request_id;
pub(crate) mod security_headers;
pub mod static_files;

pub use self::core::EstateService;
pub use error_pages::{ErrorContext, ErrorPageFn, ErrorPages};
pub(crate) use request_id::RequestIds;
pub use request_id::{REQUEST_ID_HEADER, RequestId};

/// Whether the request came over HTTPS (directly, or through a proxy that
/// says so in `security.secure_proxy_ssl_header`). In the request's
/// extensions; an axum extractor through `Extension<RequestIsSecure>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestIsSecure(pub bool);
