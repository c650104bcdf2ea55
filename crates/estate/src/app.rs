//! The [`App`] builder: routes, apps, layers and settings in; a running
//! server or a management command out.
//!
//! ```no_run
//! use estate::prelude::*;
//!
//! fn main() -> estate::Result<()> {
//!     App::from_settings()?                       // estate.toml + ESTATE_* env
//!         .route("/", get(|| async { "Hello" }).name("home"))
//!         .run()                                  // runserver | check | routes | ...
//! }
//! ```

use std::ffi::OsString;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::response::Response;
use http::{Extensions, Method, StatusCode};
use tokio::net::TcpListener;

use crate::app_module::{AppModule, CheckFn, Startup};
use crate::cli::{self, CheckContext, CheckMessage, CommandOutput, Level, ManagementCommand};
use crate::context::{AppContext, AppInfo};
use crate::error::{Error, Result};
use crate::http::core::CoreConfig;
use crate::http::hosts::AllowedHosts;
use crate::http::security_headers::{hsts_header, security_headers};
use crate::http::{ErrorContext, ErrorPages, EstateService, RequestIds};
use crate::logging;
use crate::routing::{Route, RouteLayer, Routes};
use crate::server::{self, ServerOptions};
use crate::settings::load::SectionDecl;
use crate::settings::{Settings, SettingsLoader};

type LayerFn = Box<dyn FnOnce(Router) -> Router + Send>;

enum SettingsChoice {
    /// Load from `estate.toml`/env at startup, with these code-level values underneath.
    Process {
        code: Vec<(String, toml::Value)>,
        file: Option<PathBuf>,
    },
    /// Given in full by the caller.
    Fixed(Box<Settings>),
}

/// Optional parts of the core, each turned off by a named method.
#[derive(Clone, Copy, Debug)]
struct CoreOptions {
    allow_any_host: bool,
    security_headers: bool,
    compression: bool,
    request_ids: bool,
    csrf: bool,
    health_endpoints: bool,
}

/// An Estate application under construction.
pub struct App {
    settings: SettingsChoice,
    routes: Routes,
    modules: Vec<AppModule>,
    layers: Vec<LayerFn>,
    commands: Vec<ManagementCommand>,
    error_pages: ErrorPages,
    options: CoreOptions,
    database: Option<estate_orm::Database>,
    mailer: Option<crate::mail::Mailer>,
    templates: Vec<crate::templates::TemplateSource>,
    static_files: Vec<crate::http::static_files::StaticSource>,
    context_processors: Vec<crate::templates::ContextProcessor>,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// A new app. Settings are read from `estate.toml` (if present) and the
    /// environment when it starts; DEBUG is off unless set.
    pub fn new() -> Self {
        App {
            settings: SettingsChoice::Process {
                code: Vec::new(),
                file: None,
            },
            routes: Routes::new(),
            modules: Vec::new(),
            layers: Vec::new(),
            commands: Vec::new(),
            error_pages: ErrorPages::default(),
            database: None,
            mailer: None,
            templates: Vec::new(),
            static_files: Vec::new(),
            context_processors: Vec::new(),
            options: CoreOptions {
                allow_any_host: false,
                security_headers: true,
                compression: true,
                request_ids: true,
                csrf: true,
                health_endpoints: true,
            },
        }
    }

    /// Like [`App::new`], but loads and validates the settings now, so a bad
    /// `estate.toml` or environment variable is reported at this line. (They
    /// are read again when the app starts.) With `new`, errors surface when a
    /// command runs instead, so `--help` works before the settings are complete.
    pub fn from_settings() -> Result<Self> {
        Settings::load()?;
        Ok(Self::new())
    }

    /// An app with exactly these settings (no file or environment is read).
    pub fn with_settings(settings: Settings) -> Self {
        App {
            settings: SettingsChoice::Fixed(Box::new(settings)),
            ..Self::new()
        }
    }

    /// Sets DEBUG in code; `estate.toml` and `ESTATE_DEBUG` still override it.
    pub fn debug(self, on: bool) -> Self {
        self.setting("debug", on)
    }

