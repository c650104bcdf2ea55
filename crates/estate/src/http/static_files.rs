//! Static files in development: in DEBUG, `static_url` (`/static/` by
//! default) serves each app's `static/` folder and the project's (the
//! project's first, so it overrides an app's file of the same name), read
//! from disk on every request so edits show at once.
//!
//! Paths stay inside their folder: `..` segments, encoded ones (`%2e%2e`),
//! backslashes, NUL and symlinks leading out are all answered 404.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

/// A folder of static files: `estate::static_dir!("static")`.
#[derive(Clone, Debug)]
pub struct StaticSource {
    /// The folder, absolute.
    pub dir: PathBuf,
}

/// Every static folder of the project, in search order (for
/// `collectstatic`), available from `AppContext::get`.
#[derive(Clone, Debug, Default)]
pub struct StaticSources(pub Vec<StaticSource>);

/// What the core serves: the folders themselves (DEBUG), or what
/// `collectstatic` gathered in `static_root` (otherwise).
pub(crate) struct StaticConfig {
    /// The URL prefix, e.g. `/static/`.
    pub(crate) url: String,
    pub(crate) sources: Vec<StaticSource>,
    /// The collected folder and its hashed names, outside DEBUG.
    pub(crate) collected: Option<Collected>,
}

/// A `static_root` filled by `collectstatic`.
pub(crate) struct Collected {
    pub(crate) root: PathBuf,
    /// Content-hashed names: cacheable forever.
    pub(crate) hashed: std::collections::HashSet<String>,
}

impl StaticConfig {
    /// The file part of a request path under the prefix, for GET and HEAD.
    pub(crate) fn wants(&self, method: &Method, path: &str) -> Option<String> {
        if !matches!(*method, Method::GET | Method::HEAD) {
            return None;
        }
        path.strip_prefix(self.url.as_str()).map(str::to_owned)
    }
}

/// The relative path a request names, or `None` if it would leave the
/// folder or is otherwise odd.
fn safe_relative(encoded: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .ok()?;
    if decoded.is_empty() || decoded.contains('\\') || decoded.contains('\0') {
        return None;
    }
    let path = Path::new(decoded.as_ref());
    path.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| path.to_path_buf())
}

/// The first source's file for `relative`, if it is inside that source.
async fn find(sources: &[StaticSource], relative: &Path) -> Option<PathBuf> {
    for source in sources {
        let candidate = source.dir.join(relative);
        let (Ok(root), Ok(file)) = (
            tokio::fs::canonicalize(&source.dir).await,
            tokio::fs::canonicalize(&candidate).await,
        ) else {
            continue;
        };
        // A symlink may point anywhere: the real path must stay inside.
        if file.starts_with(&root) && tokio::fs::metadata(&file).await.is_ok_and(|m| m.is_file()) {
            return Some(file);
        }
    }
    None
}

/// Whether an `Accept-Encoding` value takes `coding`: named (or `*`) with
/// a non-zero quality, and not refused by name.
pub(crate) fn accepts(accept_encoding: &str, coding: &str) -> bool {
    quality(accept_encoding, coding) > 0.0
}

/// The quality an `Accept-Encoding` value gives `coding` (0 when refused or
/// not listed).
fn quality(accept_encoding: &str, coding: &str) -> f32 {
    let mut named = None;
    let mut any = None;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding) {
            named = Some(quality);
        } else if name == "*" {
            any = Some(quality);
        }
    }
    named.or(any).unwrap_or(0.0)
}

/// A content type by extension (the common web ones).
fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("avif") => "image/avif",
        Some("ico") => "image/x-icon",
        Some("woff") => "font/woff",
        Some("woff2") => "font/woff2",
        Some("ttf") => "font/ttf",
        Some("otf") => "font/otf",
        Some("wasm") => "application/wasm",
        Some("pdf") => "application/pdf",
        Some("xml") => "application/xml",
        _ => "application/octet-stream",
    }
}

fn not_found() -> Response {
    let mut response = Response::new(Body::from("Not Found"));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// Serves `encoded` (the path after the prefix) from the sources, or from
/// the collected folder.
pub(crate) async fn serve(
    config: &StaticConfig,
    encoded: &str,
    method: &Method,
    request_headers: &HeaderMap,
) -> Response {
    let Some(relative) = safe_relative(encoded) else {
        return not_found();
    };
    let roots: Vec<StaticSource> = match &config.collected {
        Some(collected) => vec![StaticSource {
            dir: collected.root.clone(),
        }],
        None => config.sources.clone(),
    };
    let Some(file) = find(&roots, &relative).await else {
        return not_found();
    };
    let name = relative.to_string_lossy().replace('\\', "/");
    // A precompressed copy (collected files only), brotli first.
    let accept_encoding = request_headers
        .get(http::header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut body_file = file.clone();
    let mut encoding = None;
    if config.collected.is_some() {
        for (coding, extension) in [("br", "br"), ("gzip", "gz")] {
            let candidate = PathBuf::from(format!("{}.{extension}", file.display()));
            if accepts(accept_encoding, coding)
                && tokio::fs::metadata(&candidate)
                    .await
                    .is_ok_and(|m| m.is_file())
            {
                body_file = candidate;
                encoding = Some(coding);
                break;
            }
        }
    }
    let Ok(metadata) = tokio::fs::metadata(&body_file).await else {
        return not_found();
    };
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let etag = format!(
        "\"{:x}-{:x}{}\"",
        metadata.len(),
        modified,
        encoding.map_or(String::new(), |coding| format!("-{coding}"))
    );
    let unchanged = request_headers
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if unchanged {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else if *method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        match tokio::fs::read(&body_file).await {
            Ok(bytes) => Response::new(Body::from(bytes)),
            Err(_) => return not_found(),
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&file)),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(http::header::ETAG, value);
    }
    let cache = match &config.collected {
        // A hashed name never changes: cache it for a year.
        Some(collected) if collected.hashed.contains(&name) => {
            "public, max-age=31536000, immutable"
        }
        Some(_) => "public, max-age=60",
        // Development: always revalidate, so edits show at once.
        None => "no-cache",
    };
    headers.insert(http::header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if config.collected.is_some() {
        headers.insert(
            http::header::VARY,
            HeaderValue::from_static("Accept-Encoding"),
        );
    }
    if let Some(encoding) = encoding {
        headers.insert(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_static(encoding),
        );
    }
    if *method == Method::HEAD && !unchanged {
        if let Ok(value) = HeaderValue::from_str(&metadata.len().to_string()) {
            headers.insert(http::header::CONTENT_LENGTH, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths_cannot_leave_the_folder() {
        assert!(safe_relative("css/site.css").is_some());
        for bad in [
            "../secret",
            "%2e%2e/secret",
            "%2E%2E%2Fsecret",
            "css/../../x",
            "..%5csecret",
            "%2fetc/passwd",
            "/etc/passwd",
            "a%00b",
            "",
        ] {
            assert!(safe_relative(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn accept_encoding_quality_values() {
        assert!(accepts("gzip, deflate, br", "br"));
        assert!(accepts("GZIP", "gzip"));
        assert!(!accepts("gzip;q=0, br", "gzip"));
        assert!(accepts("*", "br"));
        assert!(!accepts("*, br;q=0", "br"));
        assert!(!accepts("identity", "gzip"));
        assert!(!accepts("", "gzip"));
        assert!(accepts("br;q=0.5", "br"));
        assert!(quality("gzip;q=1, br;q=0.5", "gzip") > quality("gzip;q=1, br;q=0.5", "br"));
    }
}
