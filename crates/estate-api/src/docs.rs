//! The API docs page (Swagger UI), its assets embedded in the binary: no CDN at run time.
//!
//! Swagger UI is vendored in `assets/swagger-ui/` (see its README for the
//! version and how to update it); `assets/init.js` starts it from the data-
//! attributes of the page, so the page has no inline script.

use estate::templates::escape_html;

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The embedded assets: file name, bytes, content type.
const ASSETS: &[(&str, &[u8], &str)] = &[
    (
        "swagger-ui-bundle.js",
        include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js"),
        JS,
    ),
    (
        "swagger-ui.css",
        include_bytes!("../assets/swagger-ui/swagger-ui.css"),
        CSS,
    ),
    ("init.js", include_bytes!("../assets/init.js"), JS),
];

/// The docs page's HTML: loads `{assets}/swagger-ui.css`, `{assets}/swagger-ui-bundle.js`
/// and `{assets}/init.js`; the spec URL and title are in data- attributes (escaped), never
/// in inline script, so the page works under a strict Content-Security-Policy (script-src
/// 'self' plus a nonce). `nonce` goes on the script/link tags when given.
///
/// Under `default-src 'self'; script-src 'self' 'nonce-…'` the page renders
/// (checked in headless Chromium); only a few `data:` SVG icons in
/// `swagger-ui.css` are blocked, which `img-src 'self' data:` allows.
pub(crate) fn page(title: &str, spec_url: &str, assets: &str, nonce: Option<&str>) -> String {
    let title = escape_html(title);
    let spec_url = escape_html(spec_url);
    let assets = escape_html(assets.trim_end_matches('/'));
    let nonce = nonce
        .map(|n| format!(r#" nonce="{}""#, escape_html(n)))
        .unwrap_or_default();
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css"{nonce}>
<script src="{assets}/swagger-ui-bundle.js" defer{nonce}></script>
<script src="{assets}/init.js" defer{nonce}></script>
</head>
<body>
<div id="estate-api-docs" data-spec-url="{spec_url}" data-title="{title}" hidden></div>
<noscript><p>This page needs JavaScript. The OpenAPI document is at <a href="{spec_url}">{spec_url}</a>.</p></noscript>
<div id="swagger-ui"></div>
</body>
</html>
"#
    )
}

/// An embedded asset by file name (`swagger-ui-bundle.js`, `swagger-ui.css`, `init.js`):
/// its bytes and content type.
pub(crate) fn asset(name: &str) -> Option<(&'static [u8], &'static str)> {
    ASSETS
        .iter()
        .find(|(file, _, _)| *file == name)
        .map(|&(_, bytes, content_type)| (bytes, content_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE_TITLE: &str = r#"</title><script>alert("t")</script>"#;
    const HOSTILE_URL: &str = r#"/api/openapi.json?a=1&b="><script>alert('u')</script>"#;

    /// The text between each `<script ...>` and its `</script>`.
    fn script_bodies(html: &str) -> Vec<&str> {
        html.match_indices("<script")
            .map(|(at, _)| {
                let rest = &html[at..];
                let open_end = rest.find('>').expect("tag closes") + 1;
                let close = rest.find("</script>").expect("script closes");
                &rest[open_end..close]
            })
            .collect()
    }

    #[test]
    fn page_escapes_title_and_url() {
        let html = page(HOSTILE_TITLE, HOSTILE_URL, "/api/docs/assets", None);
        assert!(!html.contains("alert(\""), "{html}");
        assert!(!html.contains("alert('"), "{html}");
        assert_eq!(html.matches("<script").count(), 2, "{html}");
        assert_eq!(html.matches("</title>").count(), 1, "{html}");
        assert!(html.contains(
            "<title>&lt;/title&gt;&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;</title>"
        ));
        assert!(html.contains(
            r#"data-spec-url="/api/openapi.json?a=1&amp;b=&quot;&gt;&lt;script&gt;alert(&#x27;u&#x27;)&lt;/script&gt;""#
        ), "{html}");
    }

    #[test]
    fn page_references_the_three_assets_under_the_prefix() {
        for prefix in ["/api/docs/assets", "/api/docs/assets/"] {
            let html = page("API", "/api/openapi.json", prefix, None);
            assert!(html.contains(r#"href="/api/docs/assets/swagger-ui.css""#));
            assert!(html.contains(r#"src="/api/docs/assets/swagger-ui-bundle.js""#));
            assert!(html.contains(r#"src="/api/docs/assets/init.js""#));
            assert!(html.contains(r#"data-spec-url="/api/openapi.json""#));
            assert!(html.contains(r#"data-title="API""#));
            assert!(html.contains(r#"id="estate-api-docs""#));
            assert!(html.contains(r#"id="swagger-ui""#));
            assert!(!html.contains("//swagger-ui"), "{html}");
        }
    }

    #[test]
    fn page_has_no_inline_script() {
        let html = page(HOSTILE_TITLE, HOSTILE_URL, "/a", Some("n0nce"));
        let bodies = script_bodies(&html);
        assert_eq!(bodies.len(), 2, "{html}");
        assert!(bodies.iter().all(|b| b.is_empty()), "{bodies:?}");
        assert!(!html.contains("<style"), "{html}");
        assert!(!html.contains(" on"), "no event handler attributes: {html}");
        assert!(!html.contains("javascript:"), "{html}");
    }

    #[test]
    fn page_puts_the_nonce_on_tags() {
        let html = page("API", "/api/openapi.json", "/a", Some("abc+/="));
        assert_eq!(html.matches(r#"nonce="abc+/=""#).count(), 3, "{html}");
        for tag in [
            "<link rel=\"stylesheet\"",
            "<script src=\"/a/swagger-ui-bundle.js\"",
            "<script src=\"/a/init.js\"",
        ] {
            let start = html.find(tag).expect(tag);
            let end = start + html[start..].find('>').unwrap();
            assert!(html[start..end].contains(r#"nonce="abc+/=""#), "{tag}");
        }

        let hostile = page("API", "/x", "/a", Some(r#""><script>x()</script>"#));
        assert_eq!(hostile.matches("<script").count(), 2, "{hostile}");

        let plain = page("API", "/api/openapi.json", "/a", None);
        assert!(!plain.contains("nonce"), "{plain}");
    }

    #[test]
    fn assets_have_bytes_and_content_types() {
        for (name, content_type) in [
            ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
            ("swagger-ui.css", "text/css; charset=utf-8"),
            ("init.js", "text/javascript; charset=utf-8"),
        ] {
            let (bytes, ty) = asset(name).expect(name);
            assert!(!bytes.is_empty(), "{name}");
            assert_eq!(ty, content_type, "{name}");
        }
        let init = std::str::from_utf8(asset("init.js").unwrap().0).unwrap();
        assert!(init.contains("estate-api-docs"));
        assert!(init.contains("data-spec-url"));
        assert!(init.contains("validatorUrl: null"));
    }

    #[test]
    fn unknown_and_traversal_names_are_none() {
        for name in [
            "",
            "index.html",
            "swagger-ui.css.map",
            "LICENSE",
            "README.md",
            "swagger-ui/swagger-ui.css",
            "../Cargo.toml",
            "../../Cargo.toml",
            "..%2FCargo.toml",
            "/etc/passwd",
            "./init.js",
            "init.js/",
            "INIT.JS",
        ] {
            assert!(asset(name).is_none(), "{name}");
        }
    }
}
