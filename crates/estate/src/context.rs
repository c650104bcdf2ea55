//! What handlers can reach of the running app: settings, route names, the
//! installed apps, and values provided at startup (a database pool, say).
//!
//! The Estate core puts an [`AppContext`] into every request's extensions;
//! take it as an extractor.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::Extensions;
use http::request::Parts;

use crate::routing::{IntoUrlArgs, ReverseError, RouteInfo, Urls};
use crate::settings::Settings;

/// A running app's shared state. Cloning is cheap (one `Arc`).
#[derive(Clone)]
pub struct AppContext(Arc<ContextInner>);

struct ContextInner {
    settings: Arc<Settings>,
    urls: Urls,
    routes: Vec<RouteInfo>,
    apps: Vec<AppInfo>,
    provided: Extensions,
}

/// An installed app as the running project sees it.
#[derive(Clone, Debug)]
pub struct AppInfo {
    /// The app's name (its label and default namespace).
    pub name: String,
    /// A human-readable name for listings (the admin index, say).
    pub verbose_name: String,
    /// Whatever the app attached with [`AppModule::extension`](crate::AppModule::extension):
    /// models, templates, migrations, admin registrations.
    pub extensions: Extensions,
}

impl AppContext {
    pub(crate) fn new(
        settings: Arc<Settings>,
        urls: Urls,
        routes: Vec<RouteInfo>,
        apps: Vec<AppInfo>,
        provided: Extensions,
    ) -> Self {
        AppContext(Arc::new(ContextInner {
            settings,
            urls,
            routes,
            apps,
            provided,
        }))
    }

    /// The validated settings.
    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// The settings, shared.
    pub fn settings_arc(&self) -> Arc<Settings> {
        self.0.settings.clone()
    }

    /// The named-route table.
    pub fn urls(&self) -> Urls {
        self.0.urls.clone()
    }

    /// Shorthand for `self.urls().reverse(name, args)`.
    pub fn reverse(&self, name: &str, args: impl IntoUrlArgs) -> Result<String, ReverseError> {
        self.0.urls.reverse(name, args)
    }

    /// Every route, in registration order.
    pub fn routes(&self) -> &[RouteInfo] {
        &self.0.routes
    }

    /// The installed apps, in the order they were added.
    pub fn apps(&self) -> &[AppInfo] {
        &self.0.apps
    }

    /// Every installed model, app by app.
    pub fn models(&self) -> Vec<&'static estate_orm::ModelMeta> {
        self.0
            .apps
            .iter()
            .filter_map(|app| app.extensions.get::<crate::app_module::Models>())
            .flat_map(|models| models.0.iter().copied())
            .collect()
    }

    /// A value provided at startup by [`Startup::provide`](crate::Startup::provide).
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.0.provided.get::<T>()
    }
}

impl std::fmt::Debug for AppContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppContext")
            .field(
                "apps",
                &self.0.apps.iter().map(|a| &a.name).collect::<Vec<_>>(),
            )
            .field("routes", &self.0.routes.len())
            .finish_non_exhaustive()
    }
}

impl AppContext {
    /// The app's context, from a request's extensions (`None` when the
    /// request did not come through an Estate app).
    pub fn from_extensions(extensions: &http::Extensions) -> Option<AppContext> {
        crate::http::RequestCore::of(extensions).map(|core| core.context.clone())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AppContext {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        AppContext::from_extensions(&parts.extensions).ok_or_else(|| {
            crate::Error::msg(
                "AppContext is missing from the request: the handler is not running inside \
                 an Estate App (serve it with App::serve/App::run, or App::build(...).into_service())",
            )
        })
    }
}
