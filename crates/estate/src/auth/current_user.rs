//! The request's user: [`CurrentUser`], found through the session, with its
//! permissions loaded once per request.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use estate_orm::chrono::Utc;
use estate_orm::{Database, Model};
use http::request::Parts;

use super::models::{Group, Permission, User};
use super::{Auth, not_installed};
use crate::context::AppContext;
use crate::error::Error;
use crate::http::csrf::CsrfState;
use crate::sessions::Session;

/// The session key holding the logged-in user's id (Django's name).
pub(crate) const USER_ID_KEY: &str = "_auth_user_id";
/// The session key holding the user's session auth hash (Django's name).
pub(crate) const HASH_KEY: &str = "_auth_user_hash";

/// The user making the request — logged in or anonymous — and the means to
/// log in and out. A handler argument; loaded once per request (one query
/// for the user, one more the first time permissions are asked).
///
/// A session whose user was deleted, made inactive, or changed password
/// elsewhere is treated as anonymous and flushed.
#[derive(Clone)]
pub struct CurrentUser(Arc<RequestAuth>);

struct RequestAuth {
    auth: Auth,
    db: Database,
    session: Session,
    csrf: Option<CsrfState>,
    user: Mutex<Option<User>>,
    permissions: tokio::sync::Mutex<Option<Arc<HashSet<String>>>>,
}

impl std::fmt::Debug for CurrentUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CurrentUser")
            .field(&self.user().map(|u| u.username))
            .finish()
    }
}

/// Where a request's `CurrentUser` is kept once loaded, shared by the
/// handler's extractors and the auth layer (for templates).
#[derive(Clone, Default)]
pub(crate) struct UserSlot(pub(crate) Arc<tokio::sync::OnceCell<CurrentUser>>);

