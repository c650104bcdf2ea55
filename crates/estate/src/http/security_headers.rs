//! The security headers sent on every response, built once at startup.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::settings::{SecuritySettings, X_FRAME_OPTIONS_VALUES};

/// How many headers a response's map holds before it has to grow: the
/// security headers, a handler's usual few, and what the core adds (request
/// id, HSTS, CSRF cookie, `Vary`). Growing rehashes every entry.
const RESPONSE_HEADER_ROOM: usize = 12;

/// The headers every response starts from, unless the handler set its own:
/// `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
/// `Referrer-Policy: same-origin`, `Cross-Origin-Opener-Policy: same-origin`
/// (each adjustable in `[security]`).
///
/// Built once, as a map with room for a typical response's headers: when a
/// handler's own map has no room left for these, the core clones this one
/// and moves the handler's headers in, instead of growing the handler's.
pub(crate) fn security_headers(security: &SecuritySettings) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(RESPONSE_HEADER_ROOM);
    if security.content_type_nosniff {
        headers.insert(
            http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    headers.insert(
        http::header::X_FRAME_OPTIONS,
        header_value(&security.x_frame_options),
    );
    headers.insert(
        http::header::REFERRER_POLICY,
        header_value(&security.referrer_policy),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        header_value(&security.cross_origin_opener_policy),
    );
    headers
}

/// A setting's header value. The usual values are static: cloning one into
/// each response then copies a pointer, where a value built at startup
/// would be reference-counted (an atomic increment and decrement per
/// response).
fn header_value(text: &str) -> HeaderValue {
    // The referrer and opener policies the specifications define.
    const POLICIES: [&str; 10] = [
        "same-origin",
        "same-origin-allow-popups",
        "unsafe-none",
        "no-referrer",
        "no-referrer-when-downgrade",
        "origin",
        "origin-when-cross-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    ];
    let mut known = X_FRAME_OPTIONS_VALUES.iter().chain(&POLICIES);
    match known.find(|known| **known == text) {
        Some(known) => HeaderValue::from_static(known),
        None => HeaderValue::from_str(text).expect("validated when settings loaded"),
    }
}

/// `Strict-Transport-Security`, when `hsts_seconds` is above zero.
pub(crate) fn hsts_header(security: &SecuritySettings) -> Option<HeaderValue> {
    if security.hsts_seconds == 0 {
        return None;
    }
    let mut text = format!("max-age={}", security.hsts_seconds);
    if security.hsts_include_subdomains {
        text.push_str("; includeSubDomains");
    }
    if security.hsts_preload {
        text.push_str("; preload");
    }
    Some(HeaderValue::from_str(&text).expect("digits and ASCII words"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::SettingsLoader;

    #[test]
    fn defaults_and_hsts() {
        let settings = SettingsLoader::new()
            .set("debug", true)
            .set("security.hsts_seconds", 3600)
            .set("security.hsts_preload", true)
            .load()
            .unwrap();
        let headers = security_headers(&settings.security);
        let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(
            names,
            [
                "x-content-type-options",
                "x-frame-options",
                "referrer-policy",
                "cross-origin-opener-policy"
            ]
        );
        assert_eq!(headers["x-frame-options"], "DENY");
        // Room for a response's usual headers, so adding them does not grow it.
        assert!(headers.capacity() >= RESPONSE_HEADER_ROOM);
        assert_eq!(
            hsts_header(&settings.security).unwrap(),
            "max-age=3600; preload"
        );
    }
}
