//! `ALLOWED_HOSTS`: which `Host` headers the site answers to.
//!
//! Same rules as Django: `example.com` matches exactly, `.example.com` matches
//! the domain and every subdomain, `*` matches anything. Ports are ignored.
//! With DEBUG on and an empty list, local names are allowed so development
//! works out of the box.

use http::{HeaderValue, Uri};
#[cfg(test)]
use http::{Request, header::HOST};

/// A compiled `ALLOWED_HOSTS` list.
#[derive(Clone, Debug)]
pub(crate) struct AllowedHosts {
    any: bool,
    exact: Vec<String>,
    suffixes: Vec<String>,
}

/// Why a request's host was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HostError {
    /// No `Host` header (or authority) at all.
    Missing,
    /// Not a syntactically valid host.
    Malformed(String),
    /// Valid, but not in the list.
    NotAllowed(String),
}

impl HostError {
    /// The message for the 400 page; the DEBUG one tells the developer the fix.
    pub(crate) fn message(&self, debug: bool) -> String {
        match (self, debug) {
            (HostError::Missing, _) => "The request has no Host header.".to_owned(),
            (HostError::Malformed(host), true) => format!(
                "Invalid HTTP_HOST header: {host:?}. The domain name provided is not valid \
                 according to RFC 1034/1035."
            ),
            (HostError::NotAllowed(host), true) => format!(
                "Invalid HTTP_HOST header: {host:?}. You may need to add {:?} to ALLOWED_HOSTS \
                 (allowed_hosts in estate.toml or ESTATE_ALLOWED_HOSTS).",
                domain_of(host).map(|(d, _)| d).unwrap_or(host)
            ),
            _ => "Bad Request (400)".to_owned(),
        }
    }
}

impl AllowedHosts {
    /// Compiles the list. With `debug` and an empty list, local hosts are allowed.
    pub(crate) fn new(list: &[String], debug: bool) -> Self {
        let mut hosts = AllowedHosts {
            any: false,
            exact: Vec::new(),
            suffixes: Vec::new(),
        };
        let defaults = ["localhost", ".localhost", "127.0.0.1", "[::1]"];
        let entries: Vec<String> = if list.is_empty() && debug {
            defaults.iter().map(|s| (*s).to_owned()).collect()
        } else {
            list.to_vec()
        };
        for entry in entries {
            let entry = entry.to_ascii_lowercase();
            if entry == "*" {
                hosts.any = true;
            } else if let Some(domain) = entry.strip_prefix('.') {
                hosts.exact.push(domain.to_owned());
                hosts.suffixes.push(format!(".{domain}"));
            } else {
                hosts.exact.push(entry);
            }
        }
        hosts
    }

    /// Any host at all.
    pub(crate) fn any() -> Self {
        AllowedHosts {
            any: true,
            exact: Vec::new(),
            suffixes: Vec::new(),
        }
    }

    /// Checks the request's host (the `Host` header, or the URI authority for
    /// absolute-form requests).
    #[cfg(test)]
    pub(crate) fn check<B>(&self, request: &Request<B>) -> Result<(), HostError> {
        self.check_host(request.uri(), request.headers().get(HOST))
    }

    /// Checks a request's host: the URI's authority (absolute-form
    /// requests), else its `Host` header.
    pub(crate) fn check_host(
        &self,
        uri: &Uri,
        host: Option<&HeaderValue>,
    ) -> Result<(), HostError> {
        if self.any {
            return Ok(());
        }
        let raw: &[u8] = match uri.authority() {
            Some(authority) => authority.as_str().as_bytes(),
            None => match host {
                Some(value) => value.as_bytes(),
                None => return Err(HostError::Missing),
            },
        };
        // Fast path, on bytes: an exact allowed name (entries are lowercase
        // ASCII and valid by construction), with or without a port.
        if self.is_exact(raw) {
            return Ok(());
        }
        let raw = std::str::from_utf8(raw)
            .map_err(|_| HostError::Malformed(String::from_utf8_lossy(raw).into_owned()))?;
        let (domain, _port) = domain_of(raw).ok_or_else(|| HostError::Malformed(raw.to_owned()))?;
        if self.matches(domain) {
            Ok(())
        } else {
            Err(HostError::NotAllowed(raw.to_owned()))
        }
    }

    /// Whether `raw` is one of the exact names, optionally followed by a
    /// port of one to five digits (what [`domain_of`] accepts).
    fn is_exact(&self, raw: &[u8]) -> bool {
        self.exact.iter().any(|name| {
            let name = name.as_bytes();
            raw.len() >= name.len()
                // Byte-equal first (one `memcmp`; clients send lowercase),
                // then case-insensitively.
                && (raw[..name.len()] == *name || raw[..name.len()].eq_ignore_ascii_case(name))
                && match &raw[name.len()..] {
                    [] => true,
                    [b':', port @ ..] => is_port(port),
                    _ => false,
                }
        })
    }

