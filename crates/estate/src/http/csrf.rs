//! CSRF protection, on by default (Django's `CsrfViewMiddleware`).
//!
//! Every POST, PUT, PATCH and DELETE must come from this site:
//! 1. its `Origin` header, when sent, is this site's origin or a trusted one
//!    (`security.csrf_trusted_origins`); over HTTPS without `Origin`, the
//!    `Referer` must be present and of this site;
//! 2. it carries the token: the `csrftoken` cookie's secret, and a masked
//!    copy of it in the `X-CSRFToken` header or the `csrfmiddlewaretoken`
//!    form field (`{{ csrf_input() }}` in a template). The copy is masked
//!    afresh for each page (BREACH-safe) and compared in constant time.
//!
//! A failure answers 403; in DEBUG the page says why. A route opts out with
//! `.csrf_exempt()`, the whole app with `App::without_csrf_protection()`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::FromRequestParts;
use http::header::{CONTENT_TYPE, HOST, ORIGIN, REFERER};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request};

use crate::error::Error;

/// The cookie holding the secret.
pub const COOKIE_NAME: &str = "csrftoken";
/// The header carrying the token (for JavaScript).
pub const HEADER_NAME: &str = "x-csrftoken";
/// The form field carrying the token.
pub const FIELD_NAME: &str = "csrfmiddlewaretoken";

const ALPHABET: &[u8] = crate::crypto::RANDOM_STRING_CHARS;
const SECRET_LENGTH: usize = 32;

/// The CSRF settings the core applies.
pub(crate) struct CsrfConfig {
    pub(crate) trusted_origins: Vec<String>,
    pub(crate) cookie_secure: bool,
}

/// The request's CSRF secret: the cookie's, or a new one made when a page
/// first asks for a token (and then set as the cookie).
#[derive(Clone)]
pub struct CsrfState(Arc<Inner>);

struct Inner {
    from_cookie: Option<String>,
    fresh: OnceLock<String>,
    used: AtomicBool,
    /// A new secret replaces the cookie's (at login).
    rotated: AtomicBool,
}

impl CsrfState {
    /// The request's state, from its extensions (`None` when CSRF
    /// protection is off, or outside an Estate app).
    pub(crate) fn from_extensions(extensions: &http::Extensions) -> Option<&CsrfState> {
        super::RequestCore::of(extensions).and_then(|core| core.csrf.as_ref())
    }

    pub(crate) fn from_headers(headers: &HeaderMap) -> CsrfState {
        Self::with_secret(cookie_secret(headers))
    }

    /// The state of a request that sent no cookies at all.
    pub(crate) fn without_cookie() -> CsrfState {
        Self::with_secret(None)
    }

    fn with_secret(from_cookie: Option<String>) -> CsrfState {
        CsrfState(Arc::new(Inner {
            from_cookie,
            fresh: OnceLock::new(),
            used: AtomicBool::new(false),
            rotated: AtomicBool::new(false),
        }))
    }

    fn secret(&self) -> &str {
        self.0.used.store(true, Ordering::Relaxed);
        match &self.0.from_cookie {
            Some(secret) if !self.0.rotated.load(Ordering::Relaxed) => secret,
            _ => self.0.fresh.get_or_init(random_string),
        }
    }

    /// Replaces the secret with a new one, sent as a new cookie (Django's
    /// `rotate_token`, done at login so a token planted before login is
    /// worthless after it).
    pub fn rotate(&self) {
        self.0.rotated.store(true, Ordering::Relaxed);
        self.0.used.store(true, Ordering::Relaxed);
        let _ = self.0.fresh.get_or_init(random_string);
    }

    /// A token for a form or header: the secret masked afresh.
    pub fn token(&self) -> String {
        mask(self.secret())
    }

    /// Whether a token was handed out for this response.
    pub(crate) fn was_used(&self) -> bool {
        self.0.used.load(Ordering::Relaxed)
    }

    /// The cookie to set on the response: when a token was handed out and
    /// the request had no (valid) cookie.
    pub(crate) fn cookie_to_set(&self, secure: bool) -> Option<HeaderValue> {
        let rotated = self.0.rotated.load(Ordering::Relaxed);
        if (self.0.from_cookie.is_some() && !rotated) || !self.0.used.load(Ordering::Relaxed) {
            return None;
        }
        let secret = self.0.fresh.get()?;
        // A year, like Django; SameSite=Lax; readable by JavaScript on
        // purpose (the X-CSRFToken header), as in Django.
        let mut cookie = format!("{COOKIE_NAME}={secret}; Path=/; Max-Age=31449600; SameSite=Lax");
        if secure {
            cookie.push_str("; Secure");
        }
        HeaderValue::from_str(&cookie).ok()
    }
}

