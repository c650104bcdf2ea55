//! One route: an axum `MethodRouter` plus what Estate records about it (its
//! name, the handlers per method, its body-size limit).
//!
//! Build routes with Estate's [`get`], [`post`], ... (drop-in replacements for
//! axum's, which also record the handler's name for `routes` and error pages)
//! and name them Django-style:
//!
//! ```
//! use estate::prelude::*;
//!
//! async fn detail(Path(id): Path<i64>) -> String { format!("question {id}") }
//! async fn upload() -> &'static str { "ok" }
//!
//! let app = App::new()
//!     .route("/polls/{id}/", get(detail).name("detail"))
//!     .route("/upload", post(upload).name("upload").max_body_size(50 * 1024 * 1024));
//! ```
//!
//! A plain `axum::routing::MethodRouter` converts into a [`Route`] too; its
//! methods and handler then show as `*` and `(axum)` in the route listing.

use axum::handler::Handler;
use axum::routing::MethodRouter;

use super::layer::RouteLayer;

/// What the route listing shows for one method of a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandlerInfo {
    /// `GET`, `POST`, ... or `*` for any method.
    pub method: &'static str,
    /// The handler's Rust path, e.g. `polls::views::detail`.
    pub handler: String,
}

/// One route: handlers per method, an optional name, an optional body limit.
pub struct Route {
    pub(crate) router: MethodRouter,
    pub(crate) handlers: Vec<HandlerInfo>,
    pub(crate) name: Option<String>,
    pub(crate) max_body_size: Option<u64>,
    pub(crate) csrf_exempt: bool,
    pub(crate) csrf_exempt_bearer: bool,
    pub(crate) json_errors: bool,
    pub(crate) cache_page: Option<std::time::Duration>,
}

impl Route {
    /// Names the route, for [`reverse`](crate::routing::Urls::reverse) and
    /// `url()` in templates. Inside an app the full name is `app:name`.
    ///
    /// # Panics
    /// If the name is empty or contains `:` (the namespace separator).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        assert!(
            !name.is_empty() && !name.contains(':') && !name.starts_with('/'),
            "invalid route name {name:?}: use a plain identifier such as \"detail\" \
             (the `app:` namespace is added by the app, and paths go first in `.route(path, ...)`)"
        );
        self.name = Some(name);
        self
    }

    /// Overrides the request body limit (`limits.max_body_size`) for this
    /// route, in bytes: raise it for uploads, lower it for small forms.
    pub fn max_body_size(mut self, bytes: u64) -> Self {
        self.max_body_size = Some(bytes);
        self
    }

    /// **Unsafe opt-out**: no CSRF check on this route's POST, PUT, PATCH
    /// and DELETE (for webhooks and token-authenticated APIs, whose callers
    /// are not browsers holding a session).
    pub fn csrf_exempt(mut self) -> Self {
        self.csrf_exempt = true;
        self
    }

    /// Requests that carry an `Authorization: Bearer ...` header skip the
    /// CSRF check; every other unsafe request is still checked. A browser
    /// never adds a bearer token on its own, so a forged cross-site request
    /// cannot carry one. The handler **must** then authenticate the token
    /// and refuse the request when it is not valid, never fall back to the
    /// session (what `estate-api` does).
    pub fn csrf_exempt_bearer(mut self) -> Self {
        self.csrf_exempt_bearer = true;
        self
    }

    /// Error pages for this route (400, 403, 404, 413, 500... whether from
    /// the handler or from Estate's own checks) are RFC 9457 problem JSON
    /// whatever the client's `Accept` says: for JSON APIs.
    pub fn json_errors(mut self) -> Self {
        self.json_errors = true;
        self
    }

    /// Caches this route's GET responses in the app's
    /// [`Cache`](crate::cache::Cache) for `duration` (Django's
    /// `@cache_page`): later GET and HEAD requests for the same URL get the
    /// stored response without running the handler.
    ///
    /// Like Django, a response is stored only when it is a 200 without
    /// `Set-Cookie`, `Cache-Control: private`, `no-store`, `no-cache` or
    /// `Vary: *`, and separately for each value of the request headers
    /// its `Vary` names (so pages that read the session, which adds
    /// `Vary: Cookie`, are cached per visitor). Its own
    /// `Cache-Control: max-age` wins over `duration`; when it has no
    /// `Cache-Control`, `max-age` is added. Requests carrying
    /// `Authorization` are cached only when the response says `public`.
    /// Bodies over 1 MiB are not stored.
    pub fn cache_page(mut self, duration: std::time::Duration) -> Self {
        self.cache_page = Some(duration);
        self
    }

    /// Applies a tower layer to this route only.
    pub fn layer<L: RouteLayer>(mut self, layer: L) -> Self {
        self.router = self.router.layer(layer);
        self
    }

    /// The route's name, if any (without namespace).
    pub fn route_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn with(mut self, method: &'static str, handler: String, router: MethodRouter) -> Self {
        self.router = self.router.merge(router);
        self.handlers.push(HandlerInfo { method, handler });
        self
    }
}

