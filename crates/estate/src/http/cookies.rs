//! Reading request cookies and writing `Set-Cookie` headers, for the
//! framework's own cookies (CSRF, sessions).

use http::HeaderMap;
use http::header::COOKIE;

/// The value of the first cookie called `name` in the request's `Cookie`
/// headers.
pub(crate) fn request_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    // A request without cookies is answered by one lookup, without setting
    // up the search below.
    headers.get(COOKIE)?;
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn cookies_are_found_across_headers_and_pairs() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; sessionid=abc"));
        headers.append(COOKIE, HeaderValue::from_static("b=\"2\""));
        assert_eq!(request_cookie(&headers, "sessionid"), Some("abc"));
        assert_eq!(request_cookie(&headers, "b"), Some("2"));
        assert_eq!(request_cookie(&headers, "session"), None);
    }

    #[test]
    fn a_single_pair_and_no_cookie_at_all() {
        let mut headers = HeaderMap::new();
        assert_eq!(request_cookie(&headers, "csrftoken"), None);
        headers.insert(COOKIE, HeaderValue::from_static(" csrftoken=\"abc\" "));
        assert_eq!(request_cookie(&headers, "csrftoken"), Some("abc"));
        assert_eq!(request_cookie(&headers, "sessionid"), None);
        headers.insert(COOKIE, HeaderValue::from_static("novalue"));
        assert_eq!(request_cookie(&headers, "novalue"), None);
    }
}
