//! # estate-api
//!
//! REST APIs over Estate models (Django REST Framework's job), with an
//! OpenAPI 3.1 document generated from the same model metadata and a docs
//! page served locally (FastAPI's "automatic docs").
//!
//! ```no_run
//! # use estate::prelude::*;
//! # #[derive(Model, Clone, Debug)]
//! # struct Question { id: Auto<i64>, #[model(max_length = 200)] question_text: String }
//! use estate_api::{Api, Resource, permissions::IsAuthenticatedOrReadOnly};
//!
//! fn main() -> estate::Result<()> {
//!     let api = Api::new()
//!         .title("Polls API")
//!         .resource(
//!             Resource::<Question>::new("questions")
//!                 .search_fields(&["question_text"])
//!                 .permission(IsAuthenticatedOrReadOnly),
//!         );
//!     App::from_settings()?
//!         .app(estate::sessions::app())
//!         .app(estate::auth::app())
//!         .app(api.app())       // /api/questions/, /api/openapi.json, /api/docs/
//!         .run()
//! }
//! ```
//!
//! - [`Resource`]: a model as list / retrieve / create / update / partial
//!   update / delete endpoints, with filters, search, ordering, pagination
//!   and custom actions.
//! - [`permissions`]: who may call (the default is [`ModelPermissions`]:
//!   authenticated users, writes need the model's permissions).
//! - [`auth`]: API tokens (`Authorization: Bearer`, the `createtoken`
//!   command) and the browser session (CSRF-checked).
//! - [`problem`]: every error is an RFC 9457 problem document.
//! - [`openapi`]: the document at `/api/openapi.json`, the docs page at
//!   `/api/docs/`, the `openapi` command and `openapi --diff old.json`.

pub mod auth;
mod docs;
pub mod handler;
mod migrations;
pub mod openapi;
pub mod permissions;
pub mod problem;
mod query;
mod resource;
mod serializer;
pub mod throttle;
pub mod token;

use std::io::Write as _;
use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use estate::cli::{CommandContext, ManagementCommand};
use estate::prelude::*;
use http::HeaderValue;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};

pub use auth::{ApiUser, AuthMethod};
pub use permissions::{
    AllowAny, IsAuthenticated, IsAuthenticatedOrReadOnly, ModelPermissions, Permission,
};
pub use problem::{ApiError, FieldErrors, Problem};
pub use query::Pagination;
pub use resource::{Action, ActionRequest, Resource};
pub use token::ApiToken;

/// JSON Schema for handler types: `#[derive(estate_api::schemars::JsonSchema)]`.
pub use schemars;

use resource::{Defaults, ResourceEntry};
use throttle::{Throttle, ThrottleStore};

/// A REST API: resources under one prefix, its OpenAPI document and docs
/// page. Install it with `.app(api.app())`.
pub struct Api {
    prefix: String,
    info: openapi::Info,
    resources: Vec<Arc<dyn ResourceEntry>>,
    operations: Vec<(String, handler::Operation)>,
    permission: Arc<dyn Permission>,
    throttles: Vec<Throttle>,
    docs: bool,
}

/// The `[api]` settings.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSettings {
    /// Where throttling counts requests, shared by every instance
    /// (`redis://127.0.0.1:6379`); by default `sessions.redis_url` when
    /// sessions are in Redis, else each process counts its own.
    pub throttle_redis_url: Option<String>,
}

impl Default for Api {
    fn default() -> Self {
        Api::new()
    }
}

impl Api {
    /// An API at `/api`, whose resources need an authenticated user and,
    /// to write, the model's permissions ([`ModelPermissions`]) unless
    /// they say otherwise.
    pub fn new() -> Api {
        Api {
            prefix: "/api".to_owned(),
            info: openapi::Info {
                title: "API".to_owned(),
                version: "1.0.0".to_owned(),
                description: String::new(),
            },
            resources: Vec::new(),
            operations: Vec::new(),
            permission: Arc::new(ModelPermissions::default()),
            throttles: Vec::new(),
            docs: true,
        }
    }

    /// Where the API lives (`/api` by default).
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Api {
        self.prefix = format!("/{}", prefix.trim_matches('/'));
        self
    }

    /// The title of the document and docs page.
    #[must_use]
    pub fn title(mut self, title: &str) -> Api {
        title.clone_into(&mut self.info.title);
        self
    }