    /// Sets a dotted settings key in code (`"limits.max_body_size"`, `"10MB"`);
    /// the settings file and environment still override it.
    ///
    /// # Panics
    /// On an app made with [`App::with_settings`], whose settings are fixed.
    pub fn setting(mut self, key: &str, value: impl Into<toml::Value>) -> Self {
        match &mut self.settings {
            SettingsChoice::Process { code, .. } => code.push((key.to_owned(), value.into())),
            SettingsChoice::Fixed(_) => panic!(
                "App::setting({key:?}): this app was made with App::with_settings, so its \
                 settings are fixed; set the value with SettingsLoader::set instead"
            ),
        }
        self
    }

    /// Adds a route: `.route("/polls/{id}/", get(detail).name("detail"))`.
    pub fn route(mut self, path: &str, route: impl Into<Route>) -> Self {
        self.routes = std::mem::take(&mut self.routes).route(path, route);
        self
    }

    /// Nests routes (or a plain axum router) under `prefix`.
    pub fn nest(mut self, prefix: &str, routes: impl Into<Routes>) -> Self {
        self.routes = std::mem::take(&mut self.routes).nest(prefix, routes);
        self
    }

    /// Mounts a plain axum router unchanged.
    pub fn merge(mut self, router: Router) -> Self {
        self.routes = std::mem::take(&mut self.routes).merge(router);
        self
    }

    /// Installs an app: its routes under its prefix and namespace, its
    /// commands, settings section, checks and startup hooks.
    pub fn app(mut self, module: AppModule) -> Self {
        self.modules.push(module);
        self
    }

    /// Applies a tower layer to every route (inside the Estate core, so host
    /// checks and limits still come first).
    pub fn layer<L: RouteLayer>(mut self, layer: L) -> Self {
        self.layers
            .push(Box::new(move |router| router.layer(layer)));
        self
    }

    /// Uses this already-connected database instead of connecting to
    /// `database_url` (tests use it to hand in a fresh test database).
    pub fn database(mut self, database: estate_orm::Database) -> Self {
        self.database = Some(database);
        self
    }

    /// Uses this mailer instead of the one made from the `[mail]` settings
    /// (a custom [`MailBackend`](crate::mail::MailBackend), or a test's
    /// own console output).
    pub fn mailer(mut self, mailer: crate::mail::Mailer) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// Adds a project-level management command.
    pub fn command(mut self, command: ManagementCommand) -> Self {
        self.commands.push(command);
        self
    }

    /// The project's templates folder, searched before every app's (so a
    /// project template overrides an app's of the same name):
    /// `.templates(estate::templates!("templates"))`.
    pub fn templates(mut self, source: crate::templates::TemplateSource) -> Self {
        self.templates.push(source);
        self
    }

    /// Adds a context processor: values every `Template` response gets
    /// (the handler's own values win), computed from the request.
    ///
    /// ```
    /// use estate::templates::context;
    /// let app = estate::App::new().context_processor(|head| context! {
    ///     site_name => "Polls",
    ///     on_admin => head.uri.path().starts_with("/admin/"),
    /// });
    /// ```
    pub fn context_processor<T, F>(mut self, processor: F) -> Self
    where
        T: serde::Serialize,
        F: Fn(&crate::templates::RequestHead) -> T + Send + Sync + 'static,
    {
        self.context_processors
            .push(crate::templates::ContextProcessor::new(processor));
        self
    }

    /// The project's static files folder, served in DEBUG under
    /// `static_url` before every app's: `.static_files(estate::static_dir!("static"))`.
    pub fn static_files(mut self, source: crate::http::static_files::StaticSource) -> Self {
        self.static_files.push(source);
        self
    }

