//! The [`Session`] of a request: loaded when a handler asks for it, saved
//! after the response when it changed.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::header::{SET_COOKIE, VARY};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::store::{SessionData, SessionError};
use super::{SameSite, Sessions};
use crate::error::Error;

/// The data key holding a session's own expiry (Django's name).
const EXPIRY_KEY: &str = "_session_expiry";

/// How long a session lasts, for [`Session::set_expiry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionExpiry {
    /// The site's policy: `sessions.cookie_age`, or the browser's close
    /// when `sessions.expire_at_browser_close`.
    Default,
    /// This long after the last save.
    After(Duration),
    /// When the browser closes (a cookie without `Max-Age`); the store
    /// keeps it for `sessions.cookie_age`.
    AtBrowserClose,
}

/// The current request's session: typed values under string keys, kept
/// between requests by the configured store and found again through the
/// session cookie. A handler argument; changes are saved after the handler
/// returns, only when something changed.
///
/// ```
/// use estate::prelude::*;
/// use estate::sessions::Session;
///
/// async fn visits(session: Session) -> estate::Result<String> {
///     let visits: u32 = session.get("visits").unwrap_or(0) + 1;
///     session.insert("visits", visits)?;
///     Ok(format!("Visit number {visits}"))
/// }
/// ```
#[derive(Clone)]
pub struct Session(Arc<Shared>);

struct Shared {
    sessions: Sessions,
    /// The session cookie's value in the request, if any.
    cookie: Option<String>,
    state: tokio::sync::OnceCell<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// The store's value for this session (None: not stored yet).
    key: Option<String>,
    data: SessionData,
    modified: bool,
    /// Values to delete from the store after the response (old keys of a
    /// cycled or flushed session).
    stale: Vec<String>,
    /// The store failed when loading: leave the cookie alone.
    unavailable: bool,
    /// `flush` was called: the cookie goes, whatever the store said.
    flushed: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Session(..)")
    }
}

impl Session {
    pub(crate) fn new(sessions: Sessions, cookie: Option<String>) -> Session {
        Session(Arc::new(Shared {
            sessions,
            cookie,
            state: tokio::sync::OnceCell::new(),
        }))
    }

