//! Error pages: small HTML pages, or RFC 9457 problem documents
//! (`application/problem+json`) when the client asks for JSON.
//!
//! In DEBUG a 404 lists the known routes and a 5xx shows the error chain and
//! the request; outside DEBUG nothing internal is shown. Each status can be
//! replaced with [`App::error_page`](crate::App::error_page).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::routing::RouteInfo;

/// Everything an error page may show. Fields marked DEBUG are empty outside DEBUG.
#[derive(Debug)]
#[non_exhaustive]
pub struct ErrorContext<'a> {
    /// The response status.
    pub status: StatusCode,
    /// The client-safe message (generic for 5xx outside DEBUG).
    pub message: &'a str,
    /// DEBUG: the error and its causes, outermost first.
    pub chain: &'a [String],
    /// Whether DEBUG is on.
    pub debug: bool,
    /// The request method.
    pub method: &'a Method,
    /// The request path.
    pub path: &'a str,
    /// The request id, if request ids are on.
    pub request_id: Option<&'a str>,
    /// Whether the client prefers JSON.
    pub wants_json: bool,
    /// DEBUG: the routes (shown on 404).
    pub routes: &'a [RouteInfo],
    /// DEBUG: the request headers (secrets masked when rendered).
    pub headers: Option<&'a HeaderMap>,
    /// DEBUG, with `logging.query_log`: the SQL the request ran, in order.
    pub queries: &'a [estate_orm::query_log::QueryRecord],
    /// The request's CSP nonce, when the policy has one: put it on inline
    /// `<style>`/`<script>` so a strict policy allows them.
    pub csp_nonce: Option<&'a str>,
}

/// A custom error page: builds the whole response from the context.
pub type ErrorPageFn = Arc<dyn Fn(&ErrorContext<'_>) -> Response + Send + Sync>;

/// Per-status overrides of the built-in pages.
#[derive(Clone, Default)]
pub struct ErrorPages {
    overrides: HashMap<StatusCode, ErrorPageFn>,
}

impl ErrorPages {
    /// Replaces the page for `status`.
    pub fn set(&mut self, status: StatusCode, page: ErrorPageFn) {
        self.overrides.insert(status, page);
    }

    /// Renders the page for a context: the override if any, else the built-in one.
    pub fn render(&self, context: &ErrorContext<'_>) -> Response {
        match self.overrides.get(&context.status) {
            Some(page) => page(context),
            None => default_page(context),
        }
    }
}

/// Whether the client prefers JSON over HTML: by `Accept` q-values, or, when
/// `Accept` says nothing specific, by a JSON request body.
pub(crate) fn wants_json(accept: Option<&HeaderValue>, content_type: Option<&HeaderValue>) -> bool {
    let mut json_q = 0.0f32;
    let mut html_q = 0.0f32;
    if let Some(accept) = accept.and_then(|v| v.to_str().ok()) {
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if media == "application/json" || media.ends_with("+json") {
                json_q = json_q.max(q);
            } else if media == "text/html" || media == "application/xhtml+xml" {
                html_q = html_q.max(q);
            }
        }
    }
    if json_q > 0.0 || html_q > 0.0 {
        return json_q > html_q;
    }
    content_type
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.contains("+json"))
}

