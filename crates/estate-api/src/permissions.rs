//! Permission policies: who may call an endpoint (Django REST Framework's
//! permission classes).
//!
//! | policy                          | allows                                              |
//! |---------------------------------|-----------------------------------------------------|
//! | [`AllowAny`]                    | everyone                                            |
//! | [`IsAuthenticated`]             | authenticated users                                 |
//! | [`IsAuthenticatedOrReadOnly`]   | everyone to read; authenticated users to write      |
//! | [`ModelPermissions`]            | authenticated users, writes need `add_`/`change_`/`delete_` of the model (Django's `DjangoModelPermissions`) |
//! | your own                        | implement [`Permission`], or pass a closure to [`permission_fn`] |
//!
//! A refusal is 401 for an anonymous caller (with `WWW-Authenticate`), 403
//! for an authenticated one.

pub use futures_util::future::BoxFuture;
use http::Method;

use crate::auth::ApiUser;

/// What a policy sees of a request.
#[derive(Debug)]
#[non_exhaustive]
pub struct PermissionRequest<'a> {
    /// The HTTP method.
    pub method: &'a Method,
    /// The caller.
    pub user: &'a ApiUser,
    /// The app label of the resource's model (for permission names).
    pub app_label: &'a str,
    /// The model's name, lowercase (`question`).
    pub model: &'a str,
}

impl PermissionRequest<'_> {
    /// Whether the method only reads (GET, HEAD, OPTIONS).
    pub fn is_read(&self) -> bool {
        matches!(*self.method, Method::GET | Method::HEAD | Method::OPTIONS)
    }
}

/// A permission policy.
pub trait Permission: Send + Sync + 'static {
    /// Whether the request may go on.
    fn has_permission<'a>(
        &'a self,
        request: &'a PermissionRequest<'a>,
    ) -> BoxFuture<'a, Result<bool, estate::Error>>;

    /// Whether the policy lets anonymous callers read (the OpenAPI document
    /// then marks reads as not needing credentials).
    fn allows_anonymous_reads(&self) -> bool {
        false
    }

    /// Whether the policy lets anonymous callers write.
    fn allows_anonymous_writes(&self) -> bool {
        false
    }
}

/// Everyone may call.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAny;

impl Permission for AllowAny {
    fn has_permission<'a>(
        &'a self,
        _: &'a PermissionRequest<'a>,
    ) -> BoxFuture<'a, Result<bool, estate::Error>> {
        Box::pin(async { Ok(true) })
    }
    fn allows_anonymous_reads(&self) -> bool {
        true
    }
    fn allows_anonymous_writes(&self) -> bool {
        true
    }
}

/// Only authenticated users.
#[derive(Clone, Copy, Debug, Default)]
pub struct IsAuthenticated;

impl Permission for IsAuthenticated {
    fn has_permission<'a>(
        &'a self,
        request: &'a PermissionRequest<'a>,
    ) -> BoxFuture<'a, Result<bool, estate::Error>> {
        Box::pin(async move { Ok(request.user.is_authenticated()) })
    }
}

/// Everyone may read; only authenticated users may write.
#[derive(Clone, Copy, Debug, Default)]
pub struct IsAuthenticatedOrReadOnly;

impl Permission for IsAuthenticatedOrReadOnly {
    fn has_permission<'a>(
        &'a self,
        request: &'a PermissionRequest<'a>,
    ) -> BoxFuture<'a, Result<bool, estate::Error>> {
        Box::pin(async move { Ok(request.is_read() || request.user.is_authenticated()) })
    }
    fn allows_anonymous_reads(&self) -> bool {
        true
    }
}

/// Authenticated users; POST needs the model's `add_` permission, PUT and
/// PATCH `change_`, DELETE `delete_` (Django REST Framework's
/// `DjangoModelPermissions`). With [`ModelPermissions::view_required`],
/// reads need `view_` too.
#[derive(Clone, Copy, Debug, Default)]
pub struct ModelPermissions {
    view: bool,
}

impl ModelPermissions {
    /// Reads need the `view_` permission too.
    pub fn view_required() -> ModelPermissions {
        ModelPermissions { view: true }
    }
}

impl Permission for ModelPermissions {
    fn has_permission<'a>(
        &'a self,
        request: &'a PermissionRequest<'a>,
    ) -> BoxFuture<'a, Result<bool, estate::Error>> {
        Box::pin(async move {
            if !request.user.is_authenticated() {
                return Ok(false);
            }
            let action = match *request.method {
                Method::POST => "add",
                Method::PUT | Method::PATCH => "change",
                Method::DELETE => "delete",
                _ if self.view => "view",
                _ => return Ok(true),
            };
            let perm = format!("{}.{action}_{}", request.app_label, request.model);
            request.user.has_perm(&perm).await
        })
    }
}

/// A policy from a plain function of the request. Say what it lets
/// anonymous callers do with [`FnPermission::anonymous_reads`] and
/// [`FnPermission::anonymous_writes`], so the OpenAPI document marks those
/// operations as needing no credentials.
///
/// ```
/// use estate_api::permissions::{permission_fn, PermissionRequest};
/// // Only staff may write; everyone may read.
/// let staff_writes = permission_fn(|request: &PermissionRequest<'_>| {
///     request.is_read() || request.user.user().is_some_and(|u| u.is_staff)
/// })
/// .anonymous_reads();
/// ```
pub fn permission_fn<F>(check: F) -> FnPermission<F>
where
    F: Fn(&PermissionRequest<'_>) -> bool + Send + Sync + 'static,
{
    FnPermission {
        check,
        anonymous_reads: false,
        anonymous_writes: false,
    }
}

/// A policy made by [`permission_fn`].
pub struct FnPermission<F> {
    check: F,
    anonymous_reads: bool,
    anonymous_writes: bool,
}

impl<F> FnPermission<F> {
    /// The function lets anonymous callers read (for the docs).
    #[must_use]
    pub fn anonymous_reads(mut self) -> Self {
        self.anonymous_reads = true;
        self
    }

    /// The function lets anonymous callers write (for the docs).
    #[must_use]
    pub fn anonymous_writes(mut self) -> Self {
        self.anonymous_writes = true;
        self
    }
}

impl<F> Permission for FnPermission<F>
where
    F: Fn(&PermissionRequest<'_>) -> bool + Send + Sync + 'static,
{
    fn has_permission<'a>(
        &'a self,
        request: &'a PermissionRequest<'a>,
    ) -> BoxFuture<'a, Result<bool, estate::Error>> {
        let allowed = (self.check)(request);
        Box::pin(async move { Ok(allowed) })
    }
    fn allows_anonymous_reads(&self) -> bool {
        self.anonymous_reads
    }
    fn allows_anonymous_writes(&self) -> bool {
        self.anonymous_writes
    }
}