    /// Replaces the built-in page for an error status (404, 500, ...).
    pub fn error_page(
        mut self,
        status: StatusCode,
        page: impl Fn(&ErrorContext<'_>) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.error_pages.set(status, Arc::new(page));
        self
    }

    /// **Unsafe opt-out**: accept requests for any `Host` header, ignoring
    /// `ALLOWED_HOSTS`. Generated absolute links can then be poisoned.
    pub fn allow_any_host(mut self) -> Self {
        self.options.allow_any_host = true;
        self
    }

    /// **Unsafe opt-out**: send no security headers (`X-Frame-Options`,
    /// `X-Content-Type-Options`, `Referrer-Policy`, `Cross-Origin-Opener-Policy`).
    pub fn without_security_headers(mut self) -> Self {
        self.options.security_headers = false;
        self
    }

    /// **Unsafe opt-out**: no CSRF protection for any route. Prefer
    /// `.csrf_exempt()` on the routes that need it (webhooks, APIs with
    /// token authentication).
    pub fn without_csrf_protection(mut self) -> Self {
        self.options.csrf = false;
        self
    }

    /// Turns off response compression (gzip, negotiated by `Accept-Encoding`).
    pub fn without_compression(mut self) -> Self {
        self.options.compression = false;
        self
    }

    /// Turns off request ids (`x-request-id`).
    pub fn without_request_ids(mut self) -> Self {
        self.options.request_ids = false;
        self
    }

    /// Serves no health probes (`health.liveness_path`, `/healthz`, and
    /// `health.readiness_path`, `/readyz`). A route of the app at one of
    /// those paths takes its place anyway, without this.
    pub fn without_health_endpoints(mut self) -> Self {
        self.options.health_endpoints = false;
        self
    }

    /// Runs the management command line with the process's arguments:
    /// `runserver`, `check`, `routes` and the apps' commands. Blocks until the
    /// command ends; meant for `main`.
    pub fn run(self) -> Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(cli::dispatch(
            self,
            std::env::args_os(),
            CommandOutput::stdout(),
            true,
        ))
    }

