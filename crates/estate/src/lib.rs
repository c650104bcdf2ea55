//! # Estate
//!
//! A batteries-included web framework: Django's complete, secure,
//! conventional stack with Rust's speed and types, on axum and tokio.
//!
//! ```no_run
//! use estate::prelude::*;
//!
//! #[tokio::main]
//! async fn main() -> estate::Result<()> {
//!     App::new()
//!         .debug(true)
//!         .route("/", get(|| async { "Hello, World!" }))
//!         .serve("127.0.0.1:8000")
//!         .await
//! }
//! ```
//!
//! A project uses [`App::run`] instead of `serve` to get the management
//! command line (`runserver`, `check --deploy`, `routes`, and app commands).
//!
//! ## Map
//!
//! - [`App`] builds the application; [`AppModule`] is a Django-style app.
//! - [`routing`]: [`get`](routing::get), [`post`](routing::post)... record
//!   handler names; `.name("detail")` names a route; [`Urls`](routing::Urls)
//!   reverses names into paths.
//! - [`settings`]: `estate.toml` + `ESTATE_*` environment, typed and validated.
//! - [`http`]: the secure-by-default core (hosts, limits, timeouts, security
//!   headers, request ids, error pages).
//! - [`orm`]: models (`#[derive(Model)]`), QuerySets; [`db`]: the database
//!   ([`db::Db`] in handlers). Both from `estate-orm`.
//! - [`templates`](mod@templates): minijinja templates; [`forms`]: `#[derive(Form)]`,
//!   `ModelForm`, formsets; [`pagination`].
//! - [`signing`]: values signed with the secret key (Django's format);
//!   [`crypto`]: random strings and constant-time comparison.
//! - [`sessions`]: per-visitor data in the database, a signed cookie or
//!   Redis; the [`Session`](sessions::Session) extractor.
//! - [`cache`]: the cache framework (memory or Redis), per-view and
//!   template fragment caching, locks across instances.
//! - [`tasks`]: background tasks in the database, the `worker` command.
//! - [`mail`]: sending email ([`Mailer`](mail::Mailer), [`send_mail`](mail::send_mail))
//!   through SMTP, the console, files or an in-memory outbox for tests.
//! - [`messages`]: one-time notices shown on the next page.
//! - [`admin`]: the admin site (list, search, add, change, delete rows
//!   for staff, by permission).
//! - [`auth`]: users, groups, permissions; login and logout; the
//!   [`CurrentUser`](auth::CurrentUser) and guards; password hashing
//!   (argon2id; Django's hashes verified) and validation.
//! - [`cli`]: management commands and system checks.
//! - [`metrics`]: the Prometheus `/metrics` endpoint (off by default) and
//!   its registry; `/healthz` and `/readyz` are served by every app.
//! - [`test`](mod@test): a real server on an ephemeral port and a client, plus the
//!   helper that decides whether backend tests run.
//! - [`Error`] is the one error type handlers return.
//!
//! Every Estate handler is an axum handler, every tower layer works, and any
//! axum `Router` can be mounted with [`App::merge`] or [`App::nest`].

// The derives emit `::estate::...` paths; this makes them work in here too.
extern crate self as estate;

pub mod admin;
pub mod app;
mod app_module;
pub mod auth;
pub mod cache;
pub mod cli;
mod context;
pub mod crypto;
pub mod db;
pub mod error;
pub mod forms;
pub mod http;
mod logging;
pub mod mail;
pub mod messages;
pub mod metrics;
pub mod orm;
pub mod pagination;
pub mod ratelimit;
pub mod routing;
pub mod server;
pub mod sessions;
pub mod settings;
pub mod shortcuts;
pub mod signing;
mod suggest;
pub mod tasks;
pub mod templates;
pub mod test;
pub mod views;

pub use app::{App, BuiltApp};
pub use app_module::{AppMigrations, AppModule, AppStatic, AppTemplates, CheckFn, Models, Startup};