impl std::fmt::Debug for CsrfState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfState(..)")
    }
}

/// The token for the current request, for handlers that render templates
/// themselves: pass it as `csrf_token` in the context, and
/// `{{ csrf_input() }}` writes the hidden field.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        CsrfState::from_extensions(&parts.extensions)
            .map(|state| CsrfToken(state.token()))
            .ok_or_else(|| Error::internal("CSRF protection is off for this app"))
    }
}

/// A fresh secret: 32 random letters and digits.
fn random_string() -> String {
    crate::crypto::get_random_string(SECRET_LENGTH)
}

fn index(c: u8) -> Option<usize> {
    ALPHABET.iter().position(|a| *a == c)
}

/// `mask + cipher`, where each cipher character is the secret's shifted by
/// the mask's (Django's scheme).
fn mask(secret: &str) -> String {
    let mask = random_string();
    let cipher: String = secret
        .bytes()
        .zip(mask.bytes())
        .map(|(s, m)| {
            let shifted = (index(s).unwrap_or(0) + index(m).unwrap_or(0)) % ALPHABET.len();
            ALPHABET[shifted] as char
        })
        .collect();
    format!("{mask}{cipher}")
}

fn unmask(token: &str) -> Option<String> {
    let (mask, cipher) = token.split_at_checked(SECRET_LENGTH)?;
    mask.bytes()
        .zip(cipher.bytes())
        .map(|(m, c)| {
            let (m, c) = (index(m)?, index(c)?);
            Some(ALPHABET[(c + ALPHABET.len() - m) % ALPHABET.len()] as char)
        })
        .collect()
}

fn well_formed(secret: &str) -> bool {
    secret.len() == SECRET_LENGTH && secret.bytes().all(|b| index(b).is_some())
}

/// The secret from the `csrftoken` cookie, if well-formed.
fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    super::cookies::request_cookie(headers, COOKIE_NAME)
        .filter(|secret| well_formed(secret))
        .map(str::to_owned)
}

/// Why a request failed the check (shown in DEBUG).
pub(crate) type Reason = String;

/// What the header checks decided.
pub(crate) enum Verdict {
    Pass,
    Reject(Reason),
    /// The token may be in the form body: read it, then [`check_body`].
    ReadBody,
}

/// GET, HEAD, OPTIONS and TRACE: methods a CSRF check lets through.
pub(crate) fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// `scheme://host` of this request, lower case.
fn own_origin(headers: &HeaderMap, secure: bool) -> Option<String> {
    let host = headers.get(HOST)?.to_str().ok()?;
    Some(format!("{}://{host}", if secure { "https" } else { "http" }).to_ascii_lowercase())
}

/// `scheme://host[:port]` of a URL, lower case; `None` for anything odd
/// (no scheme, user info, an empty host).
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..end];
    if host.is_empty() || host.contains('@') || !scheme.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some(format!("{scheme}://{host}").to_ascii_lowercase())
}

fn trusted(config: &CsrfConfig, origin: &str) -> bool {
    let origin = origin.to_ascii_lowercase();
    let origin = origin.as_str();
    config.trusted_origins.iter().any(|trusted| {
        let trusted = trusted.to_ascii_lowercase();
        if trusted == origin {
            return true;
        }
        // `https://*.example.com` allows any subdomain.
        match (trusted.split_once("://*."), origin.split_once("://")) {
            (Some((scheme, domain)), Some((origin_scheme, host))) => {
                scheme == origin_scheme && host.ends_with(&format!(".{domain}"))
            }
            _ => false,
        }
    })
}

/// Whether the request carries an `Authorization: Bearer ...` header (which
/// a browser never sends on its own).
pub(crate) fn has_bearer_token(request: &Request<Body>) -> bool {
    request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.get(..7))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
}