    /// Runs one management command from explicit arguments (the first being
    /// the program name), writing its output to `out`. Unlike [`run`](Self::run)
    /// it installs no log subscriber, so tests can call it freely.
    pub async fn run_with_args<I, T>(self, args: I, out: CommandOutput) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        cli::dispatch(self, args, out, false).await
    }

    /// Builds the app and serves it on `addr` until SIGINT/SIGTERM, without a
    /// command line: the Flask-sized way to run.
    pub async fn serve(self, addr: &str) -> Result<()> {
        let built = self.build_with(true).await?;
        built.bind_and_serve(addr, server::shutdown_signal()).await
    }

    /// Loads settings, runs startup hooks and builds the router: everything
    /// short of listening. Does not install a log subscriber.
    pub async fn build(self) -> Result<BuiltApp> {
        self.build_with(false).await
    }

    pub(crate) fn take_commands(&mut self) -> Result<Vec<ManagementCommand>> {
        let mut all = cli::builtin_commands();
        all.append(&mut self.commands);
        for module in &mut self.modules {
            all.append(&mut module.commands);
        }
        for (i, command) in all.iter().enumerate() {
            if all[..i].iter().any(|c| c.name() == command.name()) {
                return Err(Error::msg(format!(
                    "two management commands are named `{}`; rename one of them",
                    command.name()
                )));
            }
        }
        Ok(all)
    }

    pub(crate) fn use_settings_file(&mut self, path: PathBuf) -> Result<()> {
        match &mut self.settings {
            SettingsChoice::Process { file, .. } => {
                *file = Some(path);
                Ok(())
            }
            SettingsChoice::Fixed(_) => Err(Error::msg(
                "--settings cannot apply: this app's settings are fixed in code (App::with_settings)",
            )),
        }
    }

    fn load_settings(&mut self) -> Result<Settings> {
        let choice = std::mem::replace(
            &mut self.settings,
            SettingsChoice::Process {
                code: Vec::new(),
                file: None,
            },
        );
        Ok(match choice {
            SettingsChoice::Fixed(settings) => *settings,
            SettingsChoice::Process { code, file } => {
                let mut loader = SettingsLoader::from_process();
                if let Some(file) = file {
                    loader = loader.file(file);
                }
                for (key, value) in code {
                    loader = loader.set(&key, value);
                }
                loader.load()?
            }
        })
    }

    pub(crate) async fn build_with(mut self, init_logging: bool) -> Result<BuiltApp> {
        let mut settings = self.load_settings()?;
        // The core's own sections, then the apps'.
        let sections: Vec<SectionDecl> =
            std::iter::once(SectionDecl::new::<crate::cache::CacheSettings>("cache"))
                .chain(
                    self.modules
                        .iter_mut()
                        .flat_map(|m| std::mem::take(&mut m.sections)),
                )
                .collect();
        settings.resolve_sections(&sections)?;
        if init_logging {
            logging::init(&settings.logging);
        }
        for warning in settings.warnings() {
            tracing::warn!(target: "estate::settings", "{warning}");
        }

        let mut routes = self.routes;
        let mut apps = Vec::new();
        let mut checks: Vec<CheckFn> = Vec::new();
        let mut hooks = Vec::new();
        for module in self.modules {
            if apps.iter().any(|a: &AppInfo| a.name == module.name) {
                return Err(Error::msg(format!(
                    "the app `{}` is installed twice; remove one `.app(...)`",
                    module.name
                )));
            }
            apps.push(AppInfo {
                verbose_name: module
                    .verbose_name
                    .clone()
                    .unwrap_or_else(|| module.default_verbose_name()),
                name: module.name.clone(),
                extensions: module.extensions,
            });
            checks.extend(module.checks);
            hooks.extend(module.startup);
            let mut app_routes = module.routes;
            if !app_routes.is_empty() {
                app_routes.set_default_namespace(&module.name);
                routes = routes.nest(&module.prefix, app_routes);
            }
        }
        let built = routes
            .build("", "")
            .map_err(|problem| Error::msg(format!("invalid routes: {problem}")))?;

        let mut router = built
            .router
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed);
        for layer in self.layers {
            router = layer(router);
        }

        let settings = Arc::new(settings);
        let mut startup = Startup {
            settings: settings.clone(),
            provided: Extensions::new(),
        };
        // Connected before the apps' hooks, so they can use it. A connection
        // error names the URL (password hidden).
        match (self.database, &settings.database_url) {
            (Some(database), _) => startup.provide(database),
            (None, Some(url)) => {
                let pool = estate_orm::PoolSettings {
                    max_connections: settings.database.max_connections,
                    acquire_timeout: settings.database.acquire_timeout,
                };
                startup.provide(estate_orm::Database::connect_with(url, &pool).await?);
            }
            (None, None) => {}
        }
        if let Some(database) = startup.get::<estate_orm::Database>() {
            for app in &apps {
                if let Some(models) = app.extensions.get::<crate::app_module::Models>() {
                    database.register(&models.0);
                }
            }
        }
        // Made before the apps' hooks, so they can add their own metrics.
        if settings.metrics.enabled {
            let metrics = crate::metrics::Metrics::new();
            if let Some(database) = startup.get::<estate_orm::Database>() {
                crate::metrics::pool_gauges(&metrics, database);
            }
            startup.provide(metrics);
        }
        // Made before the apps' hooks, so they can send mail (or replace it).
        startup.provide(
            self.mailer
                .take()
                .unwrap_or_else(|| crate::mail::Mailer::from_settings(&settings.mail)),
        );
        // The cache: before the apps' hooks and templates, which use it.
        let cache =
            crate::cache::Cache::from_settings(settings.section::<crate::cache::CacheSettings>())?;
        startup.provide(cache.clone());
        let urls = crate::routing::Urls(Arc::new(built.urls));
        // The project's templates first, then each app's, in app order.
        let mut sources = self.templates;
        for app in &apps {
            if let Some(app_templates) = app.extensions.get::<crate::app_module::AppTemplates>() {
                sources.extend(app_templates.0.iter().cloned());
            }
        }
        // Estate's own templates last, so a project can override them.
        sources.push(crate::templates::TemplateSource::builtin());
        // Outside DEBUG, static() names the collected, hashed files.
        let static_names = match (&settings.static_root, settings.debug) {
            (Some(root), false) => {
                crate::http::collectstatic::load_manifest(std::path::Path::new(root))
            }
            _ => Default::default(),
        };
        startup.provide(crate::templates::Templates::new(
            sources,
            settings.debug,
            settings.templates_from_disk,
            Some(urls.clone()),
            settings.static_url.clone(),
            static_names,
            Some(cache),
        ));
        let mut static_sources = self.static_files;
        for app in &apps {
            if let Some(folders) = app.extensions.get::<crate::app_module::AppStatic>() {
                static_sources.extend(folders.0.iter().cloned());
            }
        }
        startup.provide(crate::http::static_files::StaticSources(
            static_sources.clone(),
        ));
        // The project's processors, then each app's.
        let mut processors = std::mem::take(&mut self.context_processors);
        for app in &apps {
            if let Some(app_processors) = app.extensions.get::<crate::templates::AppProcessors>() {
                processors.extend(app_processors.0.iter().cloned());
            }
        }
        if !processors.is_empty() {
            startup.provide(crate::templates::ContextProcessors(processors));
        }
        for hook in hooks {
            startup = hook(startup).await?;
        }
        // The auth app: the request's user shared with templates (inside
        // the session layer, which it needs).
        if let (Some(auth), Some(db)) = (
            startup.get::<crate::auth::Auth>(),
            startup.get::<estate_orm::Database>(),
        ) {
            router = router.layer(crate::auth::AuthLayer {
                auth: auth.clone(),
                db: db.clone(),
            });
        }
        // The messages app (inside the session layer, which keeps them).
        if let Some(messages) = startup.get::<crate::messages::MessagesLayer>() {
            router = router.layer(messages.clone());
        }
        // The sessions app provides its store; every route gets a Session.
        if let Some(sessions) = startup.get::<crate::sessions::Sessions>() {
            router = router.layer(crate::sessions::SessionLayer(sessions.clone()));
        }
        // Health probes and metrics, unless a route of the app has the path.
        let ops = ops_endpoints(
            &settings,
            self.options,
            &built.listing,
            startup.get::<estate_orm::Database>(),
            startup.get::<crate::metrics::Metrics>(),
        );
        let mut listing = built.listing;
        for (path, what) in ops.as_ref().map(|o| o.listing()).unwrap_or_default() {
            listing.push(crate::routing::RouteInfo {
                path,
                name: None,
                handlers: vec![crate::routing::HandlerInfo {
                    method: "GET",
                    handler: what.to_owned(),
                }],
            });
        }
        let context = AppContext::new(settings.clone(), urls, listing, apps, startup.provided);

        let mut core = core_config(
            &settings,
            self.options,
            self.error_pages,
            &built.flags,
            context.clone(),
            static_sources,
        )?;
        core.metrics = ops
            .as_ref()
            .and_then(|o| o.metrics.as_ref())
            .map(|m| m.metrics.clone());
        core.ops = ops;
        Ok(BuiltApp {
            service: EstateService::new(core, router, self.options.compression),
            context,
            checks: checks.into(),
            allow_any_host: self.options.allow_any_host,
            security_headers: self.options.security_headers,
            csrf: self.options.csrf,
        })
    }
}

