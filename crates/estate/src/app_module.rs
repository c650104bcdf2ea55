//! Apps in the Django sense: a named bundle of routes, commands, settings,
//! checks and startup work that a project installs with [`App::app`](crate::App::app).
//!
//! ```
//! use estate::prelude::*;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, Default)]
//! #[serde(default)]
//! struct PollsSettings { page_size: u32 }
//!
//! async fn index() -> &'static str { "polls" }
//!
//! pub fn app() -> AppModule {
//!     AppModule::new("polls")
//!         .prefix("/polls")
//!         .route("/", get(index).name("index"))       // reversed as "polls:index"
//!         .settings::<PollsSettings>("polls")         // the [polls] table of estate.toml
//! }
//! ```
//!
//! Later parts of Estate (models, templates, migrations, admin) attach their
//! data to an app through [`AppModule::extension`] and read it back from
//! [`AppContext::apps`](crate::AppContext::apps).

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use futures_util::future::BoxFuture;
use http::Extensions;
use serde::de::DeserializeOwned;

use crate::cli::{CheckContext, CheckMessage, ManagementCommand};
use crate::error::Result;
use crate::routing::{Route, RouteLayer, Routes};
use crate::settings::Settings;
use crate::settings::load::SectionDecl;

/// A system check: inspects the configured project and reports problems.
pub type CheckFn = Arc<dyn Fn(&CheckContext<'_>) -> Vec<CheckMessage> + Send + Sync>;

pub(crate) type StartupHook =
    Box<dyn FnOnce(Startup) -> BoxFuture<'static, Result<Startup>> + Send>;

/// What startup hooks see and give: the settings, and values to provide to
/// every handler through [`AppContext::get`](crate::AppContext::get).
pub struct Startup {
    pub(crate) settings: Arc<Settings>,
    pub(crate) provided: Extensions,
}

impl Startup {
    /// The validated settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Makes `value` available to handlers (and commands) via `AppContext::get::<T>()`.
    pub fn provide<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.provided.insert(value);
    }

    /// A value provided by an earlier hook.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.provided.get::<T>()
    }
}

/// A hook run after `migrate`.
pub(crate) type PostMigrateHook = Arc<
    dyn Fn(crate::context::AppContext, estate_orm::Database) -> BoxFuture<'static, Result<()>>
        + Send
        + Sync,
>;

/// An app's post-migrate hooks, in its extensions.
#[derive(Clone, Default)]
pub(crate) struct PostMigrateHooks(pub(crate) Vec<PostMigrateHook>);