    /// Reads the session from the store, once per request. A store that
    /// cannot be reached gives an empty session (the user appears logged
    /// out) and a logged warning, never an error page.
    pub async fn load(&self) {
        self.0
            .state
            .get_or_init(|| async {
                let store = self.0.sessions.store();
                let Some(cookie) = self.0.cookie.as_deref().filter(|c| store.accepts(c)) else {
                    return Mutex::new(State::default());
                };
                match store.load(cookie).await {
                    Ok(Some(data)) => Mutex::new(State {
                        key: Some(cookie.to_owned()),
                        data,
                        ..State::default()
                    }),
                    Ok(None) => Mutex::new(State::default()),
                    Err(err) => {
                        tracing::warn!(target: "estate::sessions", "cannot load the session: {err}");
                        Mutex::new(State {
                            unavailable: true,
                            ..State::default()
                        })
                    }
                }
            })
            .await;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0
            .state
            .get()
            .expect("a Session is loaded when extracted (Session::load)")
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value under `key`, if there is one of type `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let value = self.state().data.get(key).cloned()?;
        serde_json::from_value(value).ok()
    }

    /// The raw JSON value under `key`.
    pub fn get_value(&self, key: &str) -> Option<serde_json::Value> {
        self.state().data.get(key).cloned()
    }

    /// Stores `value` under `key`.
    ///
    /// # Errors
    /// When `value` cannot be written as JSON (a map with non-string keys).
    pub fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), Error> {
        let value = serde_json::to_value(value).map_err(|err| {
            Error::internal(std::io::Error::other(format!(
                "the session value for {key:?} cannot be stored as JSON: {err}"
            )))
        })?;
        let mut state = self.state();
        state.data.insert(key.to_owned(), value);
        state.modified = true;
        Ok(())
    }

    /// Removes `key`, returning its value.
    pub fn remove(&self, key: &str) -> Option<serde_json::Value> {
        let mut state = self.state();
        let removed = state.data.remove(key);
        state.modified |= removed.is_some();
        removed
    }

    /// Whether `key` holds a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.state().data.contains_key(key)
    }

    /// The keys in use.
    pub fn keys(&self) -> Vec<String> {
        self.state().data.keys().cloned().collect()
    }

    /// Whether the session holds nothing.
    pub fn is_empty(&self) -> bool {
        self.state().data.is_empty()
    }

    /// Removes every value, keeping the session (and its key).
    pub fn clear(&self) {
        let mut state = self.state();
        state.modified |= !state.data.is_empty();
        state.data.clear();
    }

    /// Empties the session and forgets it in the store; the cookie is
    /// removed (logout). Django's `flush`.
    pub fn flush(&self) {
        let mut state = self.state();
        state.data.clear();
        match state.key.take() {
            Some(key) => state.stale.push(key),
            // Not loaded (the store was down): still forget what the
            // cookie names, so a logout is never only pretended.
            None if state.unavailable => {
                if let Some(cookie) = self.0.cookie.clone() {
                    state.stale.push(cookie);
                }
            }
            None => {}
        }
        state.modified = true;
        state.flushed = true;
    }

    /// Keeps the data under a new key and forgets the old one, so a key
    /// known before login is worthless after it (no session fixation).
    /// Django's `cycle_key`.
    pub fn cycle_key(&self) {
        let mut state = self.state();
        if let Some(key) = state.key.take() {
            state.stale.push(key);
        }
        state.modified = true;
    }

    /// Marks the session as changed, so it is saved (after changing a
    /// value in place through [`Session::get_value`] and `insert`).
    pub fn mark_modified(&self) {
        self.state().modified = true;
    }

    /// Sets how long this session lasts.
    pub fn set_expiry(&self, expiry: SessionExpiry) {
        let mut state = self.state();
        match expiry {
            SessionExpiry::Default => {
                state.data.remove(EXPIRY_KEY);
            }
            SessionExpiry::After(age) => {
                state
                    .data
                    .insert(EXPIRY_KEY.to_owned(), age.as_secs().max(1).into());
            }
            SessionExpiry::AtBrowserClose => {
                state.data.insert(EXPIRY_KEY.to_owned(), 0.into());
            }
        }
        state.modified = true;
    }

    /// How long the session lasts from now.
    pub fn expiry_age(&self) -> Duration {
        expiry_age(&self.0.sessions, &self.state().data)
    }

    /// Whether the session cookie ends with the browser session.
    pub fn expires_at_browser_close(&self) -> bool {
        expires_at_browser_close(&self.0.sessions, &self.state().data)
    }

    /// The session's key in the store, once it has one (not for the
    /// signed-cookie store, whose cookie is the data).
    pub fn key(&self) -> Option<String> {
        self.state().key.clone()
    }

    /// Saves the session if it changed and sets or removes the cookie on
    /// `response` (the session layer calls this after the handler).
    pub(crate) async fn finish(&self, mut response: Response) -> Response {
        let Some(state) = self.0.state.get() else {
            return response;
        };
        let sessions = &self.0.sessions;
        let settings = sessions.settings();
        // The page depends on the cookie: caches must not share it.
        add_vary_cookie(response.headers_mut());
        let state = {
            let mut state = state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            std::mem::take(&mut *state)
        };
        let State {
            key,
            data,
            modified,
            stale,
            unavailable,
            flushed,
        } = state;
        let store = sessions.store();
        let mut forgotten = true;
        for old in stale.iter().filter(|old| store.accepts(old)) {
            if let Err(err) = store.delete(old).await {
                tracing::error!(target: "estate::sessions", "cannot delete a session: {err}");
                forgotten = false;
            }
        }
        if data.is_empty() {
            if let Some(key) = &key
                && modified
                && let Err(err) = store.delete(key).await
            {
                tracing::error!(target: "estate::sessions", "cannot delete a session: {err}");
                forgotten = false;
            }
            if flushed && !forgotten {
                // The cookie goes from this browser, but a copy of it would
                // still work: say so rather than confirm a logout.
                let mut refused = Error::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The session could not be ended. Please try again shortly.",
                )
                .into_response();
                append_cookie(&mut refused, &removal_cookie(sessions));
                return refused;
            }
            if self.0.cookie.is_some() && (!unavailable || flushed) {
                append_cookie(&mut response, &removal_cookie(sessions));
            }
            return response;
        }
        if !(modified || settings.save_every_request) || response.status().is_server_error() {
            return response;
        }
        let age = expiry_age(sessions, &data);
        match store.save(key.as_deref(), &data, age).await {
            Ok(value) => {
                let max_age = (!expires_at_browser_close(sessions, &data)).then_some(age);
                let cookie = session_cookie(sessions, &value, max_age);
                if cookie.len() > 4096 {
                    tracing::error!(
                        target: "estate::sessions",
                        "the session cookie is {} bytes, more than browsers keep (4096): store \
                         less in the session or use another sessions.engine",
                        cookie.len()
                    );
                }
                append_cookie(&mut response, &cookie);
                response
            }
            Err(SessionError::Interrupted) => {
                Error::bad_request(SessionError::Interrupted.to_string()).into_response()
            }
            Err(err) => {
                tracing::error!(target: "estate::sessions", "cannot save the session: {err}");
                Error::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The session could not be saved. Please try again shortly.",
                )
                .into_response()
            }
        }
    }
}

fn expires_at_browser_close(sessions: &Sessions, data: &SessionData) -> bool {
    match data.get(EXPIRY_KEY).and_then(serde_json::Value::as_u64) {
        Some(seconds) => seconds == 0,
        None => sessions.settings().expire_at_browser_close,
    }
}

fn expiry_age(sessions: &Sessions, data: &SessionData) -> Duration {
    match data.get(EXPIRY_KEY).and_then(serde_json::Value::as_u64) {
        Some(seconds) if seconds > 0 => Duration::from_secs(seconds),
        _ => Duration::from_secs(sessions.settings().cookie_age),
    }
}

fn cookie_attributes(sessions: &Sessions) -> String {
    let settings = sessions.settings();
    let mut attributes = format!("; Path={}", settings.cookie_path);
    if let Some(domain) = &settings.cookie_domain {
        attributes.push_str(&format!("; Domain={domain}"));
    }
    if settings.cookie_httponly {
        attributes.push_str("; HttpOnly");
    }
    attributes.push_str(match settings.cookie_samesite {
        SameSite::Lax => "; SameSite=Lax",
        SameSite::Strict => "; SameSite=Strict",
        SameSite::None => "; SameSite=None",
    });
    if sessions.secure() {
        attributes.push_str("; Secure");
    }
    attributes
}

fn session_cookie(sessions: &Sessions, value: &str, max_age: Option<Duration>) -> String {
    let mut cookie = format!("{}={value}", sessions.settings().cookie_name);
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    cookie.push_str(&cookie_attributes(sessions));
    cookie
}

fn removal_cookie(sessions: &Sessions) -> String {
    format!(
        "{}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT{}",
        sessions.settings().cookie_name,
        cookie_attributes(sessions)
    )
}

fn append_cookie(response: &mut Response, cookie: &str) {
    match HeaderValue::from_str(cookie) {
        Ok(value) => {
            response.headers_mut().append(SET_COOKIE, value);
        }
        Err(_) => tracing::error!(target: "estate::sessions", "invalid session cookie header"),
    }
}

fn add_vary_cookie(headers: &mut http::HeaderMap) {
    let has_it = headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("cookie") || v.trim() == "*");
    if !has_it {
        headers.append(VARY, HeaderValue::from_static("Cookie"));
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            Error::msg("sessions are not installed: add `.app(estate::sessions::app())` to the App")
        })?;
        session.load().await;
        Ok(session)
    }
}
