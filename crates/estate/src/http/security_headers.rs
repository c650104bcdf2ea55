//! The security headers sent on every response, built once at startup.

use http::{HeaderName, HeaderValue};

use crate::settings::SecuritySettings;

/// The headers added to every response the handler did not set itself:
/// `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
/// `Referrer-Policy: same-origin`, `Cross-Origin-Opener-Policy: same-origin`
/// (each adjustable in `[security]`).
pub(crate) fn security_headers(security: &SecuritySettings) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::with_capacity(4);
    if security.content_type_nosniff {
        headers.push((
            http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    }
    let value = |text: &str| HeaderValue::from_str(text).expect("validated when settings loaded");
    headers.push((
        http::header::X_FRAME_OPTIONS,
        value(&security.x_frame_options),
    ));
    headers.push((
        http::header::REFERRER_POLICY,
        value(&security.referrer_policy),
    ));
    headers.push((
        HeaderName::from_static("cross-origin-opener-policy"),
        value(&security.cross_origin_opener_policy),
    ));
    headers
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
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "x-content-type-options",
                "x-frame-options",
                "referrer-policy",
                "cross-origin-opener-policy"
            ]
        );
        assert_eq!(headers[1].1, "DENY");
        assert_eq!(
            hsts_header(&settings.security).unwrap(),
            "max-age=3600; preload"
        );
    }
}
