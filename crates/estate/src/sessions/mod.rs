//! Sessions, as Django's `django.contrib.sessions`: per-visitor data kept
//! between requests, found again through a cookie. Install the app and take
//! a [`Session`] in handlers:
//!
//! ```no_run
//! use estate::prelude::*;
//! use estate::sessions::Session;
//!
//! async fn cart_add(session: Session) -> estate::Result<String> {
//!     let mut cart: Vec<u32> = session.get("cart").unwrap_or_default();
//!     cart.push(42);
//!     session.insert("cart", &cart)?;
//!     Ok(format!("{} items", cart.len()))
//! }
//!
//! fn main() -> estate::Result<()> {
//!     App::new()
//!         .app(estate::sessions::app())
//!         .route("/cart/add", post(cart_add))
//!         .run()
//! }
//! ```
//!
//! The `[sessions]` settings choose the store ([`SessionSettings`]): the
//! database (default; run `migrate` to create `estate_session`, and
//! `clearsessions` now and then to remove expired rows), a signed cookie, or
//! Redis (for several instances without a shared database write per
//! request). The cookie is `HttpOnly` and `SameSite=Lax`, `Secure` with
//! `security.session_cookie_secure`; its value is a random 32-character key
//! (or the signed data), never chosen by the client. Sessions are read only
//! by handlers that take one and written only when changed.

mod cookie_store;
mod db_store;
mod layer;
pub(crate) mod migrations;
mod redis_store;
mod session;
mod store;

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

pub use cookie_store::SignedCookieStore;
pub use db_store::{DatabaseStore, StoredSession};
pub(crate) use layer::SessionLayer;
pub use redis_store::RedisStore;
pub(crate) use redis_store::connect_manager as connect_redis;
pub use session::{Session, SessionExpiry};
pub use store::{SessionData, SessionError, SessionStore};

use crate::app_module::{AppModule, Startup};
use crate::cli::{CheckContext, CheckMessage, ManagementCommand};
use crate::error::Error;
use crate::signing::{Signer, TimestampSigner};

/// The salt of the database store's signatures.
const DATABASE_SALT: &str = "estate.sessions.DatabaseStore";
/// The salt of the signed-cookie store's signatures.
const COOKIE_SALT: &str = "estate.sessions.SignedCookieStore";

/// Where sessions are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEngine {
    /// A row per session in `estate_session` (default).
    Database,
    /// The data itself, signed, in the cookie.
    SignedCookies,
    /// Redis at `sessions.redis_url`.
    Redis,
}

/// The `SameSite` attribute of the session cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum SameSite {
    /// Sent on top-level navigation from other sites, not on their
    /// requests (default).
    Lax,
    /// Never sent from other sites.
    Strict,
    /// Always sent (needs `security.session_cookie_secure`).
    None,
}

/// The `[sessions]` section of `estate.toml` (`ESTATE_SESSIONS__<KEY>` in
/// the environment). Django's `SESSION_*` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SessionSettings {
    /// `"database"` (default), `"signed_cookies"` or `"redis"`.
    pub engine: SessionEngine,
    /// The Redis server of the `redis` engine: `redis://127.0.0.1:6379`.
    pub redis_url: Option<String>,
    /// The cookie's name. Default `sessionid`.
    pub cookie_name: String,
    /// How long a session lasts, in seconds. Default two weeks (1209600).
    pub cookie_age: u64,
    /// The cookie's `Domain` (to share it with subdomains). Default none.
    pub cookie_domain: Option<String>,
    /// The cookie's `Path`. Default `/`.
    pub cookie_path: String,
    /// The cookie's `SameSite`: `"Lax"` (default), `"Strict"` or `"None"`.
    pub cookie_samesite: SameSite,
    /// Hide the cookie from JavaScript. Default on.
    pub cookie_httponly: bool,
    /// End sessions when the browser closes. Default off.
    pub expire_at_browser_close: bool,
    /// Save the session on every request (renewing its expiry), not only
    /// when it changed. Default off.
    pub save_every_request: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            engine: SessionEngine::Database,
            redis_url: None,
            cookie_name: "sessionid".to_owned(),
            cookie_age: 60 * 60 * 24 * 14,
            cookie_domain: None,
            cookie_path: "/".to_owned(),
            cookie_samesite: SameSite::Lax,
            cookie_httponly: true,
            expire_at_browser_close: false,
            save_every_request: false,
        }
    }
}

/// The configured session store and cookie settings, provided to handlers
/// and commands (`ctx.get::<Sessions>()`).
#[derive(Clone)]
pub struct Sessions(Arc<SessionsInner>);