    /// The API's version, as the document states it.
    #[must_use]
    pub fn version(mut self, version: &str) -> Api {
        version.clone_into(&mut self.info.version);
        self
    }

    /// A description for the document (Markdown).
    #[must_use]
    pub fn description(mut self, description: &str) -> Api {
        description.clone_into(&mut self.info.description);
        self
    }

    /// The permission policy of resources that set none.
    #[must_use]
    pub fn default_permission(mut self, permission: impl Permission) -> Api {
        self.permission = Arc::new(permission);
        self
    }

    /// Limits every resource's callers (unless the resource sets its own
    /// throttles): 429 with `Retry-After` past the rate. See [`throttle`].
    #[must_use]
    pub fn throttle(mut self, throttle: Throttle) -> Api {
        self.throttles.push(throttle);
        self
    }

    fn defaults(&self) -> Defaults {
        Defaults {
            permission: self.permission.clone(),
            throttles: Arc::new(self.throttles.clone()),
        }
    }

    /// Serves no docs page (the document stays at `openapi.json`).
    #[must_use]
    pub fn without_docs(mut self) -> Api {
        self.docs = false;
        self
    }

    /// Adds a resource.
    ///
    /// # Panics
    /// When the resource names fields its model does not have, or cannot
    /// create rows (see [`Resource`]): at startup, with the fix.
    #[must_use]
    pub fn resource<M: Model>(mut self, resource: Resource<M>) -> Api {
        self.resources.push(Arc::new(resource.compile()));
        self
    }

    /// A plain handler at `path` (under the prefix), documented from its
    /// types: see [`handler`]. Several operations may share a path (one per
    /// method). Permissions and throttles of the API do not apply: take
    /// [`ApiUser`] and check what the handler needs.
    ///
    /// # Panics
    /// When `path` does not start with `/`.
    #[must_use]
    pub fn route(mut self, path: &str, operation: handler::Operation) -> Api {
        assert!(
            path.starts_with('/'),
            "Api::route: {path:?} must start with `/` (it goes under the API's prefix)"
        );
        self.operations.push((path.to_owned(), operation));
        self
    }

    /// The OpenAPI 3.1 document.
    pub fn openapi(&self) -> serde_json::Value {
        let mut builder = openapi::Builder::new();
        let defaults = self.defaults();
        for resource in &self.resources {
            resource.document(&self.prefix, &defaults, &mut builder);
        }
        for (path, operation) in &self.operations {
            let full = format!("{}{path}", self.prefix);
            let (entry, schemas) = operation.document(&full);
            builder.schemas(schemas);
            builder.operation(
                &full,
                &operation.method.as_str().to_ascii_lowercase(),
                entry,
            );
        }
        builder.finish(&self.info)
    }

    /// The API as an app: its routes, the token model and its migration,
    /// and the `createtoken` and `openapi` commands.
    pub fn app(self) -> AppModule {
        let document = Arc::new(self.openapi());
        let body = bytes::Bytes::from(
            serde_json::to_vec_pretty(&*document).expect("a JSON value serializes"),
        );
        let mut module = AppModule::new("api")
            .verbose_name("API")
            .prefix(&self.prefix)
            .model::<ApiToken>()
            .migrations(
                concat!(env!("CARGO_MANIFEST_DIR"), "/src/migrations"),
                migrations::all,
            )
            .command(token::createtoken())
            .command(openapi_command(document))
            .settings::<ApiSettings>("api")
            .on_startup(|mut startup| async move {
                let store = throttle_store(&startup).await?;
                startup.provide(store);
                Ok(startup)
            });
        let defaults = self.defaults();
        for resource in self.resources {
            for (path, route) in resource.routes(&defaults) {
                module = module.route(&path, api_route(route));
            }
        }
        // Typed handlers, one route per path with each method's handler.
        let mut by_path: Vec<(String, Route)> = Vec::new();
        for (path, operation) in self.operations {
            match by_path.iter().position(|(p, _)| *p == path) {
                Some(at) => {
                    let (path, route) = by_path.remove(at);
                    by_path.insert(at, (path, (operation.add)(Some(route))));
                }
                None => by_path.push((path, (operation.add)(None))),
            }
        }
        for (path, route) in by_path {
            module = module.route(&path, api_route(route));
        }
        let document_route = get(move || {
            let body = body.clone();
            async move {
                let mut response = Response::new(Body::from(body));
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            }
        })
        .name("openapi");
        module = module.route("/openapi.json", api_route(document_route));
        // Anything else under the prefix: a problem document, not a page.
        module = module.route(
            "/{*unknown}",
            api_route(any(|| async {
                Problem::not_found("The requested resource was not found on this server.")
            })),
        );
        if self.docs {
            let spec_url = format!("{}/openapi.json", self.prefix);
            let assets = format!("{}/docs/assets", self.prefix);
            let title = self.info.title.clone();
            module = module
                .route(
                    "/docs/",
                    get(move |request: axum::extract::Request| {
                        let nonce =
                            estate::http::csp::CspNonce::from_extensions(request.extensions());
                        let page =
                            docs::page(&title, &spec_url, &assets, nonce.as_ref().map(|n| &*n.0));
                        async move { Html(page) }
                    })
                    .name("docs"),
                )
                .route("/docs/assets/{file}", get(docs_asset));
        }
        module
    }
}

