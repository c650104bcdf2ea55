//! Guards: handler arguments ([`LoginRequired`], [`StaffRequired`],
//! [`PermissionRequired`]) and route layers ([`login_required`],
//! [`staff_required`], [`permission_required`]) that let a request through
//! only for the right users. Anonymous visitors are sent to the login page
//! with `?next=` (the page they asked for); logged-in users without the
//! right get 403.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::future::BoxFuture;
use http::Request;
use http::request::Parts;
use tower::{Layer, Service};

use super::current_user::{CurrentUser, current_user};
use crate::error::Error;

/// A permission for [`PermissionRequired`]; declare one with
/// [`permission!`](crate::auth::permission).
pub trait RequiredPermission: Send + Sync + 'static {
    /// `app_label.codename`.
    const PERMISSION: &'static str;
}

/// The redirect to the login page, coming back to this request's path.
fn to_login(parts: &Parts, user: &CurrentUser) -> Response {
    let next = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let login_url = &user.auth().settings().login_url;
    let encoded: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    let separator = if login_url.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{login_url}{separator}next={encoded}")).into_response()
}

fn forbidden(message: &'static str) -> Response {
    Error::forbidden(message).into_response()
}

/// What a guard decided.
async fn check(parts: &mut Parts, rule: &Rule) -> Result<CurrentUser, Response> {
    let user = current_user(parts)
        .await
        .map_err(IntoResponse::into_response)?;
    if !user.is_authenticated() {
        return Err(to_login(parts, &user));
    }
    match rule {
        Rule::LoggedIn => {}
        Rule::Staff => {
            if !user.is_staff() {
                return Err(forbidden("This page is for staff members only."));
            }
        }
        Rule::Permission(perm) => {
            let allowed = user
                .has_perm(perm)
                .await
                .map_err(IntoResponse::into_response)?;
            if !allowed {
                return Err(forbidden("You do not have permission to do this."));
            }
        }
    }
    Ok(user)
}

/// Who may pass.
#[derive(Clone, Debug)]
enum Rule {
    LoggedIn,
    Staff,
    Permission(Arc<str>),
}

/// A logged-in user (anonymous visitors are redirected to
/// `auth.login_url?next=...`). Django's `@login_required`.
#[derive(Clone, Debug)]
pub struct LoginRequired(pub CurrentUser);

impl<S: Send + Sync> FromRequestParts<S> for LoginRequired {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        check(parts, &Rule::LoggedIn).await.map(LoginRequired)
    }
}

/// A logged-in staff user (403 for others, the login page for anonymous
/// visitors). Django's `@staff_member_required`.
#[derive(Clone, Debug)]
pub struct StaffRequired(pub CurrentUser);

impl<S: Send + Sync> FromRequestParts<S> for StaffRequired {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        check(parts, &Rule::Staff).await.map(StaffRequired)
    }
}

/// A logged-in user with permission `P` (403 for others, the login page
/// for anonymous visitors). Django's `@permission_required`.
pub struct PermissionRequired<P: RequiredPermission>(pub CurrentUser, PhantomData<P>);

impl<P: RequiredPermission> std::fmt::Debug for PermissionRequired<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PermissionRequired")
            .field(&P::PERMISSION)
            .field(&self.0)
            .finish()
    }
}

impl<P: RequiredPermission> PermissionRequired<P> {
    /// The user who has the permission.
    pub fn user(&self) -> &CurrentUser {
        &self.0
    }
}

impl<S: Send + Sync, P: RequiredPermission> FromRequestParts<S> for PermissionRequired<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        let user = check(parts, &Rule::Permission(Arc::from(P::PERMISSION))).await?;
        Ok(PermissionRequired(user, PhantomData))
    }
}

/// A route layer letting only logged-in users through:
/// `get(account).layer(login_required())`.
pub fn login_required() -> GuardLayer {
    GuardLayer(Rule::LoggedIn)
}

/// A route layer letting only staff through.
pub fn staff_required() -> GuardLayer {
    GuardLayer(Rule::Staff)
}

/// A route layer letting only users with `perm` through:
/// `post(edit).layer(permission_required("polls.change_question"))`.
pub fn permission_required(perm: &str) -> GuardLayer {
    GuardLayer(Rule::Permission(Arc::from(perm)))
}

/// A guard as a tower layer, for routes, route groups or apps.
#[derive(Clone, Debug)]
pub struct GuardLayer(Rule);

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> GuardService<S> {
        GuardService {
            inner,
            rule: self.0.clone(),
        }
    }
}

/// The service of a [`GuardLayer`].
#[derive(Clone, Debug)]
pub struct GuardService<S> {
    inner: S,
    rule: Rule,
}

impl<S> Service<Request<Body>> for GuardService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let rule = self.rule.clone();
        let future: BoxFuture<'static, Result<Response, Infallible>> = Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match check(&mut parts, &rule).await {
                Ok(_) => inner.call(Request::from_parts(parts, body)).await,
                Err(refused) => Ok(refused),
            }
        });
        future
    }
}