struct SessionsInner {
    store: Arc<dyn SessionStore>,
    settings: SessionSettings,
    secure: bool,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("settings", &self.0.settings)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions in `store` with these cookie settings; `secure` sets the
    /// cookie's `Secure` flag.
    pub fn new(store: impl SessionStore, settings: SessionSettings, secure: bool) -> Sessions {
        Sessions(Arc::new(SessionsInner {
            store: Arc::new(store),
            settings,
            secure,
        }))
    }

    /// The store.
    pub fn store(&self) -> &dyn SessionStore {
        &*self.0.store
    }

    /// The `[sessions]` settings.
    pub fn settings(&self) -> &SessionSettings {
        &self.0.settings
    }

    /// Whether the cookie is `Secure`.
    pub fn secure(&self) -> bool {
        self.0.secure
    }
}

/// Builds the configured store (at startup); `None` when the settings
/// lack what the engine needs (the system checks say what).
async fn configured(startup: &Startup) -> crate::Result<Option<Sessions>> {
    let settings = startup.settings().section::<SessionSettings>().clone();
    let secure = startup.settings().security.session_cookie_secure;
    let sessions = match settings.engine {
        SessionEngine::Database => {
            let Some(db) = startup.get::<estate_orm::Database>().cloned() else {
                return Ok(None);
            };
            let signer = Signer::from_settings(startup.settings(), DATABASE_SALT);
            Sessions::new(DatabaseStore::new(db, signer), settings, secure)
        }
        SessionEngine::SignedCookies => {
            let signer = TimestampSigner::from_settings(startup.settings(), COOKIE_SALT);
            let max_age = Duration::from_secs(settings.cookie_age);
            Sessions::new(SignedCookieStore::new(signer, max_age), settings, secure)
        }
        SessionEngine::Redis => {
            let Some(url) = settings.redis_url.clone() else {
                return Ok(None);
            };
            let store = RedisStore::connect(&url)
                .await
                .map_err(|err| Error::msg(format!("sessions.redis_url ({url}): {err}")))?;
            Sessions::new(store, settings, secure)
        }
    };
    Ok(Some(sessions))
}

/// The system checks of the `[sessions]` settings.
fn checks(ctx: &CheckContext<'_>) -> Vec<CheckMessage> {
    let settings = ctx.settings.section::<SessionSettings>();
    let mut messages = Vec::new();
    if settings.engine == SessionEngine::Database && ctx.app.get::<estate_orm::Database>().is_none()
    {
        messages.push(CheckMessage::error(
            "sessions.E002",
            "sessions.engine is \"database\" but no database is configured: set DATABASE_URL \
             (e.g. sqlite://db.sqlite3), or choose sessions.engine = \"signed_cookies\" or \
             \"redis\"",
        ));
    }
    if settings.engine == SessionEngine::Redis && settings.redis_url.is_none() {
        messages.push(CheckMessage::error(
            "sessions.E003",
            "sessions.engine is \"redis\" but sessions.redis_url is not set: add redis_url = \
             \"redis://127.0.0.1:6379\" under [sessions] (or ESTATE_SESSIONS__REDIS_URL)",
        ));
    }
    if settings.cookie_samesite == SameSite::None && !ctx.settings.security.session_cookie_secure {
        messages.push(CheckMessage::error(
            "sessions.E001",
            "sessions.cookie_samesite is \"None\" without security.session_cookie_secure: \
             browsers refuse such cookies; set session_cookie_secure = true under [security] or \
             use \"Lax\"",
        ));
    }
    if !settings.cookie_httponly {
        messages.push(CheckMessage::warning(
            "sessions.W001",
            "sessions.cookie_httponly is false: scripts on the page (and any XSS) can read the \
             session cookie",
        ));
    }
    messages
}

/// The sessions app: the `[sessions]` settings, the `estate_session` model
/// and its migration, the `clearsessions` command, and the middleware that
/// gives handlers their [`Session`].
pub fn app() -> AppModule {
    AppModule::new("sessions")
        .settings::<SessionSettings>("sessions")
        .model::<StoredSession>()
        .migrations(
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/sessions/migrations"),
            migrations::all,
        )
        .on_startup(|mut startup| async move {
            if let Some(sessions) = configured(&startup).await? {
                startup.provide(sessions);
            }
            Ok(startup)
        })
        .check(checks)
        .command(ManagementCommand::new(
            "clearsessions",
            "Remove expired sessions from the session store",
            |ctx| async move {
                let sessions = ctx
                    .app
                    .context()
                    .get::<Sessions>()
                    .cloned()
                    .ok_or_else(|| {
                        Error::msg("the sessions app did not start: no session store")
                    })?;
                let removed = sessions
                    .store()
                    .clear_expired()
                    .await
                    .map_err(|err| Error::msg(err.to_string()))?;
                writeln!(ctx.out(), "Removed {removed} expired sessions.")?;
                Ok(())
            },
        ))
}