/// The checks that need no body: method, exemption, origin, referer,
/// cookie, and the header token. `exempt`: the route is `.csrf_exempt()`.
pub(crate) fn check_headers(
    config: &CsrfConfig,
    request: &Request<Body>,
    state: &CsrfState,
    secure: bool,
    exempt: bool,
) -> Verdict {
    if is_safe(request.method()) || exempt {
        return Verdict::Pass;
    }
    let headers = request.headers();
    let own = own_origin(headers, secure);
    if let Some(origin) = headers.get(ORIGIN) {
        // Present but unreadable counts as foreign, not as absent.
        let origin = origin.to_str().unwrap_or("(unreadable)");
        let same = origin_of(origin).is_some_and(|o| own.as_deref() == Some(o.as_str()));
        if !same && !trusted(config, origin) {
            return Verdict::Reject(format!(
                "Origin checking failed - {origin} does not match any trusted origins."
            ));
        }
    } else if secure {
        // Without Origin over HTTPS, the Referer must say where from.
        let Some(referer) = headers.get(REFERER) else {
            return Verdict::Reject("Referer checking failed - no Referer.".to_owned());
        };
        let referer = referer.to_str().unwrap_or("(unreadable)");
        let same = origin_of(referer)
            .is_some_and(|r| own.as_deref() == Some(r.as_str()) || trusted(config, &r));
        if !same {
            return Verdict::Reject(format!(
                "Referer checking failed - {referer} does not match any trusted origins."
            ));
        }
    }
    if state.0.from_cookie.is_none() {
        return Verdict::Reject("CSRF cookie not set.".to_owned());
    }
    match headers.get(HEADER_NAME).and_then(|h| h.to_str().ok()) {
        Some(token) => verdict_for(state, token),
        None if has_form_body(headers) => Verdict::ReadBody,
        None => Verdict::Reject("CSRF token missing.".to_owned()),
    }
}

fn has_form_body(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| {
            c.starts_with("application/x-www-form-urlencoded")
                || c.starts_with("multipart/form-data")
        })
}

fn verdict_for(state: &CsrfState, token: &str) -> Verdict {
    let Some(secret) = &state.0.from_cookie else {
        return Verdict::Reject("CSRF cookie not set.".to_owned());
    };
    let given = match token.len() {
        // A masked token, or (as Django accepts) the secret itself.
        64 => unmask(token),
        SECRET_LENGTH => Some(token.to_owned()),
        _ => return Verdict::Reject("CSRF token has incorrect length.".to_owned()),
    };
    match given {
        Some(given) if crate::crypto::constant_time_eq(given.as_bytes(), secret.as_bytes()) => {
            Verdict::Pass
        }
        Some(_) => Verdict::Reject("CSRF token incorrect.".to_owned()),
        None => Verdict::Reject("CSRF token has invalid characters.".to_owned()),
    }
}

/// Why the form body could not be checked.
pub(crate) enum BodyError {
    /// Over the route's body limit.
    TooLarge,
    /// The client broke off or sent a malformed body.
    Unreadable,
    /// The request timeout passed while reading it.
    TimedOut,
    /// The token was missing or wrong.
    Rejected(Reason),
}

/// Reads the form body (within `limit` bytes), finds the token field, and
/// gives the request back with the same body.
pub(crate) async fn check_body(
    request: Request<Body>,
    state: &CsrfState,
    limit: usize,
) -> Result<Request<Body>, BodyError> {
    let (parts, body) = request.into_parts();
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if content_type.starts_with("multipart/form-data") {
        return check_multipart(parts, body, state, limit, &content_type).await;
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|err| {
        let too_large = std::error::Error::source(&err)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>())
            || err.to_string().contains("length limit");
        if too_large {
            BodyError::TooLarge
        } else {
            BodyError::Unreadable
        }
    })?;
    let token = url_field(&bytes);
    let verdict = match token {
        Some(token) => verdict_for(state, &token),
        None => Verdict::Reject("CSRF token missing.".to_owned()),
    };
    match verdict {
        Verdict::Pass => Ok(Request::from_parts(parts, Body::from(bytes))),
        Verdict::Reject(reason) => Err(BodyError::Rejected(reason)),
        Verdict::ReadBody => Err(BodyError::Rejected("CSRF token missing.".to_owned())),
    }
}

