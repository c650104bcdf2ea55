//! One-time notices ("Your vote was saved."), as Django's
//! `django.contrib.messages`: a handler adds a message, typically before a
//! redirect, and the next page rendered with a template shows it, once.
//!
//! ```
//! use estate::prelude::*;
//! use estate::messages::Messages;
//!
//! async fn vote(messages: Messages) -> Redirect {
//!     messages.success("Thanks for voting.");
//!     Redirect::to("/polls/")
//! }
//! ```
//!
//! ```text
//! {% for message in messages %}
//!   <p class="{{ message.tags }}">{{ message }}</p>
//! {% endfor %}
//! ```
//!
//! Install the app with `.app(estate::messages::app())`. Messages are kept
//! in the session when the sessions app is installed, else in a signed
//! cookie (`messages`, HttpOnly). They count as shown when a page is
//! rendered from a template (every template gets `messages`) or when a
//! handler takes them with [`Messages::take`]; until then they wait,
//! through redirects. Debug messages are dropped unless
//! `messages.level = "debug"`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::Response;
use futures_util::future::BoxFuture;
use http::request::Parts;
use http::{HeaderValue, Request};
use minijinja::value::{Object, Value};
use serde::{Deserialize, Serialize};
use tower::{Layer, Service};

use crate::app_module::AppModule;
use crate::error::Error;
use crate::sessions::Session;
use crate::signing::TimestampSigner;

/// How important a message is (Django's levels and tags).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Development notes (dropped unless `messages.level = "debug"`).
    Debug,
    /// Information.
    Info,
    /// An action succeeded.
    Success,
    /// Something to be careful about.
    Warning,
    /// An action failed.
    Error,
}

impl Level {
    /// Django's tag: `debug`, `info`, `success`, `warning`, `error`.
    pub fn tag(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Success => "success",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }

    /// Django's number for the level (10 to 40).
    pub fn number(self) -> u8 {
        match self {
            Level::Debug => 10,
            Level::Info => 20,
            Level::Success => 25,
            Level::Warning => 30,
            Level::Error => 40,
        }
    }
}

/// One message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Its level.
    pub level: Level,
    /// The text (escaped when shown, like any template value).
    pub message: String,
    /// Extra CSS classes, shown before the level's tag in `tags`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub extra_tags: String,
}

impl Message {
    /// `extra_tags` and the level's tag, as CSS classes.
    pub fn tags(&self) -> String {
        if self.extra_tags.is_empty() {
            self.level.tag().to_owned()
        } else {
            format!("{} {}", self.extra_tags, self.level.tag())
        }
    }
}

impl Object for Message {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "message" => Some(Value::from(self.message.clone())),
            "level" => Some(Value::from(self.level.number())),
            "level_tag" => Some(Value::from(self.level.tag())),
            "tags" => Some(Value::from(self.tags())),
            "extra_tags" => Some(Value::from(self.extra_tags.clone())),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The session key holding waiting messages.
const SESSION_KEY: &str = "_messages";
/// The cookie holding waiting messages when there are no sessions.
const COOKIE_NAME: &str = "messages";
/// The signing salt of that cookie.
const COOKIE_SALT: &str = "estate.messages";
/// The most a messages cookie may hold; the oldest messages are dropped
/// beyond it (Django's `max_cookie_size`).
const MAX_COOKIE_SIZE: usize = 2048;

/// The `[messages]` section of `estate.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MessagesSettings {
    /// The least important level kept: `"info"` (default) drops debug
    /// messages.
    pub level: Level,
}

impl Default for MessagesSettings {
    fn default() -> Self {
        MessagesSettings { level: Level::Info }
    }
}

#[derive(Default)]
struct State {
    /// Waiting from earlier requests (None: not read yet).
    stored: Option<Vec<Message>>,
    /// Added by this request.
    added: Vec<Message>,
    /// Shown or taken: the storage is emptied.
    consumed: bool,
}

/// The request's messages: add some for the next page, or take the waiting
/// ones. A handler argument.
#[derive(Clone)]
pub struct Messages(Arc<Shared>);

struct Shared {
    config: Arc<Config>,
    session: Option<Session>,
    /// The request's messages cookie, when there are no sessions.
    cookie: Option<String>,
    state: Mutex<State>,
}

struct Config {
    level: Level,
    signer: TimestampSigner,
    secure: bool,
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Messages(..)")
    }
}

impl Messages {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a message for the next page (dropped below `messages.level`).
    pub fn add(&self, level: Level, message: impl Into<String>) {
        self.add_with_tags(level, message, "");
    }

    /// Adds a message with extra CSS classes.
    pub fn add_with_tags(&self, level: Level, message: impl Into<String>, extra_tags: &str) {
        if level < self.0.config.level {
            return;
        }
        self.state().added.push(Message {
            level,
            message: message.into(),
            extra_tags: extra_tags.to_owned(),
        });
    }

    /// A debug message.
    pub fn debug(&self, message: impl Into<String>) {
        self.add(Level::Debug, message);
    }

    /// An information message.
    pub fn info(&self, message: impl Into<String>) {
        self.add(Level::Info, message);
    }

    /// A success message.
    pub fn success(&self, message: impl Into<String>) {
        self.add(Level::Success, message);
    }

