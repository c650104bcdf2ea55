//! Authentication and authorization, as Django's `django.contrib.auth`:
//! users, groups and permissions as ordinary models; password hashing
//! ([`hashers`]: argon2id by default, Django's hashes verified and
//! upgraded) and rules ([`password_validation`]); logging in and out on top
//! of [`sessions`](crate::sessions); the request's user ([`CurrentUser`])
//! with guards for handlers and routes.
//!
//! ```no_run
//! use estate::prelude::*;
//! use estate::auth::{CurrentUser, LoginRequired};
//!
//! estate::auth::permission!(CanVote = "polls.add_vote");
//!
//! async fn home(user: CurrentUser) -> String {
//!     match user.user() {
//!         Some(user) => format!("Hello, {}", user.username),
//!         None => "Hello, stranger".to_owned(),
//!     }
//! }
//!
//! async fn account(LoginRequired(user): LoginRequired) -> String {
//!     format!("Your account, {}", user.username())
//! }
//!
//! async fn vote(_: estate::auth::PermissionRequired<CanVote>) -> &'static str {
//!     "voted"
//! }
//!
//! fn main() -> estate::Result<()> {
//!     App::new()
//!         .app(estate::sessions::app())
//!         .app(estate::auth::app())
//!         .route("/", get(home))
//!         .route("/account", get(account))
//!         .route("/vote", post(vote))
//!         .route("/staff", get(home).layer(estate::auth::staff_required()))
//!         .run()
//! }
//! ```

mod commands;
mod context;
mod current_user;
pub mod forms;
mod guards;
pub mod hashers;
pub(crate) mod login;
pub(crate) mod migrations;
mod models;
pub mod password_validation;
mod permissions;
mod redirects;
pub mod throttle;
pub mod tokens;
pub(crate) mod views;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::Deserialize;

pub(crate) use context::AuthLayer;
pub use current_user::{CurrentUser, user_permissions};
pub use guards::{
    LoginRequired, PermissionRequired, RequiredPermission, StaffRequired, login_required,
    permission_required, staff_required,
};
pub use login::{create_superuser, create_user};
pub use models::{Group, Permission, User, normalize_email, validate_username};
pub use permissions::create_default_permissions;

use crate::app_module::AppModule;
use crate::cli::CheckMessage;
use crate::context::AppContext;
use crate::error::Error;
use crate::settings::Settings;
use hashers::PasswordHashers;
use password_validation::{PasswordValidators, UserAttribute};

/// Declares a permission type for [`PermissionRequired`]:
/// `estate::auth::permission!(pub CanChangeQuestion = "polls.change_question");`
#[macro_export]
macro_rules! __auth_permission {
    ($vis:vis $name:ident = $perm:literal) => {
        #[doc = concat!("The permission `", $perm, "`.")]
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;

        impl $crate::auth::RequiredPermission for $name {
            const PERMISSION: &'static str = $perm;
        }
    };
}
pub use crate::__auth_permission as permission;

/// The `[auth]` section of `estate.toml` (`ESTATE_AUTH__<KEY>`): Django's
/// `LOGIN_URL`, `LOGIN_REDIRECT_URL`, ... and login rate limits.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthSettings {
    /// Where `LoginRequired` sends anonymous visitors (with `?next=`).
    /// Default `/accounts/login/`.
    pub login_url: String,
    /// Where a login without `next` goes. Default `/`.
    pub login_redirect_url: String,
    /// Where logout goes; none (default) shows the "logged out" page.
    pub logout_redirect_url: Option<String>,
    /// How long a password reset link works, in seconds. Default three
    /// days (259200).
    pub password_reset_timeout: u64,
    /// Failed logins allowed per account in `login_lockout` before its
    /// logins are refused (429) for the rest of the window; 0 turns the
    /// limit off. Default 5.
    pub login_failures_per_account: u32,
    /// Failed logins allowed per client address (any accounts) in
    /// `login_lockout`; 0 turns the limit off. Default 20. Behind a proxy
    /// every client shares its address: raise or turn off this limit there.
    pub login_failures_per_address: u32,
    /// The counting window and lockout, in seconds. Default 900 (15 min).
    pub login_lockout: u64,
    /// Count failures in this Redis (shared by every instance). Default:
    /// `sessions.redis_url` when sessions are in Redis, else in memory.
    pub login_throttle_redis_url: Option<String>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            login_url: "/accounts/login/".to_owned(),
            login_redirect_url: "/".to_owned(),
            logout_redirect_url: None,
            password_reset_timeout: 60 * 60 * 24 * 3,
            login_failures_per_account: 5,
            login_failures_per_address: 20,
            login_lockout: 15 * 60,
            login_throttle_redis_url: None,
        }
    }
}

