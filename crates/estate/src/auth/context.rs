//! `user` and `perms` in templates: the auth layer adds them to every
//! template page (Django's `auth` context processor).
//!
//! ```text
//! {% if user.is_authenticated %}Hello, {{ user.username }}{% endif %}
//! {% if perms.polls %}You may do something in polls.{% endif %}
//! {% if perms.polls.change_question %}<a href="...">Edit</a>{% endif %}
//! {% if "polls.delete_question" in perms %}...{% endif %}
//! ```

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http::Request;
use minijinja::Value;
use minijinja::value::{Object, ObjectRepr};
use tower::{Layer, Service};

use super::Auth;
use super::current_user::{CurrentUser, UserSlot};
use crate::http::csrf::CsrfState;
use crate::sessions::Session;

/// The user as templates see it (never the password hash).
#[derive(serde::Serialize)]
struct UserContext {
    is_authenticated: bool,
    is_anonymous: bool,
    id: Option<i64>,
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    full_name: String,
    is_staff: bool,
    is_superuser: bool,
    is_active: bool,
}

impl UserContext {
    fn of(user: &CurrentUser) -> UserContext {
        match user.user() {
            Some(u) => UserContext {
                is_authenticated: true,
                is_anonymous: false,
                id: u.id.get(),
                full_name: u.full_name(),
                username: u.username,
                email: u.email,
                first_name: u.first_name,
                last_name: u.last_name,
                is_staff: u.is_staff,
                is_superuser: u.is_superuser,
                is_active: u.is_active,
            },
            None => UserContext {
                is_authenticated: false,
                is_anonymous: true,
                id: None,
                username: String::new(),
                email: String::new(),
                first_name: String::new(),
                last_name: String::new(),
                full_name: String::new(),
                is_staff: false,
                is_superuser: false,
                is_active: false,
            },
        }
    }
}

/// `perms`: `perms.app` (any permission in the app), `perms.app.codename`,
/// and `"app.codename" in perms`.
#[derive(Debug)]
struct Perms {
    all: bool,
    held: Arc<HashSet<String>>,
}

impl Object for Perms {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        if key.contains('.') {
            return (self.all || self.held.contains(key)).then(|| Value::from(true));
        }
        Some(Value::from_object(AppPerms {
            perms: self.clone(),
            app: key.to_owned(),
        }))
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
}

/// `perms.app`.
#[derive(Debug)]
struct AppPerms {
    perms: Arc<Perms>,
    app: String,
}

impl Object for AppPerms {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let perm = format!("{}.{}", self.app, key.as_str()?);
        (self.perms.all || self.perms.held.contains(&perm)).then(|| Value::from(true))
    }

    fn is_true(self: &Arc<Self>) -> bool {
        let prefix = format!("{}.", self.app);
        self.perms.all || self.perms.held.iter().any(|p| p.starts_with(&prefix))
    }
}

/// Shares the request's user between handlers and this layer, and adds
/// `user` and `perms` to template pages.
#[derive(Clone)]
pub(crate) struct AuthLayer {
    pub(crate) auth: Auth,
    pub(crate) db: estate_orm::Database,
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S> Service<Request<Body>> for AuthService<S>
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
        let slot = UserSlot::default();
        request.extensions_mut().insert(slot.clone());
        let session = request.extensions().get::<Session>().cloned();
        let csrf = CsrfState::from_extensions(request.extensions()).cloned();
        let layer = self.layer.clone();
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut response = inner.call(request).await?;
            let is_page = response
                .extensions()
                .get::<crate::templates::PendingTemplate>()
                .is_some();
            let Some(session) = session.filter(|_| is_page) else {
                return Ok(response);
            };
            let loaded = slot
                .0
                .get_or_try_init(|| CurrentUser::load(layer.auth, layer.db, session, csrf))
                .await
                .cloned();
            let user = match loaded {
                Ok(user) => user,
                Err(err) => return Ok(err.into_response()),
            };
            let perms = if user.is_superuser() {
                Perms {
                    all: true,
                    held: Arc::default(),
                }
            } else {
                match user.permissions().await {
                    Ok(held) => Perms { all: false, held },
                    Err(err) => return Ok(err.into_response()),
                }
            };
            crate::templates::ExtraContext::add(&mut response, "user", UserContext::of(&user));
            crate::templates::ExtraContext::add_value(
                &mut response,
                "perms",
                Value::from_object(perms),
            );
            Ok(response)
        })
    }
}