/// A templates folder of this crate (path relative to its `Cargo.toml`),
/// for [`App::templates`] and [`AppModule::templates`]. Release builds embed
/// its files in the binary (one-file deploy) and read them from there; debug
/// builds read the folder, reloading on change.
#[macro_export]
macro_rules! templates {
    ($path:literal) => {{
        #[cfg(debug_assertions)]
        const EMBEDDED: &[(&str, &str)] = &[];
        #[cfg(not(debug_assertions))]
        const EMBEDDED: &[(&str, &str)] = $crate::macros::embed_dir!($path);
        $crate::templates::TemplateSource {
            dir: ::std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path)),
            embedded: EMBEDDED,
        }
    }};
}

/// A static files folder of this crate (path relative to its
/// `Cargo.toml`), for [`App::static_files`] and [`AppModule::static_files`].
#[macro_export]
macro_rules! static_dir {
    ($path:literal) => {
        $crate::http::static_files::StaticSource {
            dir: ::std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path)),
        }
    };
}

/// The absolute path of a folder of this crate, for
/// [`AppModule::migrations`]: `estate::migrations_dir!("src/polls/migrations")`.
#[macro_export]
macro_rules! migrations_dir {
    ($path:literal) => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/", $path)
    };
}
pub use context::{AppContext, AppInfo};
pub use error::{Error, Result};

/// Estate's procedural macros, for the macros above.
#[doc(hidden)]
pub mod macros {
    pub use estate_macros::embed_dir;
}

/// The guides of the repository's `docs/` folder, included here so that their
/// examples are compiled and tested with the crate.
pub mod guide {
    #[doc = include_str!("../../../README.md")]
    pub mod readme {}
    #[doc = include_str!("../../../docs/settings.md")]
    pub mod settings {}
    #[doc = include_str!("../../../docs/routing.md")]
    pub mod routing {}
    #[doc = include_str!("../../../docs/security.md")]
    pub mod security {}
    #[doc = include_str!("../../../docs/sessions.md")]
    pub mod sessions {}
    #[doc = include_str!("../../../docs/cache.md")]
    pub mod cache {}
    #[doc = include_str!("../../../docs/tasks.md")]
    pub mod tasks {}
    #[doc = include_str!("../../../docs/auth.md")]
    pub mod auth {}
    #[doc = include_str!("../../../docs/messages.md")]
    pub mod messages {}
    #[doc = include_str!("../../../docs/admin.md")]
    pub mod admin {}
    #[doc = include_str!("../../../docs/commands.md")]
    pub mod commands {}
    #[doc = include_str!("../../../docs/testing.md")]
    pub mod testing {}
    #[doc = include_str!("../../../docs/database.md")]
    pub mod database {}
    #[doc = include_str!("../../../docs/orm.md")]
    pub mod orm {}
    #[doc = include_str!("../../../docs/migrations.md")]
    pub mod migrations {}
    #[doc = include_str!("../../../docs/templates.md")]
    pub mod templates {}
    #[doc = include_str!("../../../docs/forms.md")]
    pub mod forms {}
    #[doc = include_str!("../../../docs/mail.md")]
    pub mod mail {}
    #[doc = include_str!("../../../docs/views.md")]
    pub mod views {}
    #[doc = include_str!("../../../docs/new-project.md")]
    pub mod new_project {}
    #[doc = include_str!("../../../docs/deployment.md")]
    pub mod deployment {}
}

/// Re-exports of the crates Estate builds on, at the versions it uses.
pub mod reexports {
    pub use axum;
    pub use clap;
    pub use http;
    pub use serde_json;
    pub use tokio;
    pub use tower;
    pub use tracing;
}

/// Everything a typical project file needs: `use estate::prelude::*;`.
pub mod prelude {
    pub use crate::cli::{CheckMessage, ManagementCommand};
    pub use crate::http::RequestId;
    pub use crate::orm::{Auto, Model};
    pub use crate::routing::Path;
    pub use crate::routing::{
        Route, RouteExt, Routes, Urls, any, delete, get, head, options, patch, post, put,
    };
    pub use crate::{App, AppContext, AppModule, Error, Result};
    pub use axum::Json;
    pub use axum::extract::{Form, Query};
    pub use axum::response::{Html, IntoResponse, Redirect, Response};
    pub use clap;
    pub use http::{Method, StatusCode};
}