impl CurrentUser {
    /// Loads the session's user.
    pub(crate) async fn load(
        auth: Auth,
        db: Database,
        session: Session,
        csrf: Option<CsrfState>,
    ) -> Result<CurrentUser, Error> {
        session.load().await;
        let user = match session.get::<String>(USER_ID_KEY) {
            None => None,
            Some(id) => {
                let found = match id.parse::<i64>() {
                    Ok(id) => User::objects().filter(User::ID.eq(id)).first(&db).await?,
                    Err(_) => None,
                };
                let hash = session.get::<String>(HASH_KEY).unwrap_or_default();
                match found {
                    Some(user) if user.is_active && auth.session_hash_matches(&user, &hash) => {
                        let current = auth.session_auth_hash(&user);
                        if !crate::crypto::constant_time_eq(current.as_bytes(), hash.as_bytes()) {
                            // Verified with a rotated-out key: re-sign under
                            // the current one (Django does the same), so
                            // dropping the old key later keeps her logged in.
                            session.cycle_key();
                            session.insert(HASH_KEY, current)?;
                        }
                        Some(user)
                    }
                    _ => {
                        // Deleted, deactivated or password changed: out.
                        session.flush();
                        None
                    }
                }
            }
        };
        Ok(CurrentUser(Arc::new(RequestAuth {
            auth,
            db,
            session,
            csrf,
            user: Mutex::new(user),
            permissions: tokio::sync::Mutex::new(None),
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<User>> {
        self.0
            .user
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The logged-in user, or `None` for an anonymous visitor.
    pub fn user(&self) -> Option<User> {
        self.lock().clone()
    }

    /// Whether someone is logged in.
    pub fn is_authenticated(&self) -> bool {
        self.lock().is_some()
    }

    /// The user's key, when logged in.
    pub fn id(&self) -> Option<i64> {
        self.lock().as_ref().and_then(|u| u.id.get())
    }

    /// The username (empty for anonymous visitors).
    pub fn username(&self) -> String {
        self.lock()
            .as_ref()
            .map(|u| u.username.clone())
            .unwrap_or_default()
    }

    /// Whether the user is staff (may use the admin).
    pub fn is_staff(&self) -> bool {
        self.lock().as_ref().is_some_and(|u| u.is_staff)
    }

    /// Whether the user is a superuser.
    pub fn is_superuser(&self) -> bool {
        self.lock().as_ref().is_some_and(|u| u.is_superuser)
    }

    /// The auth configuration.
    pub fn auth(&self) -> &Auth {
        &self.0.auth
    }

    /// The request's session.
    pub fn session(&self) -> &Session {
        &self.0.session
    }

    /// Every permission the user has, as `app_label.codename`, given
    /// directly or through a group; loaded once per request. Empty for
    /// anonymous visitors (superusers pass [`has_perm`](Self::has_perm)
    /// without being listed).
    ///
    /// # Errors
    /// Database errors.
    pub async fn permissions(&self) -> Result<Arc<HashSet<String>>, Error> {
        let mut cached = self.0.permissions.lock().await;
        if let Some(permissions) = &*cached {
            return Ok(permissions.clone());
        }
        let permissions = match self.id() {
            None => HashSet::new(),
            Some(id) => user_permissions(&self.0.db, id).await?,
        };
        let permissions = Arc::new(permissions);
        *cached = Some(permissions.clone());
        Ok(permissions)
    }

    /// Whether the user has `perm` (`"polls.change_question"`): active
    /// superusers have every permission; others need it directly or
    /// through a group. Anonymous visitors have none.
    ///
    /// # Errors
    /// Database errors.
    pub async fn has_perm(&self, perm: &str) -> Result<bool, Error> {
        if !self.is_authenticated() {
            return Ok(false);
        }
        if self.is_superuser() {
            return Ok(true);
        }
        Ok(self.permissions().await?.contains(perm))
    }

    /// Whether the user has every one of `perms`.
    ///
    /// # Errors
    /// Database errors.
    pub async fn has_perms(&self, perms: &[&str]) -> Result<bool, Error> {
        for perm in perms {
            if !self.has_perm(perm).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether the user has any permission in app `app_label` (what the
    /// admin index asks before listing an app).
    ///
    /// # Errors
    /// Database errors.
    pub async fn has_module_perms(&self, app_label: &str) -> Result<bool, Error> {
        if !self.is_authenticated() {
            return Ok(false);
        }
        if self.is_superuser() {
            return Ok(true);
        }
        let prefix = format!("{app_label}.");
        Ok(self
            .permissions()
            .await?
            .iter()
            .any(|p| p.starts_with(&prefix)))
    }

    /// Logs `user` in for this session (Django's `login`): the session key
    /// changes (a key known before login is worthless after it, so no
    /// session fixation), or the session is emptied when it belonged to
    /// someone else; the CSRF secret is renewed; `last_login` is saved.
    ///
    /// # Errors
    /// An unsaved user, or a database error.
    pub async fn login(&self, user: &mut User) -> Result<(), Error> {
        let id = user
            .id
            .get()
            .ok_or_else(|| Error::msg("login needs a saved user (save it first)"))?;
        let session = &self.0.session;
        let hash = self.0.auth.session_auth_hash(user);
        let same_user = session.get::<String>(USER_ID_KEY) == Some(id.to_string())
            && session
                .get::<String>(HASH_KEY)
                .is_some_and(|h| self.0.auth.session_hash_matches(user, &h));
        if session.contains_key(USER_ID_KEY) && !same_user {
            session.flush();
        } else {
            session.cycle_key();
        }
        session.insert(USER_ID_KEY, id.to_string())?;
        session.insert(HASH_KEY, hash)?;
        if let Some(csrf) = &self.0.csrf {
            csrf.rotate();
        }
        let now = Utc::now();
        user.last_login = Some(now);
        User::objects()
            .filter(User::ID.eq(id))
            .update(&self.0.db, [User::LAST_LOGIN.set(Some(now))])
            .await?;
        *self.lock() = Some(user.clone());
        *self.0.permissions.lock().await = None;
        Ok(())
    }

    /// Logs out (Django's `logout`): the session is emptied and forgotten
    /// in the store, its cookie removed.
    pub async fn logout(&self) {
        self.0.session.flush();
        *self.lock() = None;
        *self.0.permissions.lock().await = None;
    }

    /// After the logged-in user changed their own password: keeps this
    /// session logged in (other sessions of the user end). Django's
    /// `update_session_auth_hash`.
    ///
    /// # Errors
    /// When the session cannot store the new hash.
    pub fn update_session_auth_hash(&self, user: &User) -> Result<(), Error> {
        if self.id() == user.id.get() {
            self.0.session.cycle_key();
            self.0
                .session
                .insert(HASH_KEY, self.0.auth.session_auth_hash(user))?;
            *self.lock() = Some(user.clone());
        }
        Ok(())
    }
}

/// Every permission of the user whose id is `user_id`, as
/// `app_label.codename`, given directly or through a group (superuser
/// status not considered: check `is_superuser` first). What
/// [`CurrentUser::permissions`] loads, for users authenticated otherwise
/// (an API token).
///
/// # Errors
/// Database errors.
pub async fn user_permissions(db: &Database, user_id: i64) -> Result<HashSet<String>, Error> {
    let direct = User::USER_PERMISSIONS.reverse_any(User::ID.eq(user_id));
    let through_groups =
        Group::PERMISSIONS.reverse_any(User::GROUPS.reverse_any(User::ID.eq(user_id)));
    Ok(Permission::objects()
        .filter(direct | through_groups)
        .values((Permission::APP_LABEL, Permission::CODENAME))
        .all(db)
        .await?
        .into_iter()
        .map(|(app, codename)| format!("{app}.{codename}"))
        .collect())
}

/// Builds (once per request) the request's `CurrentUser`.
pub(crate) async fn current_user(parts: &mut Parts) -> Result<CurrentUser, Error> {
    if let Some(user) = parts.extensions.get::<CurrentUser>() {
        return Ok(user.clone());
    }
    let slot = parts
        .extensions
        .get::<UserSlot>()
        .cloned()
        .unwrap_or_default();
    let context = AppContext::from_request_parts(parts, &()).await?;
    let auth = context.get::<Auth>().cloned().ok_or_else(not_installed)?;
    let db = context.get::<Database>().cloned().ok_or_else(|| {
        Error::msg("the auth app needs a database: set DATABASE_URL (e.g. sqlite://db.sqlite3)")
    })?;
    let session = parts.extensions.get::<Session>().cloned().ok_or_else(|| {
        Error::msg("the auth app needs sessions: add `.app(estate::sessions::app())`")
    })?;
    let csrf = CsrfState::from_extensions(&parts.extensions).cloned();
    let user = slot
        .0
        .get_or_try_init(|| CurrentUser::load(auth, db, session, csrf))
        .await?
        .clone();
    parts.extensions.insert(user.clone());
    Ok(user)
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        current_user(parts).await
    }
}