fn core_config(
    settings: &Settings,
    options: CoreOptions,
    error_pages: ErrorPages,
    flags: &[(String, crate::routing::RouteFlags)],
    context: AppContext,
    static_sources: Vec<crate::http::static_files::StaticSource>,
) -> Result<CoreConfig> {
    // One table of every route, so a path finds the route axum will run
    // (both use matchit): the most specific one, not any that matches.
    let route_table = if flags.iter().all(|(_, f)| *f == Default::default()) {
        None
    } else {
        let mut merged: std::collections::BTreeMap<&str, crate::routing::RouteFlags> =
            std::collections::BTreeMap::new();
        for (path, route) in flags {
            let entry = merged.entry(path.as_str()).or_default();
            entry.csrf_exempt |= route.csrf_exempt;
            entry.csrf_exempt_bearer |= route.csrf_exempt_bearer;
            entry.json_errors |= route.json_errors;
            entry.cache_page = entry.cache_page.or(route.cache_page);
            entry.max_body_size = entry.max_body_size.max(route.max_body_size);
        }
        let mut table = matchit::Router::new();
        for (path, route) in merged {
            table
                .insert(path.to_owned(), route)
                .map_err(|err| Error::msg(format!("route {path}: {err}")))?;
        }
        Some(table)
    };
    let capture_headers = context
        .get::<crate::templates::ContextProcessors>()
        .is_some();
    let csrf = options.csrf.then(|| crate::http::csrf::CsrfConfig {
        trusted_origins: settings.security.csrf_trusted_origins.clone(),
        cookie_secure: settings.security.csrf_cookie_secure,
    });
    let proxy_ssl_header = match &settings.security.secure_proxy_ssl_header {
        Some((name, value)) => Some((
            http::HeaderName::from_bytes(name.as_bytes()).map_err(Error::internal)?,
            http::HeaderValue::from_str(value).map_err(Error::internal)?,
        )),
        None => None,
    };
    Ok(CoreConfig {
        debug: settings.debug,
        hosts: if options.allow_any_host {
            AllowedHosts::any()
        } else {
            AllowedHosts::new(&settings.allowed_hosts, settings.debug)
        },
        security_headers: options
            .security_headers
            .then(|| security_headers(&settings.security)),
        hsts: hsts_header(&settings.security),
        proxy_ssl_header,
        ssl_redirect: settings.security.ssl_redirect,
        max_body_size: settings.limits.max_body_size,
        route_table,
        request_timeout: settings.limits.request_timeout,
        request_ids: options.request_ids.then(RequestIds::new),
        access_log: settings.logging.access_log,
        query_log: settings.logging.query_log.then_some((
            settings.logging.n_plus_one,
            settings.logging.n_plus_one_threshold,
        )),
        error_pages,
        context,
        csrf,
        // DEBUG serves the folders; otherwise what collectstatic gathered.
        capture_headers,
        compression: false,
        ops: None,
        metrics: None,
        static_files: static_config(settings, static_sources)
            .into_iter()
            .chain(media_config(settings))
            .collect(),
        csp: (settings.security.csp.is_some() || settings.security.csp_report_only.is_some()).then(
            || crate::http::csp::CspConfig {
                enforce: settings.security.csp.clone(),
                report_only: settings.security.csp_report_only.clone(),
            },
        ),
    })
}

