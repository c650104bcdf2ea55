//! Request ids: one per request, in the `x-request-id` response header, in the
//! access log and on error pages, so a user's report can be matched to logs.
//!
//! An incoming `x-request-id` (set by a load balancer) is kept when it looks
//! like an id; otherwise a new one is made from a per-process random prefix
//! and a counter, which costs no randomness per request.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::FromRequestParts;
use http::HeaderValue;
use http::request::Parts;

/// The header carrying the id (pre-parsed, so using it costs no parsing).
pub const REQUEST_ID_HEADER: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// The current request's id. An extractor; in a tower layer,
/// [`RequestId::from_extensions`].
///
/// A generated id is kept as two numbers and only turned into text when it
/// is written (response header, logs, error page): no allocation per request
/// until then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(Repr);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Repr {
    Generated { prefix: u32, counter: u64 },
    Incoming(HeaderValue),
}

impl RequestId {
    /// The id as a header value.
    pub fn header_value(&self) -> HeaderValue {
        match &self.0 {
            Repr::Incoming(value) => value.clone(),
            Repr::Generated { prefix, counter } => {
                let mut buf = [0u8; 25];
                let len = format_generated(*prefix, *counter, &mut buf);
                HeaderValue::from_bytes(&buf[..len]).expect("hex digits are a valid header value")
            }
        }
    }
}

/// Writes `pppppppp-c…` (prefix and counter in hex) and returns the length.
fn format_generated(prefix: u32, counter: u64, buf: &mut [u8; 25]) -> usize {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, slot) in buf[..8].iter_mut().enumerate() {
        *slot = HEX[((prefix >> (28 - 4 * i)) & 0xf) as usize];
    }
    buf[8] = b'-';
    let digits = (64 - counter.leading_zeros() as usize).div_ceil(4).max(1);
    for i in 0..digits {
        buf[9 + i] = HEX[((counter >> (4 * (digits - 1 - i))) & 0xf) as usize];
    }
    9 + digits
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Repr::Incoming(value) => f.write_str(value.to_str().unwrap_or_default()),
            Repr::Generated { prefix, counter } => {
                let mut buf = [0u8; 25];
                let len = format_generated(*prefix, *counter, &mut buf);
                f.write_str(std::str::from_utf8(&buf[..len]).unwrap_or_default())
            }
        }
    }
}

impl RequestId {
    /// The request's id, from its extensions (`None` when request ids are
    /// off, or outside an Estate app).
    pub fn from_extensions(extensions: &http::Extensions) -> Option<RequestId> {
        super::RequestCore::of(extensions).and_then(|core| core.request_id.clone())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        RequestId::from_extensions(&parts.extensions).ok_or_else(|| {
            crate::Error::msg("no request id: request ids are turned off for this app")
        })
    }
}

/// Makes request ids.
#[derive(Debug)]
pub(crate) struct RequestIds {
    prefix: u32,
    counter: AtomicU64,
}

impl RequestIds {
    pub(crate) fn new() -> Self {
        let mut bytes = [0u8; 4];
        // A fixed prefix is still unique per process; randomness only helps
        // tell instances apart.
        let _ = getrandom::fill(&mut bytes);
        RequestIds {
            prefix: u32::from_le_bytes(bytes),
            counter: AtomicU64::new(1),
        }
    }

    /// Keeps a well-formed incoming id, or makes a new one.
    pub(crate) fn for_request(&self, incoming: Option<&HeaderValue>) -> RequestId {
        if let Some(value) = incoming.filter(|v| is_acceptable(v.as_bytes())) {
            return RequestId(Repr::Incoming(value.clone()));
        }
        RequestId(Repr::Generated {
            prefix: self.prefix,
            counter: self.counter.fetch_add(1, Ordering::Relaxed),
        })
    }
}

fn is_acceptable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_hex() {
        let ids = RequestIds::new();
        let a = ids.for_request(None);
        let b = ids.for_request(None);
        assert_ne!(a, b);
        let a = a.to_string();
        let (prefix, counter) = a.split_once('-').unwrap();
        assert_eq!(prefix.len(), 8);
        assert!(prefix.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(counter, "1");
        assert_eq!(b.to_string().split_once('-').unwrap().1, "2");
        assert_eq!(b.header_value(), b.to_string().as_str());
        let big = RequestId(Repr::Generated {
            prefix: 0xdeadbeef,
            counter: 0x1f3,
        });
        assert_eq!(big.to_string(), "deadbeef-1f3");
    }

    #[test]
    fn keeps_well_formed_incoming_ids_only() {
        let ids = RequestIds::new();
        let good = HeaderValue::from_static("lb-1234.abc");
        assert_eq!(ids.for_request(Some(&good)).to_string(), "lb-1234.abc");
        let bad = HeaderValue::from_static("<script>");
        assert_ne!(ids.for_request(Some(&bad)).to_string(), "<script>");
    }
}
