//! What the core attaches to each request it routes, as one extension.
//!
//! Handlers and layers reach these values through their extractors
//! ([`AppContext`], [`RequestId`], [`RequestIsSecure`], [`CspNonce`],
//! [`CsrfToken`](super::csrf::CsrfToken)) or, in a plain tower layer,
//! through `from_extensions` on each type. They travel together because
//! every `Extensions::insert` boxes its value and the map reallocates past
//! three entries: one value instead of five saves a request about a dozen
//! allocations' worth of work (see bench/README.md).

use http::Extensions;

use super::csp::CspNonce;
use super::csrf::CsrfState;
use super::{RequestId, RequestIsSecure};
use crate::AppContext;

/// Everything the core knows about a request that handlers may ask for.
#[derive(Clone)]
pub(crate) struct RequestCore {
    pub(crate) context: AppContext,
    pub(crate) secure: RequestIsSecure,
    pub(crate) request_id: Option<RequestId>,
    pub(crate) csrf: Option<CsrfState>,
    pub(crate) csp_nonce: Option<CspNonce>,
}

impl RequestCore {
    /// The core's values in a request's extensions, when the request came
    /// through an Estate app.
    pub(crate) fn of(extensions: &Extensions) -> Option<&RequestCore> {
        extensions.get::<RequestCore>()
    }
}