/// The title shown for a status: its reason phrase.
fn title(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

fn default_page(context: &ErrorContext<'_>) -> Response {
    if context.wants_json {
        json_page(context)
    } else {
        html_page(context)
    }
}

fn json_page(context: &ErrorContext<'_>) -> Response {
    let mut problem = serde_json::json!({
        "type": "about:blank",
        "title": title(context.status),
        "status": context.status.as_u16(),
        "detail": context.message,
        "instance": context.path,
    });
    if let Some(id) = context.request_id {
        problem["request_id"] = id.into();
    }
    if context.debug {
        if context.chain.len() > 1 || context.status.is_server_error() {
            problem["chain"] = context.chain.into();
        }
        if context.status == StatusCode::NOT_FOUND {
            problem["routes"] = context
                .routes
                .iter()
                .map(|r| serde_json::Value::from(r.path.clone()))
                .collect();
        }
    }
    let mut response = Response::new(Body::from(problem.to_string()));
    *response.status_mut() = context.status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#222}\
header{background:#f4f1ea;border-bottom:1px solid #ddd;padding:1.2em 2em}\
h1{margin:0;font-size:1.6em}main{padding:1em 2em}code,pre{font:14px ui-monospace,monospace}\
table{border-collapse:collapse}td,th{text-align:left;padding:.2em 1em .2em 0;vertical-align:top}\
.hint{color:#666;font-size:.9em}";

fn html_page(context: &ErrorContext<'_>) -> Response {
    let title = title(context.status);
    let mut html = String::with_capacity(1024);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"robots\" content=\"noindex\"><title>{status} {title}</title>\
         <style{nonce}>{STYLE}</style></head><body><header><h1>{title} <small>({status})</small></h1>\
         </header><main><p>{message}</p>",
        status = context.status.as_u16(),
        message = escape(context.message),
        nonce = context
            .csp_nonce
            .map(|n| format!(" nonce=\"{}\"", escape(n)))
            .unwrap_or_default(),
    );
    if context.debug {
        debug_details(&mut html, context);
    }
    if let Some(id) = context.request_id {
        let _ = write!(
            html,
            "<p class=\"hint\">Request id: <code>{}</code></p>",
            escape(id)
        );
    }
    html.push_str("</main></body></html>");
    let mut response = Response::new(Body::from(html));
    *response.status_mut() = context.status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// The route whose pattern matches `path`, if any.
fn matched_route<'r>(routes: &'r [RouteInfo], path: &str) -> Option<&'r RouteInfo> {
    let mut table = matchit::Router::new();
    for (index, route) in routes.iter().enumerate() {
        // A pattern matchit refuses cannot have matched either.
        let _ = table.insert(route.path.as_str(), index);
    }
    table.at(path).ok().map(|found| &routes[*found.value])
}

fn debug_details(html: &mut String, context: &ErrorContext<'_>) {
    let _ = write!(
        html,
        "<table><tr><th>Request method</th><td>{}</td></tr>\
         <tr><th>Request path</th><td><code>{}</code></td></tr></table>",
        escape(context.method.as_str()),
        escape(context.path)
    );
    if context.status == StatusCode::NOT_FOUND {
        html.push_str("<h2>Routes</h2><p>Estate tried these routes, in this order:</p><table>");
        for route in context.routes {
            let methods: Vec<&str> = route.handlers.iter().map(|h| h.method).collect();
            let _ = write!(
                html,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                methods.join(", "),
                escape(&route.path),
                route.name.as_deref().map(escape).unwrap_or_default()
            );
        }
        html.push_str("</table>");
        match matched_route(context.routes, context.path) {
            // A handler answered 404 (no such row, say): the URL was fine.
            Some(route) => {
                let _ = write!(
                    html,
                    "<p>The current path, <code>{}</code>, matched the route <code>{}</code>{}; \
                     its handler answered 404: {}</p>",
                    escape(context.path),
                    escape(&route.path),
                    route
                        .name
                        .as_deref()
                        .map(|name| format!(" (<code>{}</code>)", escape(name)))
                        .unwrap_or_default(),
                    escape(context.message)
                );
            }
            None => {
                let _ = write!(
                    html,
                    "<p>The current path, <code>{}</code>, didn't match any of these.</p>",
                    escape(context.path)
                );
            }
        }
    }
    if context.chain.len() > 1 || context.status.is_server_error() {
        html.push_str("<h2>Error</h2><ol>");
        for cause in context.chain {
            let _ = write!(html, "<li><pre>{}</pre></li>", escape(cause));
        }
        html.push_str("</ol>");
    }
    if !context.queries.is_empty() {
        let total: std::time::Duration = context.queries.iter().map(|q| q.duration).sum();
        let _ = write!(
            html,
            "<h2>SQL queries</h2><p>{} queries in {:.1} ms, in the order they ran:</p>\
             <table><tr><th>#</th><th>SQL</th><th>ms</th><th>called from</th></tr>",
            context.queries.len(),
            total.as_secs_f64() * 1000.0
        );
        for (i, query) in context.queries.iter().enumerate() {
            let _ = write!(
                html,
                "<tr><td>{}</td><td><code>{}</code></td><td>{:.2}</td><td>{}</td></tr>",
                i + 1,
                escape(&query.sql),
                query.duration.as_secs_f64() * 1000.0,
                query
                    .location
                    .map(|l| escape(&l.to_string()))
                    .unwrap_or_default()
            );
        }
        html.push_str("</table>");
    }
    if let Some(headers) = context.headers {
        html.push_str("<h2>Request headers</h2><table>");
        for (name, value) in headers {
            let shown = if is_secret_header(name.as_str()) {
                "********".to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            let _ = write!(
                html,
                "<tr><th>{}</th><td><code>{}</code></td></tr>",
                escape(name.as_str()),
                escape(&shown)
            );
        }
        html.push_str("</table>");
    }
    html.push_str(
        "<p class=\"hint\">You're seeing this error because DEBUG is on. Turn it off \
         (debug = false) and Estate will show a standard page.</p>",
    );
}

/// Headers whose values must never appear on a page, even in DEBUG.
fn is_secret_header(name: &str) -> bool {
    matches!(name, "cookie" | "authorization" | "proxy-authorization")
        || name.contains("token")
        || name.contains("secret")
        || name.contains("api-key")
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wants(accept: Option<&'static str>, content_type: Option<&'static str>) -> bool {
        wants_json(
            accept.map(HeaderValue::from_static).as_ref(),
            content_type.map(HeaderValue::from_static).as_ref(),
        )
    }

    #[test]
    fn negotiates_json_by_accept_and_content_type() {
        assert!(wants(Some("application/json"), None));
        assert!(wants(Some("application/problem+json"), None));
        assert!(!wants(
            Some("text/html,application/xhtml+xml,*/*;q=0.8"),
            None
        ));
        assert!(!wants(Some("text/html, application/json;q=0.5"), None));
        assert!(wants(Some("text/html;q=0.1, application/json"), None));
        assert!(!wants(Some("*/*"), None));
        assert!(wants(Some("*/*"), Some("application/json")));
        assert!(!wants(None, None));
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
        );
    }

    #[test]
    fn masks_secret_headers() {
        assert!(is_secret_header("cookie"));
        assert!(is_secret_header("x-api-key"));
        assert!(is_secret_header("x-auth-token"));
        assert!(!is_secret_header("accept"));
    }
}