/// A multipart body is read only as far as its token field (which
/// `csrf_input()` puts first in the form), then handed on as that prefix
/// followed by the rest of the stream: an upload is not held in memory here.
async fn check_multipart(
    parts: http::request::Parts,
    mut body: Body,
    state: &CsrfState,
    limit: usize,
    content_type: &str,
) -> Result<Request<Body>, BodyError> {
    use http_body_util::BodyExt as _;
    let mut prefix: Vec<u8> = Vec::new();
    let mut ended = false;
    let needle = format!("name=\"{FIELD_NAME}\"").into_bytes();
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .unwrap_or("")
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    // Only new bytes are searched, so a late token costs one pass, not one
    // pass per chunk.
    let mut searched: usize = 0;
    // (where the name is, where its part starts)
    let mut found: Option<(usize, usize)> = None;
    let token = loop {
        if found.is_none() {
            let from = searched.saturating_sub(needle.len());
            found = find(&prefix[from..], &needle).map(|at| {
                let at = from + at;
                (at, rfind(&prefix[..at], &delimiter).unwrap_or(0))
            });
            searched = prefix.len();
        }
        if let Some((at, start)) = found {
            if let Some(token) = complete_multipart_field(content_type, &prefix[start..]) {
                break Some(token);
            }
            if prefix.len() - at > 64 * 1024 {
                // The name inside a file's contents, not a field: go on.
                found = None;
            }
        }
        match body.frame().await {
            None => {
                ended = true;
                break multipart_field(content_type, &prefix);
            }
            Some(Err(err)) => {
                let too_large = std::error::Error::source(&err)
                    .is_some_and(|source| source.is::<http_body_util::LengthLimitError>())
                    || err.to_string().contains("length limit");
                return Err(if too_large {
                    BodyError::TooLarge
                } else {
                    BodyError::Unreadable
                });
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    prefix.extend_from_slice(&data);
                    if prefix.len() > limit {
                        return Err(BodyError::TooLarge);
                    }
                }
            }
        }
    };
    let verdict = match token {
        Some(token) => verdict_for(state, &token),
        None => Verdict::Reject("CSRF token missing.".to_owned()),
    };
    match verdict {
        Verdict::Pass => {
            let prefix = bytes::Bytes::from(prefix);
            let body = if ended {
                Body::from(prefix)
            } else {
                use futures_util::StreamExt as _;
                let head = futures_util::stream::once(async move { Ok::<_, axum::Error>(prefix) });
                Body::from_stream(head.chain(body.into_data_stream()))
            };
            Ok(Request::from_parts(parts, body))
        }
        Verdict::Reject(reason) => Err(BodyError::Rejected(reason)),
        Verdict::ReadBody => Err(BodyError::Rejected("CSRF token missing.".to_owned())),
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Where `needle` last occurs in `haystack`.
fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// The token of a multipart body read so far, once its part is complete
/// (another boundary follows it).
fn complete_multipart_field(content_type: &str, body: &[u8]) -> Option<String> {
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let text = String::from_utf8_lossy(body);
    let mut parts: Vec<&str> = text.split(delimiter.as_str()).collect();
    // The last piece may still be arriving.
    parts.pop();
    parts.into_iter().find_map(|part| {
        let (head, value) = part.split_once("\r\n\r\n")?;
        let named = head
            .to_ascii_lowercase()
            .contains(&format!("name=\"{FIELD_NAME}\""));
        named.then(|| value.trim_end_matches("\r\n").to_owned())
    })
}

fn url_field(body: &[u8]) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(name, _)| name == FIELD_NAME)
        .map(|(_, value)| value.into_owned())
}

/// The token field of a multipart body (a plain text part).
fn multipart_field(content_type: &str, body: &[u8]) -> Option<String> {
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let text = String::from_utf8_lossy(body);
    text.split(delimiter.as_str()).find_map(|part| {
        let (head, value) = part.split_once("\r\n\r\n")?;
        let named = head
            .to_ascii_lowercase()
            .contains(&format!("name=\"{FIELD_NAME}\""));
        named.then(|| value.trim_end_matches("\r\n").to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_tokens_differ_but_unmask_to_the_secret() {
        let secret = random_string();
        let a = mask(&secret);
        let b = mask(&secret);
        assert_ne!(a, b, "a fresh mask each time");
        assert_eq!(a.len(), 64);
        assert_eq!(unmask(&a).unwrap(), secret);
        assert_eq!(unmask(&b).unwrap(), secret);
        assert!(unmask("!".repeat(64).as_str()).is_none());
    }

    #[test]
    fn origins_are_parsed_strictly() {
        assert_eq!(
            origin_of("https://Example.com/x?y").as_deref(),
            Some("https://example.com")
        );
        assert_eq!(
            origin_of("https://example.com:8443").as_deref(),
            Some("https://example.com:8443")
        );
        assert_eq!(origin_of("https://example.com@evil.com/"), None);
        assert_eq!(
            origin_of("https://evil.com?x.example.com").as_deref(),
            Some("https://evil.com")
        );
        assert_eq!(origin_of("null"), None);
        let config = CsrfConfig {
            trusted_origins: vec!["https://*.example.com".into()],
            cookie_secure: false,
        };
        assert!(trusted(&config, "https://admin.example.com"));
        assert!(!trusted(&config, "https://evilexample.com"));
        assert!(!trusted(&config, "http://admin.example.com"));
    }

    #[test]
    fn form_fields_are_found_in_both_encodings() {
        assert_eq!(
            url_field(b"a=1&csrfmiddlewaretoken=abc%21").as_deref(),
            Some("abc!")
        );
        let body = "--XX\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\ntok\r\n--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\ndata\r\n--XX--\r\n";
        assert_eq!(
            multipart_field("multipart/form-data; boundary=XX", body.as_bytes()).as_deref(),
            Some("tok")
        );
    }
}