/// Where throttles count: Redis when configured for it (or for
/// sessions), else this process.
async fn throttle_store(startup: &estate::Startup) -> estate::Result<ThrottleStore> {
    let settings = startup.settings().section::<ApiSettings>();
    let redis_url = settings.throttle_redis_url.clone().or_else(|| {
        startup
            .get::<estate::sessions::Sessions>()
            .filter(|s| s.settings().engine == estate::sessions::SessionEngine::Redis)
            .and_then(|s| s.settings().redis_url.clone())
    });
    let counter = match redis_url {
        Some(url) => {
            // Instances of one site share counts; other sites on the same
            // Redis (another secret key) do not.
            let namespace = estate::signing::salted_hmac_hex(
                "estate.api.throttle.namespace",
                "",
                startup.settings().secret_key.expose(),
            );
            estate::ratelimit::RateCounter::redis(
                &url,
                &format!("estate:api-throttle:{}", &namespace[..16]),
            )
            .await
            .map_err(|err| Error::msg(format!("api.throttle_redis_url: {err}")))?
        }
        None => estate::ratelimit::RateCounter::memory(),
    };
    Ok(ThrottleStore(counter))
}

/// Every API route: errors as problem JSON, and no CSRF check for requests
/// that carry a bearer token (which the API then authenticates, or refuses).
fn api_route(route: Route) -> Route {
    route.json_errors().csrf_exempt_bearer()
}

/// An embedded asset of the docs page.
async fn docs_asset(Path(file): Path<String>) -> Response {
    match docs::asset(&file) {
        Some((bytes, content_type)) => {
            let mut response = Response::new(Body::from(bytes));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.insert(
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            response
        }
        None => Error::not_found("No such docs asset.").into_response(),
    }
}

/// `openapi [--diff OLD.json]`: prints the document, or compares it with an
/// older one and lists the changes that break clients (exit status 1 when
/// there are any).
fn openapi_command(document: Arc<serde_json::Value>) -> ManagementCommand {
    ManagementCommand::new(
        "openapi",
        "Print the API's OpenAPI 3.1 document, or with --diff OLD.json list breaking changes",
        move |ctx: CommandContext| {
            let document = document.clone();
            async move {
                let Some(old_path) = ctx.args.get_one::<String>("diff").cloned() else {
                    writeln!(ctx.out(), "{}", serde_json::to_string_pretty(&*document)?)?;
                    return Ok(());
                };
                let text = std::fs::read_to_string(&old_path)
                    .map_err(|err| Error::msg(format!("cannot read {old_path}: {err}")))?;
                let old: serde_json::Value = serde_json::from_str(&text).map_err(|err| {
                    Error::msg(format!("{old_path} is not a JSON OpenAPI document: {err}"))
                })?;
                let changes = openapi::diff::breaking_changes(&old, &document);
                if changes.is_empty() {
                    writeln!(ctx.out(), "No breaking changes since {old_path}.")?;
                    return Ok(());
                }
                for change in &changes {
                    writeln!(ctx.out(), "{change}")?;
                }
                Err(Error::msg(format!(
                    "{} breaking change{} since {old_path}",
                    changes.len(),
                    if changes.len() == 1 { "" } else { "s" }
                )))
            }
        },
    )
    .arg(
        clap::Arg::new("diff")
            .long("diff")
            .value_name("OLD.json")
            .help("Compare with an older document; exit 1 on breaking changes"),
    )
}

/// `docs/api.md`, whose code blocks run as doctests: the guide cannot drift
/// from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/api.md")]
pub struct ApiGuide;