    /// A warning.
    pub fn warning(&self, message: impl Into<String>) {
        self.add(Level::Warning, message);
    }

    /// An error message.
    pub fn error(&self, message: impl Into<String>) {
        self.add(Level::Error, message);
    }

    /// Reads the waiting messages from their storage, once.
    async fn load(&self) {
        if self.state().stored.is_some() {
            return;
        }
        let stored = match &self.0.session {
            Some(session) => {
                session.load().await;
                session.get::<Vec<Message>>(SESSION_KEY).unwrap_or_default()
            }
            None => self
                .0
                .cookie
                .as_deref()
                .and_then(|c| self.0.config.signer.unsign_object(c, None).ok())
                .unwrap_or_default(),
        };
        let mut state = self.state();
        if state.stored.is_none() {
            state.stored = Some(stored);
        }
    }

    /// Every message, waiting and new, marked as shown (they will not
    /// appear again).
    pub async fn take(&self) -> Vec<Message> {
        self.load().await;
        let mut state = self.state();
        state.consumed = true;
        let mut all = state.stored.take().unwrap_or_default();
        all.append(&mut state.added);
        state.stored = Some(Vec::new());
        all
    }

    /// Saves what is still waiting, after the handler.
    async fn finish(&self, mut response: Response) -> Response {
        let is_page = response
            .extensions()
            .get::<crate::templates::PendingTemplate>()
            .is_some();
        if is_page {
            let shown: Vec<Value> = self
                .take()
                .await
                .into_iter()
                .map(Value::from_object)
                .collect();
            crate::templates::ExtraContext::add_value(
                &mut response,
                "messages",
                Value::from(shown),
            );
        }
        let changed = {
            let state = self.state();
            state.consumed || !state.added.is_empty()
        };
        if !changed {
            return response;
        }
        // What still waits: the stored ones (none once taken) and the new.
        self.load().await;
        let pending = {
            let mut state = self.state();
            let mut all = state.stored.take().unwrap_or_default();
            all.append(&mut state.added);
            all
        };
        match &self.0.session {
            Some(session) => {
                if pending.is_empty() {
                    session.remove(SESSION_KEY);
                } else if let Err(err) = session.insert(SESSION_KEY, &pending) {
                    tracing::error!(target: "estate::messages", "cannot store messages: {err}");
                }
            }
            None => self.set_cookie(&mut response, pending),
        }
        response
    }

    fn set_cookie(&self, response: &mut Response, mut pending: Vec<Message>) {
        let secure = if self.0.config.secure { "; Secure" } else { "" };
        let header = if pending.is_empty() {
            if self.0.cookie.is_none() {
                return;
            }
            format!("{COOKIE_NAME}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax{secure}")
        } else {
            let mut value = self.0.config.signer.sign_object(&pending, true);
            // Too big for a cookie: the oldest go first (as in Django),
            // down to none if one message alone is too big.
            while value.len() > MAX_COOKIE_SIZE && !pending.is_empty() {
                pending.remove(0);
                tracing::warn!(target: "estate::messages", "a message was dropped: the messages cookie holds at most {MAX_COOKIE_SIZE} bytes");
                value = self.0.config.signer.sign_object(&pending, true);
            }
            if pending.is_empty() {
                if self.0.cookie.is_none() {
                    return;
                }
                format!("{COOKIE_NAME}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax{secure}")
            } else {
                format!("{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax{secure}")
            }
        };
        if let Ok(value) = HeaderValue::from_str(&header) {
            response
                .headers_mut()
                .append(http::header::SET_COOKIE, value);
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Messages {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        parts.extensions.get::<Messages>().cloned().ok_or_else(|| {
            Error::msg("messages are not installed: add `.app(estate::messages::app())` to the App")
        })
    }
}

/// The messages app: the `[messages]` settings and the middleware that
/// keeps messages between requests and shows them in templates.
pub fn app() -> AppModule {
    AppModule::new("messages")
        .settings::<MessagesSettings>("messages")
        .on_startup(|mut startup| async move {
            let config = Config {
                level: startup.settings().section::<MessagesSettings>().level,
                signer: TimestampSigner::from_settings(startup.settings(), COOKIE_SALT),
                secure: startup.settings().security.session_cookie_secure,
            };
            startup.provide(MessagesLayer(Arc::new(config)));
            Ok(startup)
        })
}

/// The middleware of the messages app.
#[derive(Clone)]
pub(crate) struct MessagesLayer(Arc<Config>);

impl<S> Layer<S> for MessagesLayer {
    type Service = MessagesService<S>;

    fn layer(&self, inner: S) -> MessagesService<S> {
        MessagesService {
            inner,
            config: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct MessagesService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> Service<Request<Body>> for MessagesService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let session = request.extensions().get::<Session>().cloned();
        let cookie = match session {
            Some(_) => None,
            None => crate::http::cookies::request_cookie(request.headers(), COOKIE_NAME)
                .map(str::to_owned),
        };
        let messages = Messages(Arc::new(Shared {
            config: self.config.clone(),
            session,
            cookie,
            state: Mutex::new(State::default()),
        }));
        request.extensions_mut().insert(messages.clone());
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = inner.call(request).await?;
            Ok(messages.finish(response).await)
        })
    }
}
