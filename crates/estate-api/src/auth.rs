//! Who is calling: [`ApiUser`], authenticated by an API token
//! (`Authorization: Bearer <key>`) or by the browser's session.
//!
//! - A bearer token is checked and nothing else: a wrong or revoked key is
//!   a 401, never a fall-back to the session. Such requests skip the CSRF
//!   check (a browser never sends a bearer token on its own).
//! - Without an `Authorization` header the session's user is used (log in
//!   through the site's login page), and Estate's CSRF protection applies
//!   to POST, PUT, PATCH and DELETE: send the `X-CSRFToken` header, as
//!   Django REST Framework's `SessionAuthentication` requires.
//! - Any other `Authorization` scheme is a 401 that says to use Bearer.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::FromRequestParts as _;
use estate::auth::{CurrentUser, User};
use estate::db::Database;
use http::request::Parts;
use tokio::sync::OnceCell;

use crate::problem::{ApiError, Problem};
use crate::token::ApiToken;

/// How a request was authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// No credentials: an anonymous caller.
    Anonymous,
    /// The browser's session cookie (CSRF-checked).
    Session,
    /// An API token.
    Token,
}

/// The caller of an API request: a user or anonymous, and how they were
/// authenticated. Permissions load once, on first use.
#[derive(Clone)]
pub struct ApiUser(Arc<Inner>);

struct Inner {
    user: Option<User>,
    method: AuthMethod,
    db: Database,
    permissions: OnceCell<HashSet<String>>,
}

impl std::fmt::Debug for ApiUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiUser")
            .field("user", &self.0.user.as_ref().map(|u| &u.username))
            .field("method", &self.0.method)
            .finish()
    }
}

impl ApiUser {
    fn new(user: Option<User>, method: AuthMethod, db: Database) -> ApiUser {
        ApiUser(Arc::new(Inner {
            user,
            method,
            db,
            permissions: OnceCell::new(),
        }))
    }

    /// The user, or `None` for an anonymous caller.
    pub fn user(&self) -> Option<&User> {
        self.0.user.as_ref()
    }

    /// The user's id.
    pub fn id(&self) -> Option<i64> {
        self.0.user.as_ref().and_then(|u| u.id.get())
    }

    /// Whether a user is authenticated.
    pub fn is_authenticated(&self) -> bool {
        self.0.user.is_some()
    }

    /// How the request was authenticated.
    pub fn method(&self) -> AuthMethod {
        self.0.method
    }

    /// Whether the user has `perm` (`"polls.change_question"`): active
    /// superusers have every permission, others need it directly or
    /// through a group; anonymous callers have none.
    ///
    /// # Errors
    /// Database errors.
    pub async fn has_perm(&self, perm: &str) -> Result<bool, estate::Error> {
        let Some(user) = &self.0.user else {
            return Ok(false);
        };
        if user.is_superuser {
            return Ok(true);
        }
        let id = user.id.get().unwrap_or_default();
        let permissions = self
            .0
            .permissions
            .get_or_try_init(|| estate::auth::user_permissions(&self.0.db, id))
            .await?;
        Ok(permissions.contains(perm))
    }
}

/// Authenticates a request (see the module docs).
pub(crate) async fn authenticate(parts: &mut Parts, db: &Database) -> Result<ApiUser, ApiError> {
    if let Some(header) = parts.headers.get(http::header::AUTHORIZATION) {
        let header = header.to_str().unwrap_or("");
        let (scheme, key) = header.split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Problem::unauthorized(
                "Unsupported authorization scheme: send `Authorization: Bearer <token>`.",
                false,
            )
            .into());
        }
        return match ApiToken::authenticate(db, key.trim()).await? {
            Some(user) => Ok(ApiUser::new(Some(user), AuthMethod::Token, db.clone())),
            None => Err(Problem::unauthorized("Invalid or revoked token.", true).into()),
        };
    }
    // The session, when the site has sessions and auth installed.
    let installed = parts
        .extensions
        .get::<estate::sessions::Session>()
        .is_some();
    if installed {
        let current = CurrentUser::from_request_parts(parts, &()).await?;
        if let Some(user) = current.user() {
            return Ok(ApiUser::new(Some(user), AuthMethod::Session, db.clone()));
        }
    }
    Ok(ApiUser::new(None, AuthMethod::Anonymous, db.clone()))
}

/// The caller, as a handler argument of plain API handlers
/// ([`Api::route`](crate::Api::route)): a bad token is a 401 before the
/// handler runs; an anonymous caller is an `ApiUser` without a user.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let context = estate::AppContext::from_request_parts(parts, &()).await?;
        let db = context.get::<Database>().cloned().ok_or_else(|| {
            estate::Error::msg(
                "the API needs a database: set DATABASE_URL (e.g. sqlite://db.sqlite3)",
            )
        })?;
        authenticate(parts, &db).await
    }
}