/// The auth app's configuration in code: password hashers and validators.
/// `estate::auth::app()` is `AuthConfig::default().app()`.
#[derive(Clone, Debug, Default)]
pub struct AuthConfig {
    hashers: PasswordHashers,
    validators: PasswordValidators,
}

impl AuthConfig {
    /// Hash new passwords with `hashers.preferred()`, accept the others.
    #[must_use]
    pub fn hashers(mut self, hashers: PasswordHashers) -> AuthConfig {
        self.hashers = hashers;
        self
    }

    /// The rules new passwords must pass (default: Django's four).
    #[must_use]
    pub fn validators(mut self, validators: PasswordValidators) -> AuthConfig {
        self.validators = validators;
        self
    }

    /// The auth app: models and migrations, default permissions on
    /// `migrate`, `createsuperuser` and `changepassword`, the request's user
    /// in templates (`user`, `perms`). Needs the sessions app.
    pub fn app(self) -> AppModule {
        let config = self;
        views::routes(AppModule::new("auth"))
            .settings::<AuthSettings>("auth")
            .model::<Permission>()
            .model::<Group>()
            .model::<User>()
            .migrations(
                concat!(env!("CARGO_MANIFEST_DIR"), "/src/auth/migrations"),
                migrations::all,
            )
            .on_startup(move |mut startup| async move {
                let settings = startup.settings().section::<AuthSettings>().clone();
                let throttle = login_throttle(&startup, &settings).await?;
                let auth = Auth(Arc::new(AuthInner {
                    hashers: config.hashers,
                    validators: config.validators,
                    settings,
                    site: startup.settings.clone(),
                    throttle,
                    hashing: tokio::sync::Semaphore::new(
                        std::thread::available_parallelism().map_or(2, usize::from),
                    ),
                }));
                startup.provide(auth);
                Ok(startup)
            })
            .check(|ctx| {
                let mut messages = Vec::new();
                if ctx.app.get::<estate_orm::Database>().is_none() {
                    messages.push(CheckMessage::error(
                        "auth.E001",
                        "the auth app needs a database: set DATABASE_URL (e.g. \
                         sqlite://db.sqlite3)",
                    ));
                }
                if !ctx.app.apps().iter().any(|app| app.name == "sessions") {
                    messages.push(CheckMessage::error(
                        "auth.E002",
                        "the auth app needs sessions: add `.app(estate::sessions::app())` to the \
                         App",
                    ));
                }
                messages
            })
            .post_migrate(
                |ctx, db| async move { create_default_permissions(&ctx, &db).await.map(drop) },
            )
            .command(commands::createsuperuser())
            .command(commands::changepassword())
    }
}

/// The auth app.
pub fn app() -> AppModule {
    AuthConfig::default().app()
}

/// The auth app's configuration at run time: hashers, validators,
/// `[auth]` settings. Provided to handlers (`Auth` is an extractor) and
/// commands (`ctx.get::<Auth>()`).
#[derive(Clone)]
pub struct Auth(Arc<AuthInner>);

struct AuthInner {
    hashers: PasswordHashers,
    validators: PasswordValidators,
    settings: AuthSettings,
    site: Arc<Settings>,
    throttle: throttle::LoginThrottle,
    /// At most one password hash per core at a time (each takes tens of
    /// milliseconds and, with argon2, megabytes of memory).
    hashing: tokio::sync::Semaphore,
}

/// The failed-login counters: in Redis when one is configured for it (or
/// for sessions), else in memory.
async fn login_throttle(
    startup: &crate::app_module::Startup,
    settings: &AuthSettings,
) -> crate::Result<throttle::LoginThrottle> {
    let redis_url = settings.login_throttle_redis_url.clone().or_else(|| {
        startup
            .get::<crate::sessions::Sessions>()
            .filter(|s| s.settings().engine == crate::sessions::SessionEngine::Redis)
            .and_then(|s| s.settings().redis_url.clone())
    });
    let counters = match redis_url {
        Some(url) => {
            let connection = crate::sessions::connect_redis(&url).await.map_err(|err| {
                Error::msg(format!("auth.login_throttle_redis_url ({url}): {err}"))
            })?;
            // A namespace from the secret key: instances of one site share
            // counts, other sites on the same Redis do not.
            let namespace = crate::signing::salted_hmac_hex(
                "estate.auth.throttle.namespace",
                "",
                startup.settings().secret_key.expose(),
            )[..16]
                .to_owned();
            crate::ratelimit::RateCounter::from_connection(
                connection,
                &format!("estate:login-failures:{namespace}"),
            )
        }
        None => crate::ratelimit::RateCounter::memory(),
    };
    Ok(throttle::LoginThrottle::new(
        counters,
        settings.login_failures_per_account,
        settings.login_failures_per_address,
        std::time::Duration::from_secs(settings.login_lockout.max(1)),
    ))
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("settings", &self.0.settings)
            .finish_non_exhaustive()
    }
}

