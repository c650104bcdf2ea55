//! Whole-response caching for routes marked
//! [`Route::cache_page`](crate::routing::Route::cache_page): Django's
//! `UpdateCacheMiddleware` / `FetchFromCacheMiddleware`, done by the core
//! (templates render on the way out, so only the core sees the final page).
//!
//! Two entries per URL, as in Django: the list of request headers the
//! response varies on, then the response itself under a key made of the
//! URL and those headers' values. A stored response is a small binary
//! record (status, headers, body).

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt as _;
use http::header::{AUTHORIZATION, CACHE_CONTROL, HOST, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use http_body_util::BodyExt as _;
use sha2::Digest as _;

use super::{Cache, Expiry};

/// Bodies larger than this are not stored.
const MAX_BODY: usize = 1024 * 1024;

/// Marks a stored record (and its format version).
const MAGIC: &[u8; 4] = b"EPC1";

/// What the cache needs of a request to look it up and, on a miss, to
/// store its response.
pub(crate) struct PageRequest {
    /// `scheme://host/path?query`.
    url: String,
    headers: HeaderMap,
    /// Whether the response may be stored (GET; HEAD only reads).
    store: bool,
    /// The route's lifetime for its pages.
    duration: Duration,
}

impl PageRequest {
    /// The request's page identity, for GET and HEAD only.
    pub(crate) fn new(
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        secure: bool,
        duration: Duration,
    ) -> Option<PageRequest> {
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        let host = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let scheme = if secure { "https" } else { "http" };
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        Some(PageRequest {
            url: format!("{scheme}://{host}{path}"),
            headers: headers.clone(),
            store: method == Method::GET,
            duration,
        })
    }

    fn url_hash(&self) -> String {
        hex(&sha2::Sha256::digest(self.url.as_bytes())[..16])
    }

    fn headers_key(&self) -> String {
        format!("views.cache_page.headers.{}", self.url_hash())
    }

    fn page_key(&self, vary: &[String]) -> String {
        let mut hasher = sha2::Sha256::new();
        for name in vary {
            hasher.update(name.as_bytes());
            hasher.update(b"=");
            for value in self.headers.get_all(name.as_str()) {
                hasher.update(value.as_bytes());
                hasher.update(b",");
            }
            hasher.update(b"\n");
        }
        format!(
            "views.cache_page.page.{}.{}",
            self.url_hash(),
            hex(&hasher.finalize()[..16])
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The stored response for this request, if any.
pub(crate) async fn fetch(cache: &Cache, request: &PageRequest) -> Option<Response> {
    let vary: Vec<String> = cache.get(&request.headers_key()).await.ok()??;
    let bytes = cache.get_bytes(&request.page_key(&vary)).await.ok()??;
    decode(&bytes)
}

/// Stores `response` when it may be, and returns it (with `max-age` added
/// when it had no `Cache-Control`).
pub(crate) async fn store(cache: &Cache, request: &PageRequest, response: Response) -> Response {
    let Some(duration) = lifetime(request, &response) else {
        return response;
    };
    let (mut parts, body) = response.into_parts();
    let body = match collect(body).await {
        Ok(body) => body,
        Err(body) => return Response::from_parts(parts, body),
    };
    if !parts.headers.contains_key(CACHE_CONTROL) {
        if let Ok(value) = HeaderValue::from_str(&format!("max-age={}", duration.as_secs())) {
            parts.headers.insert(CACHE_CONTROL, value);
        }
    }
    let vary = vary_names(&parts.headers);
    let expiry = Expiry::After(duration);
    // The header list is written first: a reader that finds it but not the
    // page yet simply misses.
    if cache
        .set(&request.headers_key(), &vary, expiry)
        .await
        .is_ok()
    {
        let record = encode(parts.status, &parts.headers, &body);
        let _ = cache
            .set_bytes(&request.page_key(&vary), &record, expiry)
            .await;
    }
    Response::from_parts(parts, Body::from(body))
}

/// How long `response` may be kept, or `None` when it must not be.
fn lifetime(request: &PageRequest, response: &Response) -> Option<Duration> {
    if !request.store || response.status() != StatusCode::OK {
        return None;
    }
    let headers = response.headers();
    if headers.contains_key(SET_COOKIE) {
        // A cookie for one visitor must never be handed to another.
        return None;
    }
    if vary_names(headers).iter().any(|name| name == "*") {
        return None;
    }
    let directives: Vec<String> = headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
    let has = |name: &str| {
        directives
            .iter()
            .any(|d| d == name || d.starts_with(&format!("{name}=")))
    };
    if has("private") || has("no-store") || has("no-cache") {
        return None;
    }
    // A shared cache stores answers to authenticated requests only when
    // told they are public (RFC 9111, 3.5).
    if request.headers.contains_key(AUTHORIZATION) && !has("public") {
        return None;
    }
    let max_age = directives.iter().find_map(|d| {
        d.strip_prefix("s-maxage=")
            .or_else(|| d.strip_prefix("max-age="))
            .and_then(|n| n.parse::<u64>().ok())
    });
    let duration = max_age.map_or(request.duration, Duration::from_secs);
    (!duration.is_zero()).then_some(duration)
}

/// The header names `Vary` lists, lower-case, sorted, without repeats.
fn vary_names(headers: &HeaderMap) -> Vec<String> {
    let mut names: Vec<String> = headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The whole body, or (when larger than [`MAX_BODY`] or broken) a body
/// that still yields everything, for the client.
async fn collect(mut body: Body) -> Result<Bytes, Body> {
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    total += data.len();
                    chunks.push(data);
                    if total > MAX_BODY {
                        let read = futures_util::stream::iter(chunks.into_iter().map(Ok));
                        return Err(Body::from_stream(read.chain(body.into_data_stream())));
                    }
                }
                // Trailers: not something to replay from a cache.
                Err(_) => return Err(replay(chunks, None)),
            },
            Some(Err(err)) => return Err(replay(chunks, Some(err))),
        }
    }
    let mut whole = Vec::with_capacity(total);
    for chunk in chunks {
        whole.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(whole))
}

fn replay(chunks: Vec<Bytes>, error: Option<axum::Error>) -> Body {
    let read = chunks.into_iter().map(Ok);
    Body::from_stream(futures_util::stream::iter(read.chain(error.map(Err))))
}

/// Headers that belong to one exchange, never replayed.
fn per_request(name: &HeaderName) -> bool {
    name == crate::http::REQUEST_ID_HEADER || name == http::header::DATE
}

fn encode(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 256);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&status.as_u16().to_be_bytes());
    let kept: Vec<(&HeaderName, &HeaderValue)> = headers
        .iter()
        .filter(|(name, _)| !per_request(name))
        .collect();
    out.extend_from_slice(&(kept.len() as u32).to_be_bytes());
    for (name, value) in kept {
        out.extend_from_slice(&(name.as_str().len() as u32).to_be_bytes());
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(body);
    out
}