    fn matches(&self, domain: &str) -> bool {
        // Compare case-insensitively without allocating on the common path.
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        self.exact.iter().any(|h| h.eq_ignore_ascii_case(domain))
            || self.suffixes.iter().any(|suffix| {
                domain.len() > suffix.len()
                    && domain[domain.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            })
    }
}

/// A port as a Host header may give it: one to five digits.
fn is_port(port: &[u8]) -> bool {
    (1..=5).contains(&port.len()) && port.iter().all(u8::is_ascii_digit)
}

/// Splits `host[:port]` (or `[v6]:port`) and validates it like Django's
/// `host_validation_re`.
fn domain_of(raw: &str) -> Option<(&str, Option<&str>)> {
    let (domain, port) = if raw.starts_with('[') {
        let end = raw.find(']')?;
        let rest = &raw[end + 1..];
        let port = match rest.strip_prefix(':') {
            Some(p) => Some(p),
            None if rest.is_empty() => None,
            None => return None,
        };
        (&raw[..=end], port)
    } else {
        match raw.rsplit_once(':') {
            Some((domain, port)) => (domain, Some(port)),
            None => (raw, None),
        }
    };
    if let Some(port) = port {
        if !is_port(port.as_bytes()) {
            return None;
        }
    }
    let valid = if domain.starts_with('[') {
        domain.len() > 2
            && domain[1..domain.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        !domain.is_empty()
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    };
    valid.then_some((domain, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(host: &str) -> Request<()> {
        Request::builder()
            .uri("/")
            .header(HOST, host)
            .body(())
            .unwrap()
    }

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn exact_and_subdomain_entries() {
        let hosts = AllowedHosts::new(&list(&["example.com", ".example.org"]), false);
        assert!(hosts.check(&req("example.com")).is_ok());
        assert!(hosts.check(&req("EXAMPLE.com:8080")).is_ok());
        assert!(hosts.check(&req("example.org")).is_ok());
        assert!(hosts.check(&req("www.example.org")).is_ok());
        assert_eq!(
            hosts.check(&req("evil.com")),
            Err(HostError::NotAllowed("evil.com".into()))
        );
        assert!(hosts.check(&req("www.example.com")).is_err());
        assert!(hosts.check(&req("notexample.org")).is_err());
        // A longer name that starts with an allowed one is not that name.
        assert!(hosts.check(&req("example.community")).is_err());
        assert!(hosts.check(&req("example.com.evil.test")).is_err());
    }

    #[test]
    fn malformed_hosts_are_refused_even_with_a_wildcard_suffix() {
        let hosts = AllowedHosts::new(&list(&[".example.com"]), false);
        assert!(matches!(
            hosts.check(&req("a b.example.com")),
            Err(HostError::Malformed(_))
        ));
        assert!(matches!(
            hosts.check(&req("example.com:80x")),
            Err(HostError::Malformed(_))
        ));
        // Exact names follow the same port rules: one to five digits.
        let exact = AllowedHosts::new(&list(&["example.com"]), false);
        for bad in ["example.com:", "example.com:123456", "example.com::80"] {
            assert!(
                matches!(exact.check(&req(bad)), Err(HostError::Malformed(_))),
                "{bad}"
            );
        }
        assert!(exact.check(&req("example.com:65535")).is_ok());
        let binary = Request::builder()
            .uri("/")
            .header(
                HOST,
                http::HeaderValue::from_bytes(b"example.com\xff").unwrap(),
            )
            .body(())
            .unwrap();
        assert!(matches!(exact.check(&binary), Err(HostError::Malformed(_))));
        let none = Request::builder().uri("/").body(()).unwrap();
        assert_eq!(hosts.check(&none), Err(HostError::Missing));
    }

    #[test]
    fn debug_allows_local_names_only_when_the_list_is_empty() {
        let debug = AllowedHosts::new(&[], true);
        for host in [
            "localhost:8000",
            "127.0.0.1:8000",
            "[::1]:8000",
            "app.localhost",
        ] {
            assert!(debug.check(&req(host)).is_ok(), "{host}");
        }
        assert!(debug.check(&req("example.com")).is_err());
        let production = AllowedHosts::new(&[], false);
        assert!(production.check(&req("localhost")).is_err());
    }

    #[test]
    fn star_allows_anything_well_formed() {
        let hosts = AllowedHosts::new(&list(&["*"]), false);
        assert!(hosts.check(&req("anything.test")).is_ok());
    }

    #[test]
    fn debug_message_names_the_fix() {
        let msg = HostError::NotAllowed("evil.com:8000".into()).message(true);
        assert!(msg.contains("add \"evil.com\" to ALLOWED_HOSTS"), "{msg}");
        assert_eq!(
            HostError::NotAllowed("x".into()).message(false),
            "Bad Request (400)"
        );
    }
}
