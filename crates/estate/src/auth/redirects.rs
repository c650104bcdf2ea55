//! Where `?next=` may send a user after login: only to this site (Django's
//! `url_has_allowed_host_and_scheme`, stricter). Anything else — another
//! host, a scheme-relative `//evil.example`, `/\evil.example` (which
//! browsers read as `//evil.example`), `javascript:`, control characters —
//! is refused, and the default page is used instead.

/// Whether `url` stays on `host` (the request's `Host`): a path starting
/// with a single `/`, or an `http(s)://` URL on that host (`https` only
/// when the request was secure).
pub(crate) fn is_safe_redirect(url: &str, host: &str, secure: bool) -> bool {
    let url = url.trim_matches(|c: char| c.is_ascii_whitespace());
    if url.is_empty() || url.chars().any(|c| c.is_control() || c == '\\') || url.len() > 2048 {
        return false;
    }
    if let Some(rest) = url.strip_prefix('/') {
        // `//host` is another site.
        return !rest.starts_with('/');
    }
    let (scheme, rest) = match url.split_once("://") {
        Some(parts) => parts,
        None => return false,
    };
    let scheme_ok = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => !secure,
        _ => false,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // No user info (`https://site@evil.example`).
    scheme_ok && !authority.contains('@') && authority.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_sites_urls_are_allowed() {
        let host = "example.com";
        for safe in [
            "/",
            "/polls/",
            "/polls/?page=2#top",
            "https://example.com/polls/",
            "http://EXAMPLE.com/x",
        ] {
            assert!(is_safe_redirect(safe, host, false), "{safe}");
        }
        for unsafe_url in [
            "",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "https://example.com.evil.example/",
            "https://example.com@evil.example/",
            "javascript:alert(1)",
            "http:evil.example",
            "ftp://example.com/",
            "evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            " //evil.example",
        ] {
            assert!(!is_safe_redirect(unsafe_url, host, false), "{unsafe_url:?}");
        }
        // A secure request does not go back to plain HTTP.
        assert!(!is_safe_redirect("http://example.com/", host, true));
        assert!(is_safe_redirect("https://example.com/", host, true));
    }
}