/// The built-in endpoints this app serves, or `None` for none.
fn ops_endpoints(
    settings: &Settings,
    options: CoreOptions,
    routes: &[crate::routing::RouteInfo],
    database: Option<&estate_orm::Database>,
    metrics: Option<&crate::metrics::Metrics>,
) -> Option<crate::http::ops::OpsEndpoints> {
    let free = |path: &String| !routes.iter().any(|route| &route.path == path);
    let health = &settings.health;
    let probe = |path: &String| (options.health_endpoints && free(path)).then(|| path.clone());
    let endpoints = crate::http::ops::OpsEndpoints {
        liveness: probe(&health.liveness_path),
        readiness: probe(&health.readiness_path),
        readiness_timeout: health.readiness_timeout,
        draining: std::sync::atomic::AtomicBool::new(false),
        database: database.cloned(),
        metrics: metrics
            .filter(|_| free(&settings.metrics.path))
            .map(|metrics| crate::http::ops::MetricsEndpoint {
                path: settings.metrics.path.clone(),
                metrics: metrics.clone(),
                token: settings.metrics.token.clone(),
                allowed: settings
                    .metrics
                    .allowed_ips
                    .iter()
                    .filter_map(|ip| crate::metrics::IpNetwork::parse(ip))
                    .collect(),
            }),
    };
    let any = endpoints.liveness.is_some()
        || endpoints.readiness.is_some()
        || endpoints.metrics.is_some();
    any.then_some(endpoints)
}

fn static_config(
    settings: &Settings,
    sources: Vec<crate::http::static_files::StaticSource>,
) -> Option<crate::http::static_files::StaticConfig> {
    use crate::http::static_files::{Collected, StaticConfig};
    if settings.debug {
        return (!sources.is_empty()).then(|| StaticConfig {
            url: settings.static_url.clone(),
            sources,
            collected: None,
        });
    }
    // Relative to the directory the site starts in, like collectstatic.
    let root = std::path::absolute(settings.static_root.as_ref()?).ok()?;
    let manifest = crate::http::collectstatic::load_manifest(&root);
    Some(StaticConfig {
        url: settings.static_url.clone(),
        sources: Vec::new(),
        collected: Some(Collected {
            root,
            hashed: manifest.into_values().collect(),
        }),
    })
}

/// Uploaded files under `media_url`, served by the site in DEBUG only (in
/// production the web server or a storage service serves them, as in
/// Django).
fn media_config(settings: &Settings) -> Option<crate::http::static_files::StaticConfig> {
    use crate::http::static_files::{StaticConfig, StaticSource};
    if !settings.debug {
        return None;
    }
    let root = std::path::absolute(settings.media_root.as_ref()?).ok()?;
    Some(StaticConfig {
        url: settings.media_url.clone(),
        sources: vec![StaticSource { dir: root }],
        collected: None,
    })
}

