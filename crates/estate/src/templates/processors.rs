//! Context processors: values every `Template` response gets besides the
//! handler's (Django's context processors), and values middleware adds to a
//! response on its way out (`ExtraContext`, how auth adds `user` and the
//! messages framework `messages`).

use std::sync::Arc;

use axum::response::Response;
use http::{HeaderMap, Method, Uri};
use minijinja::Value;

/// What a context processor sees of the request.
#[derive(Debug)]
#[non_exhaustive]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The path and query.
    pub uri: Uri,
    /// The headers.
    pub headers: HeaderMap,
}

/// A function from the request to template values, run for every
/// `Template` response (register it with `App::context_processor` or
/// `AppModule::context_processor`).
#[derive(Clone)]
pub struct ContextProcessor(Arc<dyn Fn(&RequestHead) -> Value + Send + Sync>);

impl std::fmt::Debug for ContextProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContextProcessor")
    }
}

impl ContextProcessor {
    /// A processor returning a map of values (`context! { .. }`, or any
    /// serde value that serializes to a map).
    pub fn new<T, F>(processor: F) -> ContextProcessor
    where
        T: serde::Serialize,
        F: Fn(&RequestHead) -> T + Send + Sync + 'static,
    {
        ContextProcessor(Arc::new(move |head| {
            Value::from(minijinja::value::Serde(&processor(head)))
        }))
    }

    pub(crate) fn run(&self, head: &RequestHead) -> Value {
        (self.0)(head)
    }
}

/// Every processor of the app, project's first then the apps', provided
/// in the `AppContext`.
#[derive(Clone, Debug, Default)]
pub(crate) struct ContextProcessors(pub(crate) Vec<ContextProcessor>);

/// An app's processors, kept in its extensions until the app is built.
#[derive(Clone, Debug, Default)]
pub(crate) struct AppProcessors(pub(crate) Vec<ContextProcessor>);

/// Values a layer or handler adds to a `Template` response on its way out;
/// the handler's own values still win.
///
/// ```
/// use estate::templates::ExtraContext;
/// let mut response = axum::response::Response::new(axum::body::Body::empty());
/// ExtraContext::add(&mut response, "site_name", "Polls");
/// ```
#[derive(Clone, Debug, Default)]
pub struct ExtraContext(pub(crate) Vec<(String, Value)>);

impl ExtraContext {
    /// Adds `key` to the response's extra template values.
    pub fn add(response: &mut Response, key: &str, value: impl serde::Serialize) {
        let extra = response
            .extensions_mut()
            .get_or_insert_with(ExtraContext::default);
        extra
            .0
            .push((key.to_owned(), Value::from(minijinja::value::Serde(&value))));
    }

    /// Adds a template value as it is (a lazy object, say).
    pub(crate) fn add_value(response: &mut Response, key: &str, value: Value) {
        response
            .extensions_mut()
            .get_or_insert_with(ExtraContext::default)
            .0
            .push((key.to_owned(), value));
    }

    pub(crate) fn into_value(self) -> Value {
        // A map; a key added twice keeps the later value.
        Value::from(
            self.0
                .into_iter()
                .collect::<std::collections::BTreeMap<String, Value>>(),
        )
    }
}