/// A stored record back into a response; `None` when it is not one (a
/// foreign or older entry is a miss).
fn decode(bytes: &[u8]) -> Option<Response> {
    let mut rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = rest.split_at_checked(n)?;
        rest = tail;
        Some(head)
    };
    let status = StatusCode::from_u16(u16::from_be_bytes(take(2)?.try_into().ok()?)).ok()?;
    let count = u32::from_be_bytes(take(4)?.try_into().ok()?);
    let mut headers = HeaderMap::new();
    for _ in 0..count {
        let len = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
        let name = HeaderName::from_bytes(take(len)?).ok()?;
        let len = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
        let value = HeaderValue::from_bytes(take(len)?).ok()?;
        headers.append(name, value);
    }
    let body = Bytes::copy_from_slice(rest);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/html"),
        );
        headers.append(VARY, HeaderValue::from_static("Cookie"));
        headers.append(VARY, HeaderValue::from_static("Accept-Encoding"));
        headers.insert(
            crate::http::REQUEST_ID_HEADER,
            HeaderValue::from_static("abc"),
        );
        let record = encode(StatusCode::OK, &headers, b"<p>hi</p>");
        let response = decode(&record).expect("a record");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers().get_all(VARY).iter().count(), 2);
        assert!(
            !response
                .headers()
                .contains_key(crate::http::REQUEST_ID_HEADER)
        );
        assert!(decode(b"EPC1\x00").is_none());
        assert!(decode(b"nonsense").is_none());
    }

    #[test]
    fn vary_names_are_normalised() {
        let mut headers = HeaderMap::new();
        headers.append(VARY, HeaderValue::from_static("Cookie, Accept-Encoding"));
        headers.append(VARY, HeaderValue::from_static("cookie"));
        assert_eq!(vary_names(&headers), ["accept-encoding", "cookie"]);
    }
}
