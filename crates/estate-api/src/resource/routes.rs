//! A resource's routes, and the dispatch of a request to its action.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use estate::orm::Model;
use estate::routing::Route;
use http::Method;
use http::request::Parts;

use super::{Action, Compiled, Defaults};

/// A resource with its type erased, as the API keeps them.
pub(crate) trait ResourceEntry: Send + Sync {
    /// The routes, under `prefix` (e.g. `/api`).
    fn routes(self: Arc<Self>, defaults: &Defaults) -> Vec<(String, Route)>;
    /// Adds the resource to the OpenAPI document.
    fn document(&self, prefix: &str, defaults: &Defaults, doc: &mut crate::openapi::Builder);
}

impl<M: Model> ResourceEntry for Compiled<M> {
    fn routes(self: Arc<Self>, defaults: &Defaults) -> Vec<(String, Route)> {
        let has = |action| self.actions.contains(&action);
        let mut routes = Vec::new();
        let handle = |resource: Arc<Self>, defaults: Defaults, kind: Kind| {
            move |request: Request| {
                let resource = resource.clone();
                let defaults = defaults.clone();
                async move { resource.dispatch(request, &defaults, kind).await }
            }
        };
        let name = &self.name;
        let mut collection: Option<Route> = None;
        let add = |route: Option<Route>, method: Method, kind: Kind| -> Option<Route> {
            let handler = handle(self.clone(), defaults.clone(), kind);
            Some(match (route, method) {
                (None, Method::GET) => estate::routing::get(handler),
                (None, Method::POST) => estate::routing::post(handler),
                (None, Method::PUT) => estate::routing::put(handler),
                (None, Method::PATCH) => estate::routing::patch(handler),
                (None, _) => estate::routing::delete(handler),
                (Some(route), Method::GET) => route.get(handler),
                (Some(route), Method::POST) => route.post(handler),
                (Some(route), Method::PUT) => route.put(handler),
                (Some(route), Method::PATCH) => route.patch(handler),
                (Some(route), _) => route.delete(handler),
            })
        };
        if has(Action::List) {
            collection = add(collection, Method::GET, Kind::List);
        }
        if has(Action::Create) {
            collection = add(collection, Method::POST, Kind::Create);
        }
        let mut item: Option<Route> = None;
        if has(Action::Retrieve) {
            item = add(item, Method::GET, Kind::Retrieve);
        }
        if has(Action::Update) {
            item = add(item, Method::PUT, Kind::Update);
        }
        if has(Action::PartialUpdate) {
            item = add(item, Method::PATCH, Kind::PartialUpdate);
        }
        if has(Action::Destroy) {
            item = add(item, Method::DELETE, Kind::Destroy);
        }
        if let Some(route) = collection {
            routes.push((format!("/{name}/"), route.name(format!("{name}-list"))));
        }
        if let Some(route) = item {
            routes.push((
                format!("/{name}/{{pk}}/"),
                route.name(format!("{name}-detail")),
            ));
        }
        for (index, action) in self.custom.iter().enumerate() {
            let path = if action.detail {
                format!("/{name}/{{pk}}/{}/", action.name)
            } else {
                format!("/{name}/{}/", action.name)
            };
            let route = add(None, action.method.clone(), Kind::Custom(index))
                .expect("a route")
                .name(format!("{name}-{}", action.name));
            routes.push((path, route));
        }
        routes
    }

    fn document(&self, prefix: &str, defaults: &Defaults, doc: &mut crate::openapi::Builder) {
        let permission = self.permission.as_deref().unwrap_or(&*defaults.permission);
        let throttled = !self.throttles(defaults).is_empty();
        crate::openapi::document_resource(self, prefix, permission, throttled, doc);
    }
}

/// Which handler a route runs.
#[derive(Clone, Copy, Debug)]
enum Kind {
    List,
    Create,
    Retrieve,
    Update,
    PartialUpdate,
    Destroy,
    Custom(usize),
}

impl<M: Model> Compiled<M> {
    async fn dispatch(&self, request: Request, defaults: &Defaults, kind: Kind) -> Response {
        let (mut parts, body) = request.into_parts();
        let key = path_key(&parts);
        let result = match self.begin(&mut parts, defaults).await {
            Err(err) => Err(err),
            // Each action's future is boxed: inline, the request's future
            // would be as large as the largest action's, and axum moves it.
            Ok(call) => match kind {
                Kind::List => Box::pin(self.list(&parts, call)).await,
                Kind::Create => Box::pin(self.create(&parts, call, body)).await,
                Kind::Retrieve => Box::pin(self.retrieve(call, &key)).await,
                Kind::Update => Box::pin(self.update(&parts, call, &key, body, false)).await,
                Kind::PartialUpdate => Box::pin(self.update(&parts, call, &key, body, true)).await,
                Kind::Destroy => Box::pin(self.destroy(call, &key)).await,
                Kind::Custom(index) => {
                    let key = self.custom[index].detail.then_some(key.as_str());
                    Box::pin(self.custom(index, &parts, call, key, body)).await
                }
            },
        };
        result.unwrap_or_else(IntoResponse::into_response)
    }
}

/// The `{pk}` of the matched path, decoded.
fn path_key(parts: &Parts) -> String {
    let Some(matched) = parts.extensions.get::<axum::extract::MatchedPath>() else {
        return String::new();
    };
    let pattern: Vec<&str> = matched.as_str().split('/').collect();
    let actual: Vec<&str> = parts.uri.path().split('/').collect();
    pattern
        .iter()
        .zip(&actual)
        .find(|(p, _)| **p == "{pk}")
        .map(|(_, segment)| percent_decode(segment))
        .unwrap_or_default()
}

fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("k={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
