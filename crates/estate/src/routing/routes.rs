//! A set of routes that can be nested under a prefix and a namespace, with
//! plain axum routers mounted among them. [`App`](crate::App) and
//! [`AppModule`](crate::AppModule) both hold one.
//!
//! Routes are recorded, not built, until the app starts: only then are the
//! full paths, names, limits and layers known.

use axum::Router;
use axum::extract::DefaultBodyLimit;

use super::layer::RouteLayer;
use super::route::{HandlerInfo, Route};
use super::urls::UrlTable;

type LayerFn = Box<dyn FnOnce(Router) -> Router + Send>;

/// A set of routes, nested sets, mounted axum routers and layers.
#[derive(Default)]
pub struct Routes {
    namespace: Option<String>,
    routes: Vec<(String, Route)>,
    nested: Vec<(String, Routes)>,
    mounted: Vec<(String, Router)>,
    layers: Vec<LayerFn>,
}

/// One line of the route listing (`routes` command, DEBUG 404 page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// The full path pattern, e.g. `/polls/{id}/`.
    pub path: String,
    /// The full name, e.g. `polls:detail`.
    pub name: Option<String>,
    /// Handlers by method.
    pub handlers: Vec<HandlerInfo>,
}

/// The result of building: the axum router plus what was recorded.
pub(crate) struct BuiltRoutes {
    pub(crate) router: Router,
    pub(crate) urls: UrlTable,
    pub(crate) listing: Vec<RouteInfo>,
    /// Routes whose body limit differs from the global one: (path, bytes).
    /// Every route's path with what the core must know before routing:
    /// its body limit and CSRF exemption (mounted axum routers too, with
    /// neither, so a broader Estate route cannot claim their paths).
    pub(crate) flags: Vec<(String, RouteFlags)>,
}

/// What the HTTP core needs to know of a route before routing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RouteFlags {
    /// The route's own body limit.
    pub(crate) max_body_size: Option<u64>,
    /// Marked `.csrf_exempt()`.
    pub(crate) csrf_exempt: bool,
    /// Marked `.csrf_exempt_bearer()`: requests carrying a bearer token
    /// skip the CSRF check.
    pub(crate) csrf_exempt_bearer: bool,
    /// Marked `.json_errors()`: error pages are problem JSON.
    pub(crate) json_errors: bool,
    /// Marked `.cache_page(..)`: GET responses are cached this long.
    pub(crate) cache_page: Option<std::time::Duration>,
}

impl Routes {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Prefixes the names of these routes with `namespace:` when nested (Django's
    /// `app_name`). Apps set this to their name automatically.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        let namespace = namespace.into();
        assert!(
            !namespace.is_empty() && !namespace.contains(':'),
            "invalid namespace {namespace:?}: use a plain identifier such as \"polls\""
        );
        self.namespace = Some(namespace);
        self
    }

    /// Adds a route at `path` (axum syntax: `/polls/{id}/`, `/files/{*path}`).
    pub fn route(mut self, path: &str, route: impl Into<Route>) -> Self {
        self.routes.push((path.to_owned(), route.into()));
        self
    }

    /// Nests a set of routes (or a plain axum router) under `prefix`.
    pub fn nest(mut self, prefix: &str, routes: impl Into<Routes>) -> Self {
        self.nested.push((prefix.to_owned(), routes.into()));
        self
    }

    /// Mounts a plain axum router as it is, at this level.
    pub fn merge(mut self, router: Router) -> Self {
        self.mounted.push((String::new(), router));
        self
    }

    /// Applies a tower layer to every route in this set (not to others).
    pub fn layer<L: RouteLayer>(mut self, layer: L) -> Self {
        self.layers
            .push(Box::new(move |router| router.layer(layer)));
        self
    }