async fn not_found() -> Error {
    Error::not_found("The requested resource was not found on this server.")
}

async fn method_not_allowed(method: Method) -> Error {
    Error::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("The method {method} is not allowed for this resource."),
    )
}

/// A built app, ready to serve or to run commands against. Cheap to clone.
#[derive(Clone)]
pub struct BuiltApp {
    service: EstateService,
    context: AppContext,
    checks: Arc<[CheckFn]>,
    allow_any_host: bool,
    security_headers: bool,
    csrf: bool,
}

impl BuiltApp {
    /// The running app's context.
    pub fn context(&self) -> &AppContext {
        &self.context
    }

    /// The validated settings.
    pub fn settings(&self) -> &Settings {
        self.context.settings()
    }

    /// The whole app as a tower service (for custom servers and in-process tests).
    pub fn service(&self) -> EstateService {
        self.service.clone()
    }

    /// Runs the system checks (and the deployment checklist with `deploy`).
    pub fn check(&self, deploy: bool) -> Vec<CheckMessage> {
        let ctx = CheckContext {
            settings: self.settings(),
            app: &self.context,
            deploy,
            allow_any_host: self.allow_any_host,
            security_headers: self.security_headers,
            csrf: self.csrf,
        };
        let mut messages = Vec::new();
        if let Some(problem) = self.hosts_problem() {
            messages.push(
                CheckMessage::error("estate.E001", problem)
                    .hint("Set allowed_hosts = [\"example.com\"] in estate.toml or ESTATE_ALLOWED_HOSTS=example.com."),
            );
        }
        if deploy {
            messages.extend(cli::deploy_checks(&ctx));
        }
        for check in self.checks.iter() {
            messages.extend(check(&ctx));
        }
        messages.sort_by_key(|m| std::cmp::Reverse(m.level));
        messages
    }

    fn hosts_problem(&self) -> Option<String> {
        let settings = self.settings();
        (!settings.debug && settings.allowed_hosts.is_empty() && !self.allow_any_host).then(|| {
            "allowed_hosts is empty and DEBUG is off, so every request would be refused \
             with 400 Bad Request"
                .to_owned()
        })
    }

    /// Serves on an already-bound listener until `shutdown` completes, then
    /// (after `server.shutdown_delay`, with the readiness probe failing) lets
    /// in-flight requests finish within `server.shutdown_grace`.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        self.ready_to_serve()?;
        let settings = self.settings();
        let options = ServerOptions {
            header_read_timeout: settings.limits.header_read_timeout,
            shutdown_grace: settings.server.shutdown_grace,
            shutdown_delay: settings.server.shutdown_delay,
        };
        server::serve(listener, self.service, options, shutdown).await?;
        Ok(())
    }

    /// Refuses configurations that cannot serve: no allowed hosts outside
    /// DEBUG, or system check errors.
    pub fn ready_to_serve(&self) -> Result<()> {
        if let Some(problem) = self.hosts_problem() {
            return Err(Error::msg(format!(
                "{problem}; set allowed_hosts in estate.toml or ESTATE_ALLOWED_HOSTS"
            )));
        }
        let errors: Vec<CheckMessage> = self
            .check(false)
            .into_iter()
            .filter(|m| m.level >= Level::Error)
            .collect();
        if !errors.is_empty() {
            return Err(Error::msg(format!(
                "system check found errors:\n{}",
                cli::format_report(&errors)
            )));
        }
        Ok(())
    }

    /// Binds `addr` and serves, logging the address.
    pub async fn bind_and_serve(
        self,
        addr: &str,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        let listener = TcpListener::bind(addr).await.map_err(|err| {
            Error::msg(format!("cannot listen on {addr}: {err}")).with_source(err)
        })?;
        let local = server::local_addr(&listener)?;
        tracing::info!(
            target: "estate::server",
            "Estate is serving on http://{local}/ (DEBUG {}); quit with Ctrl-C",
            if self.settings().debug { "on" } else { "off" }
        );
        self.serve(listener, shutdown).await
    }
}
