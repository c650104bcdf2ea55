//! Content Security Policy with per-request nonces (Django 6's CSP): the
//! policy from `security.csp` (and `security.csp_report_only`) is sent on
//! every response that has none, with `{nonce}` replaced by a fresh random
//! value that templates put on their `<script nonce="...">` and `<style>`
//! tags via `csp_nonce()`, so a strict policy without `'unsafe-inline'` works.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use base64::Engine;
use http::request::Parts;
use http::{HeaderName, HeaderValue};

use crate::error::Error;

/// The placeholder in a policy that becomes the request's nonce.
pub const NONCE_PLACEHOLDER: &str = "{nonce}";

/// The policies to send.
pub(crate) struct CspConfig {
    pub(crate) enforce: Option<String>,
    pub(crate) report_only: Option<String>,
}

impl CspConfig {
    /// Whether any policy asks for a nonce.
    pub(crate) fn wants_nonce(&self) -> bool {
        [&self.enforce, &self.report_only]
            .into_iter()
            .flatten()
            .any(|p| p.contains(NONCE_PLACEHOLDER))
    }

    /// The headers for a response, with `nonce` filled in.
    pub(crate) fn headers(&self, nonce: Option<&CspNonce>) -> Vec<(HeaderName, HeaderValue)> {
        let fill = |policy: &String| {
            let text = match nonce {
                Some(nonce) => policy.replace(NONCE_PLACEHOLDER, &nonce.0),
                None => policy.clone(),
            };
            HeaderValue::from_str(&text).ok()
        };
        let mut out = Vec::new();
        if let Some(value) = self.enforce.as_ref().and_then(fill) {
            out.push((http::header::CONTENT_SECURITY_POLICY, value));
        }
        if let Some(value) = self.report_only.as_ref().and_then(fill) {
            out.push((http::header::CONTENT_SECURITY_POLICY_REPORT_ONLY, value));
        }
        out
    }
}

/// This request's CSP nonce (128 random bits, base64). Take it as an
/// extractor when rendering templates yourself and pass it as `csp_nonce`;
/// `Template` responses get it automatically.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CspNonce(pub Arc<str>);

impl CspNonce {
    pub(crate) fn fresh() -> CspNonce {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        CspNonce(
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .into(),
        )
    }
}

impl std::fmt::Display for CspNonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The nonce in a template: `{{ csp_nonce }}` and `{{ csp_nonce() }}` both
/// write it.
#[derive(Debug)]
struct NonceValue(Arc<str>);

impl minijinja::value::Object for NonceValue {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }

    fn call(
        self: &Arc<Self>,
        _state: &mut minijinja::State<'_, '_>,
        _args: &[minijinja::Value],
    ) -> Result<minijinja::Value, minijinja::Error> {
        Ok(minijinja::Value::from(self.0.as_ref()))
    }
}

/// `csp_nonce` in a template without a nonce: false in `{% if csp_nonce %}`
/// and written as nothing, so `<script{% if csp_nonce %} nonce="{{
/// csp_nonce }}"{% endif %}>` works with and without a policy; calling
/// `csp_nonce()` says how to get one.
#[derive(Debug)]
pub(crate) struct NoNonce;

impl minijinja::value::Object for NoNonce {
    fn is_true(self: &Arc<Self>) -> bool {
        false
    }

    fn render(self: &Arc<Self>, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }

    fn call(
        self: &Arc<Self>,
        _state: &mut minijinja::State<'_, '_>,
        _args: &[minijinja::Value],
    ) -> Result<minijinja::Value, minijinja::Error> {
        Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            NO_NONCE,
        ))
    }
}

/// Why `csp_nonce()` has nothing to give.
pub(crate) const NO_NONCE: &str = "csp_nonce() needs a nonce: set security.csp with \
                                   'nonce-{nonce}', and return a Template (or pass the CspNonce \
                                   extractor as csp_nonce)";

impl From<CspNonce> for minijinja::Value {
    /// For a template context: `context! { csp_nonce => nonce }`.
    fn from(nonce: CspNonce) -> Self {
        minijinja::Value::from_object(NonceValue(nonce.0))
    }
}

impl CspNonce {
    /// The request's nonce, from its extensions (`None` when the policy has
    /// no nonce, or outside an Estate app).
    pub fn from_extensions(extensions: &http::Extensions) -> Option<CspNonce> {
        super::RequestCore::of(extensions).and_then(|core| core.csp_nonce.clone())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CspNonce {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        CspNonce::from_extensions(&parts.extensions).ok_or_else(|| {
            Error::internal(
                "no CSP nonce: set security.csp with 'nonce-{nonce}' in a directive to use one",
            )
        })
    }
}