/// The salt of session auth hashes.
const SESSION_HASH_SALT: &str = "estate.auth.User.session_auth_hash";

impl Auth {
    /// The password hashers.
    pub fn hashers(&self) -> &PasswordHashers {
        &self.0.hashers
    }

    /// The password reset tokens, under the site's secret keys.
    pub fn reset_tokens(&self) -> tokens::PasswordResetTokens {
        tokens::PasswordResetTokens::new(
            self.0.site.secret_key.expose(),
            self.0.site.secret_key_fallbacks.iter().map(|k| k.expose()),
            self.0.settings.password_reset_timeout,
        )
    }

    /// Runs `work` (password hashing) on a blocking thread, a few at a
    /// time, so slow hashes never stall the async workers serving other
    /// requests.
    pub(crate) async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce(PasswordHashers) -> T + Send + 'static,
    ) -> T {
        let _permit = self
            .0
            .hashing
            .acquire()
            .await
            .expect("the hashing semaphore is never closed");
        let hashers = self.0.hashers.clone();
        tokio::task::spawn_blocking(move || work(hashers))
            .await
            .expect("password hashing does not panic")
    }

    /// `password` hashed with the preferred hasher, off the async workers.
    pub async fn hash_password(&self, password: &str) -> String {
        let password = password.to_owned();
        self.hashing(move |hashers| hashers.make(&password)).await
    }

    /// Whether `password` is the user's, off the async workers.
    pub async fn check_password(&self, user: &User, password: &str) -> bool {
        let (password, encoded) = (password.to_owned(), user.password.clone());
        self.hashing(move |hashers| hashers.check(&password, &encoded).is_correct())
            .await
    }

    /// The login limits (for login pages of your own; the built-in ones use
    /// them already).
    pub fn login_throttle(&self) -> &throttle::LoginThrottle {
        &self.0.throttle
    }

    /// The failed-login limits.
    pub(crate) fn throttle(&self) -> &throttle::LoginThrottle {
        &self.0.throttle
    }

    /// The password rules.
    pub fn validators(&self) -> &PasswordValidators {
        &self.0.validators
    }

    /// The `[auth]` settings.
    pub fn settings(&self) -> &AuthSettings {
        &self.0.settings
    }

    /// Every rule's message that `password` breaks for `user` (its
    /// username, names and email count for similarity).
    ///
    /// # Errors
    /// The messages.
    pub fn validate_password(
        &self,
        password: &str,
        user: Option<&User>,
    ) -> Result<(), Vec<String>> {
        let attributes: Vec<UserAttribute<'_>> = match user {
            Some(user) => vec![
                UserAttribute::new("username", &user.username),
                UserAttribute::new("first name", &user.first_name),
                UserAttribute::new("last name", &user.last_name),
                UserAttribute::new("email address", &user.email),
            ],
            None => Vec::new(),
        };
        self.0.validators.validate(password, &attributes)
    }

    /// A hash of the user's password hash under the secret key, kept in the
    /// session at login: changing the password ends every other session.
    pub(crate) fn session_auth_hash(&self, user: &User) -> String {
        crate::signing::salted_hmac_hex(
            SESSION_HASH_SALT,
            &user.password,
            self.0.site.secret_key.expose(),
        )
    }

    /// Whether `hash` is the user's session hash under the secret key or
    /// one of its fallbacks (compared in constant time).
    pub(crate) fn session_hash_matches(&self, user: &User, hash: &str) -> bool {
        std::iter::once(&self.0.site.secret_key)
            .chain(&self.0.site.secret_key_fallbacks)
            .any(|key| {
                let expected = crate::signing::salted_hmac_hex(
                    SESSION_HASH_SALT,
                    &user.password,
                    key.expose(),
                );
                crate::crypto::constant_time_eq(expected.as_bytes(), hash.as_bytes())
            })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = AppContext::from_request_parts(parts, state).await?;
        context.get::<Auth>().cloned().ok_or_else(not_installed)
    }
}

fn not_installed() -> Error {
    Error::msg("the auth app is not installed: add `.app(estate::auth::app())` to the App")
}