/// The models an app installed with [`AppModule::model`], in order.
#[derive(Clone, Debug, Default)]
pub struct Models(pub Vec<&'static estate_orm::ModelMeta>);

/// An app's template folders, searched after the project's, in app order.
#[derive(Clone, Debug, Default)]
pub struct AppTemplates(pub Vec<crate::templates::TemplateSource>);

/// An app's static folders, served after the project's, in app order.
#[derive(Clone, Debug, Default)]
pub struct AppStatic(pub Vec<crate::http::static_files::StaticSource>);

/// An app's migrations: the folder `makemigrations` writes to and the
/// compiled list (`migrations::all` of the app's `migrations/mod.rs`).
#[derive(Clone, Copy, Debug)]
pub struct AppMigrations {
    /// The `migrations/` folder, as an absolute path (see [`migrations_dir!`](crate::migrations_dir)).
    pub dir: &'static str,
    /// Every migration of the app, oldest first.
    pub all: fn() -> Vec<estate_orm::migrations::Migration>,
}

/// A Django-style app: name, routes under a prefix and namespace, commands,
/// typed settings, system checks and startup hooks.
pub struct AppModule {
    pub(crate) name: String,
    pub(crate) verbose_name: Option<String>,
    pub(crate) prefix: String,
    pub(crate) routes: Routes,
    pub(crate) commands: Vec<ManagementCommand>,
    pub(crate) sections: Vec<SectionDecl>,
    pub(crate) checks: Vec<CheckFn>,
    pub(crate) startup: Vec<StartupHook>,
    pub(crate) extensions: Extensions,
}

impl AppModule {
    /// A new app. `name` is its label and the namespace of its route names:
    /// lower-case letters, digits and `_`, starting with a letter.
    ///
    /// # Panics
    /// If the name is not of that form.
    pub fn new(name: &str) -> Self {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        assert!(
            valid,
            "invalid app name {name:?}: use lower-case letters, digits and `_`, starting with \
             a letter (like \"polls\" or \"blog_posts\")"
        );
        AppModule {
            name: name.to_owned(),
            verbose_name: None,
            prefix: String::new(),
            routes: Routes::new(),
            commands: Vec::new(),
            sections: Vec::new(),
            checks: Vec::new(),
            startup: Vec::new(),
            extensions: Extensions::new(),
        }
    }

    /// The app's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A human-readable name (default: the name, capitalised).
    pub fn verbose_name(mut self, verbose_name: impl Into<String>) -> Self {
        self.verbose_name = Some(verbose_name.into());
        self
    }

    /// Mounts the app's routes under `prefix` (default: at the root).
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    /// Uses `namespace` instead of the app name in route names
    /// (`namespace:route`), like Django's `app_name`.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.routes = std::mem::take(&mut self.routes).namespace(namespace);
        self
    }

    /// Adds a route; see [`Routes::route`].
    pub fn route(mut self, path: &str, route: impl Into<Route>) -> Self {
        self.routes = std::mem::take(&mut self.routes).route(path, route);
        self
    }

    /// Nests routes (or an axum router) under a path; see [`Routes::nest`].
    pub fn nest(mut self, prefix: &str, routes: impl Into<Routes>) -> Self {
        self.routes = std::mem::take(&mut self.routes).nest(prefix, routes);
        self
    }

    /// Mounts a plain axum router among the app's routes.
    pub fn merge(mut self, router: Router) -> Self {
        self.routes = std::mem::take(&mut self.routes).merge(router);
        self
    }

    /// Applies a tower layer to this app's routes only.
    pub fn layer<L: RouteLayer>(mut self, layer: L) -> Self {
        self.routes = std::mem::take(&mut self.routes).layer(layer);
        self
    }

    /// Adds a management command (`cargo run -- <name>`).
    pub fn command(mut self, command: ManagementCommand) -> Self {
        self.commands.push(command);
        self
    }

    /// Declares a typed settings section: the `[section]` table of
    /// `estate.toml` (and `ESTATE_<SECTION>__<KEY>` variables) is deserialized
    /// into `T` at startup, and read with `settings.section::<T>()`. Missing
    /// or malformed keys stop startup with an error naming them.
    pub fn settings<T: DeserializeOwned + Any + Send + Sync>(mut self, section: &str) -> Self {
        self.sections.push(SectionDecl::new::<T>(section));
        self
    }

    /// Adds a system check, run by `check` and before `runserver`.
    pub fn check(
        mut self,
        check: impl Fn(&CheckContext<'_>) -> Vec<CheckMessage> + Send + Sync + 'static,
    ) -> Self {
        self.checks.push(Arc::new(check));
        self
    }

    /// Runs `hook` once at startup, after settings are loaded and before the
    /// first request or command. Use it to connect to services and
    /// [`provide`](Startup::provide) the handles to handlers. An error stops startup.
    pub fn on_startup<F, Fut>(mut self, hook: F) -> Self
    where
        F: FnOnce(Startup) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Startup>> + Send + 'static,
    {
        self.startup
            .push(Box::new(move |startup| Box::pin(hook(startup))));
        self
    }

    /// Runs `hook` after every `migrate` that leaves the apps migrated
    /// (not after `migrate <app> zero`), for every app, even when nothing
    /// was applied: Django's `post_migrate`. The auth app creates the
    /// default permissions this way. Hooks must be idempotent.
    pub fn post_migrate<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(crate::context::AppContext, estate_orm::Database) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        let mut hooks = self
            .extensions
            .remove::<PostMigrateHooks>()
            .unwrap_or_default();
        hooks
            .0
            .push(Arc::new(move |ctx, db| Box::pin(hook(ctx, db))));
        self.extensions.insert(hooks);
        self
    }

    /// Installs a model: the database registers it at startup, so deleting a
    /// row follows every installed model's `on_delete` (and, later, migrations
    /// and the admin find it here).
    pub fn model<M: estate_orm::Model>(mut self) -> Self {
        let mut models = self.extensions.remove::<Models>().unwrap_or_default();
        if !models.0.iter().any(|m| m.table == M::META.table) {
            models.0.push(M::META);
        }
        self.extensions.insert(models);
        self
    }

    /// The app's migrations: `dir` is its `migrations/` folder (written by
    /// `makemigrations`; use [`migrations_dir!`](crate::migrations_dir)) and
    /// `all` the list compiled from it:
    /// `.migrations(estate::migrations_dir!("src/polls/migrations"), polls::migrations::all)`.
    pub fn migrations(
        mut self,
        dir: &'static str,
        all: fn() -> Vec<estate_orm::migrations::Migration>,
    ) -> Self {
        self.extensions.insert(AppMigrations { dir, all });
        self
    }

    /// The app's templates folder (`estate::templates!("src/polls/templates")`),
    /// searched after the project's and earlier apps' folders.
    pub fn templates(mut self, source: crate::templates::TemplateSource) -> Self {
        let mut templates = self.extensions.remove::<AppTemplates>().unwrap_or_default();
        templates.0.push(source);
        self.extensions.insert(templates);
        self
    }

    /// Adds a context processor: values every `Template` response of the
    /// site gets (after the project's processors; the handler's values win).
    pub fn context_processor<T, F>(mut self, processor: F) -> Self
    where
        T: serde::Serialize,
        F: Fn(&crate::templates::RequestHead) -> T + Send + Sync + 'static,
    {
        let mut processors = self
            .extensions
            .remove::<crate::templates::AppProcessors>()
            .unwrap_or_default();
        processors
            .0
            .push(crate::templates::ContextProcessor::new(processor));
        self.extensions.insert(processors);
        self
    }

    /// The app's static files folder (`estate::static_dir!("src/polls/static")`),
    /// served under `static_url` in DEBUG after the project's.
    pub fn static_files(mut self, source: crate::http::static_files::StaticSource) -> Self {
        let mut folders = self.extensions.remove::<AppStatic>().unwrap_or_default();
        folders.0.push(source);
        self.extensions.insert(folders);
        self
    }

    /// Attaches data for other parts of Estate (models, templates, migrations,
    /// admin registrations), readable from [`AppInfo::extensions`](crate::AppInfo).
    pub fn extension<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.extensions.insert(value);
        self
    }

    /// Data attached with [`extension`](Self::extension).
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    pub(crate) fn default_verbose_name(&self) -> String {
        let mut chars = self.name.replace('_', " ").chars().collect::<Vec<_>>();
        if let Some(first) = chars.first_mut() {
            *first = first.to_ascii_uppercase();
        }
        chars.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "invalid app name \"My-Polls\"")]
    fn app_names_are_identifiers() {
        let _ = AppModule::new("My-Polls");
    }

    #[test]
    fn verbose_name_defaults_to_the_name_capitalised() {
        assert_eq!(
            AppModule::new("blog_posts").default_verbose_name(),
            "Blog posts"
        );
    }
}
