//! The secure-by-default HTTP core: host checks, limits, timeouts, security
//! headers, request ids, error pages.

pub mod collectstatic;
pub(crate) mod cookies;
pub(crate) mod core;
pub mod csp;
pub mod csrf;
pub mod error_pages;
pub(crate) mod hosts;
mod request_id;
pub(crate) mod security_headers;
pub mod static_files;

pub use self::core::EstateService;
pub use error_pages::{ErrorContext, ErrorPageFn, ErrorPages};
pub(crate) use request_id::RequestIds;
pub use request_id::{REQUEST_ID_HEADER, RequestId};