impl From<MethodRouter> for Route {
    fn from(router: MethodRouter) -> Self {
        Route {
            router,
            handlers: vec![HandlerInfo {
                method: "*",
                handler: "(axum)".to_owned(),
            }],
            name: None,
            max_body_size: None,
            csrf_exempt: false,
            csrf_exempt_bearer: false,
            json_errors: false,
            cache_page: None,
        }
    }
}

/// A readable handler name: the type name without closure noise.
fn handler_name<H>() -> String {
    let full = std::any::type_name::<H>();
    full.replace("::{{closure}}", "::<closure>")
}

macro_rules! method_fns {
    ($($fn_name:ident => $method:literal),* $(,)?) => {
        $(
            #[doc = concat!("Routes `", $method, "` requests to `handler` (like axum's `", stringify!($fn_name), "`), recording the handler's name.")]
            pub fn $fn_name<H, T>(handler: H) -> Route
            where
                H: Handler<T, ()>,
                T: 'static,
            {
                Route {
                    router: axum::routing::$fn_name(handler),
                    handlers: vec![HandlerInfo { method: $method, handler: handler_name::<H>() }],
                    name: None,
                    max_body_size: None,
                    csrf_exempt: false,
                    csrf_exempt_bearer: false,
                    json_errors: false,
                    cache_page: None,
                }
            }

            impl Route {
                #[doc = concat!("Adds a `", $method, "` handler to this route.")]
                pub fn $fn_name<H, T>(self, handler: H) -> Self
                where
                    H: Handler<T, ()>,
                    T: 'static,
                {
                    self.with($method, handler_name::<H>(), axum::routing::$fn_name(handler))
                }
            }
        )*
    };
}

method_fns! {
    get => "GET",
    post => "POST",
    put => "PUT",
    patch => "PATCH",
    delete => "DELETE",
    head => "HEAD",
    options => "OPTIONS",
    any => "*",
}

/// Lets `.name(...)` and `.max_body_size(...)` be called directly on an axum
/// `MethodRouter` (for example one built with `axum::routing::get`).
pub trait RouteExt: Into<Route> {
    /// See [`Route::name`].
    fn name(self, name: impl Into<String>) -> Route {
        self.into().name(name)
    }
    /// See [`Route::max_body_size`].
    fn max_body_size(self, bytes: u64) -> Route {
        self.into().max_body_size(bytes)
    }

    /// See [`Route::csrf_exempt`].
    fn csrf_exempt(self) -> Route {
        self.into().csrf_exempt()
    }
}

impl RouteExt for MethodRouter {}

#[cfg(test)]
mod tests {
    use super::*;

    async fn detail() -> &'static str {
        "detail"
    }

    #[test]
    fn records_methods_and_handler_names() {
        let route = get(detail).post(|| async { "posted" }).name("detail");
        assert_eq!(route.route_name(), Some("detail"));
        assert_eq!(route.handlers[0].method, "GET");
        assert!(
            route.handlers[0].handler.ends_with("tests::detail"),
            "{:?}",
            route.handlers
        );
        assert_eq!(route.handlers[1].method, "POST");
        assert!(
            route.handlers[1].handler.contains("<closure>"),
            "{:?}",
            route.handlers
        );
    }

    #[test]
    #[should_panic(expected = "invalid route name \"polls:detail\"")]
    fn names_cannot_carry_a_namespace() {
        let _ = get(detail).name("polls:detail");
    }

    #[test]
    fn plain_axum_method_routers_convert() {
        let route = axum::routing::get(detail).name("x");
        assert_eq!(route.handlers[0].handler, "(axum)");
    }
}
