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

/// The header carrying the id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The current request's id. An extractor; also in the request extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub(crate) HeaderValue);

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII.
        self.0.to_str().unwrap_or_default()
    }

    pub(crate) fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<RequestId>().cloned().ok_or_else(|| {
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
            return RequestId(value.clone());
        }
        RequestId(self.next())
    }

    fn next(&self) -> HeaderValue {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut buf = [0u8; 8 + 1 + 16];
        for (i, slot) in buf[..8].iter_mut().enumerate() {
            *slot = HEX[((self.prefix >> (28 - 4 * i)) & 0xf) as usize];
        }
        buf[8] = b'-';
        let mut digits = 0;
        let mut rest = n;
        let mut tmp = [0u8; 16];
        while rest > 0 || digits == 0 {
            tmp[digits] = HEX[(rest & 0xf) as usize];
            rest >>= 4;
            digits += 1;
        }
        for i in 0..digits {
            buf[9 + i] = tmp[digits - 1 - i];
        }
        HeaderValue::from_bytes(&buf[..9 + digits]).expect("hex digits are a valid header value")
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
        let (prefix, counter) = a.as_str().split_once('-').unwrap();
        assert_eq!(prefix.len(), 8);
        assert_eq!(counter, "1");
        assert_eq!(b.as_str().split_once('-').unwrap().1, "2");
    }

    #[test]
    fn keeps_well_formed_incoming_ids_only() {
        let ids = RequestIds::new();
        let good = HeaderValue::from_static("lb-1234.abc");
        assert_eq!(ids.for_request(Some(&good)).as_str(), "lb-1234.abc");
        let bad = HeaderValue::from_static("<script>");
        assert_ne!(ids.for_request(Some(&bad)).as_str(), "<script>");
    }
}