    pub(crate) fn set_default_namespace(&mut self, namespace: &str) {
        if self.namespace.is_none() {
            self.namespace = Some(namespace.to_owned());
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.routes.is_empty() && self.nested.is_empty() && self.mounted.is_empty()
    }

    /// Builds the axum router with full paths, recording names, the listing
    /// and body limits. `prefix` and `namespace` come from the enclosing sets.
    pub(crate) fn build(self, prefix: &str, namespace: &str) -> Result<BuiltRoutes, String> {
        let mut built = BuiltRoutes {
            router: Router::new(),
            urls: UrlTable::default(),
            listing: Vec::new(),
            flags: Vec::new(),
        };
        self.build_into(prefix, namespace, &mut built)?;
        Ok(built)
    }

    fn build_into(self, prefix: &str, outer_ns: &str, out: &mut BuiltRoutes) -> Result<(), String> {
        let namespace = match &self.namespace {
            Some(ns) if outer_ns.is_empty() => ns.clone(),
            Some(ns) => format!("{outer_ns}:{ns}"),
            None => outer_ns.to_owned(),
        };
        let mut router = Router::new();
        for (path, route) in self.routes {
            check_path(&path)?;
            let mut full = join(prefix, &path);
            if full.is_empty() {
                full.push('/');
            }
            let name = route.name.map(|name| {
                if namespace.is_empty() {
                    name
                } else {
                    format!("{namespace}:{name}")
                }
            });
            if let Some(name) = &name {
                out.urls.insert(name.clone(), &full)?;
            }
            let mut method_router = route.router;
            out.flags.push((
                full.clone(),
                RouteFlags {
                    max_body_size: route.max_body_size,
                    csrf_exempt: route.csrf_exempt,
                    csrf_exempt_bearer: route.csrf_exempt_bearer,
                    json_errors: route.json_errors,
                    cache_page: route.cache_page,
                },
            ));
            if let Some(limit) = route.max_body_size {
                method_router = method_router.layer(DefaultBodyLimit::max(limit as usize));
            }
            out.listing.push(RouteInfo {
                path: full.clone(),
                name,
                handlers: route.handlers,
            });
            router = router.route(&full, method_router);
        }
        for (nested_prefix, routes) in self.nested {
            check_path(&nested_prefix)?;
            let mut inner = BuiltRoutes {
                router: Router::new(),
                urls: UrlTable::default(),
                listing: Vec::new(),
                flags: Vec::new(),
            };
            routes.build_into(&join(prefix, &nested_prefix), &namespace, &mut inner)?;
            router = router.merge(inner.router);
            for name in inner.urls.names() {
                let pattern = inner.urls.pattern(name).unwrap_or_default().to_owned();
                out.urls.insert(name.to_owned(), &pattern)?;
            }
            out.listing.extend(inner.listing);
            out.flags.extend(inner.flags);
        }
        for (mount_prefix, mounted) in self.mounted {
            let at = join(prefix, &mount_prefix);
            if !at.is_empty() {
                out.flags.push((at.clone(), RouteFlags::default()));
                out.flags
                    .push((format!("{at}/{{*estate_mounted}}"), RouteFlags::default()));
            }
            out.listing.push(RouteInfo {
                path: if at.is_empty() {
                    "/".into()
                } else {
                    format!("{at}/...")
                },
                name: None,
                handlers: vec![HandlerInfo {
                    method: "*",
                    handler: "(mounted axum router)".into(),
                }],
            });
            router = if at.is_empty() || at == "/" {
                router.merge(mounted)
            } else {
                router.nest(&at, mounted)
            };
        }
        for layer in self.layers {
            router = layer(router);
        }
        out.router = std::mem::take(&mut out.router).merge(router);
        Ok(())
    }
}

impl From<Router> for Routes {
    /// A plain axum router, mounted unchanged (its routes are unnamed).
    fn from(router: Router) -> Self {
        Routes {
            mounted: vec![(String::new(), router)],
            ..Routes::default()
        }
    }
}

fn check_path(path: &str) -> Result<(), String> {
    if !path.is_empty() && !path.starts_with('/') {
        return Err(format!(
            "route path {path:?} must start with `/` (write \"/{path}\")"
        ));
    }
    if path.split('/').any(|segment| segment.starts_with(':')) {
        return Err(format!(
            "route path {path:?} uses the old `:param` syntax; write `{{param}}` instead"
        ));
    }
    Ok(())
}

/// Joins a prefix and a path without doubling or losing slashes:
/// `("/polls", "/{id}/")` → `/polls/{id}/`, `("", "/")` → `/`, `("/polls", "/")` → `/polls/`.
pub(crate) fn join(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    match (prefix.is_empty(), path.is_empty()) {
        (true, true) => String::new(),
        (true, false) => path.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::get;

    #[test]
    fn joins_prefixes() {
        assert_eq!(join("/polls", "/{id}/"), "/polls/{id}/");
        assert_eq!(join("/polls/", "/{id}/"), "/polls/{id}/");
        assert_eq!(join("", "/"), "/");
        assert_eq!(join("/polls", "/"), "/polls/");
        assert_eq!(join("/", "/x"), "/x");
        assert_eq!(join("/api", ""), "/api");
    }

    #[test]
    fn nested_namespaces_prefix_names_and_paths() {
        let results = Routes::new()
            .namespace("results")
            .route("/{id}", get(|| async { "r" }).name("detail"));
        let polls = Routes::new()
            .namespace("polls")
            .route("/", get(|| async { "i" }).name("index"))
            .nest("/results", results);
        let built = Routes::new().nest("/polls", polls).build("", "").unwrap();
        assert_eq!(built.urls.reverse("polls:index", ()).unwrap(), "/polls/");
        assert_eq!(
            built.urls.reverse("polls:results:detail", (4,)).unwrap(),
            "/polls/results/4"
        );
        assert_eq!(built.listing.len(), 2);
    }

    #[test]
    fn bad_paths_are_explained() {
        let err = Routes::new()
            .route("polls", get(|| async { "" }))
            .build("", "")
            .err()
            .unwrap();
        assert!(err.contains("must start with `/`"), "{err}");
        let err = Routes::new()
            .route("/polls/:id", get(|| async { "" }))
            .build("", "")
            .err()
            .unwrap();
        assert!(err.contains("write `{param}`"), "{err}");
    }
}
